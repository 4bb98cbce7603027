package io.dctun.appliance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;

/**
 * What the calling thread may do: its user id and Linux capability sets, as the kernel shows them
 * in {@code /proc/thread-self/status}. Capabilities belong to a thread, not to the process, and a
 * JVM has started many threads before {@code main} runs, so dctun never changes them itself: the
 * launcher ({@code dctun up --user}) or systemd starts the JVM with exactly {@link #NEEDED} (README,
 * "Least privilege"). This class only reads them: for the warning at start, for the status file,
 * and so that notify commands are started without them ({@link HaNotify}). Immutable.
 *
 * @param uid the real user id
 * @param effective CapEff
 * @param permitted CapPrm
 * @param inheritable CapInh
 * @param ambient CapAmb (0 on kernels without ambient capabilities)
 * @param bounding CapBnd
 * @param noNewPrivs whether no_new_privs is set (execve can never gain privileges)
 */
record Privileges(int uid, long effective, long permitted, long inheritable, long ambient, long bounding,
    boolean noNewPrivs) {
  static final int CAP_NET_ADMIN = 12;
  static final int CAP_NET_RAW = 13;
  /** All a running gateway needs: routes, addresses, VIPs and TUNSETIFF (NET_ADMIN), VRRP and ARP (NET_RAW). */
  static final long NEEDED = (1L << CAP_NET_ADMIN) | (1L << CAP_NET_RAW);

  /** capability(7) names by bit, without the CAP_ prefix, as setpriv and capsh spell them. */
  private static final String[] NAMES = {
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
  };

  /** The calling thread's, or empty where {@code /proc} cannot tell (not Linux, no /proc). */
  static Optional<Privileges> current() {
    for (String p : List.of("/proc/thread-self/status", "/proc/self/status")) {
      try {
        return Optional.of(parse(Files.readString(Path.of(p))));
      } catch (IOException | IllegalArgumentException e) {
        // try the next one; kernels before 3.17 have no thread-self
      }
    }
    return Optional.empty();
  }

  /** Parses the text of a {@code /proc/.../status} file. */
  static Privileges parse(String status) {
    int uid = -1;
    long eff = -1;
    long prm = -1;
    long inh = -1;
    long amb = 0;
    long bnd = -1;
    boolean nnp = false;
    for (String line : status.split("\n")) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      String key = line.substring(0, colon);
      String value = line.substring(colon + 1).strip();
      switch (key) {
        case "Uid" -> uid = Integer.parseInt(value.split("\\s+")[0]);
        case "CapEff" -> eff = Long.parseUnsignedLong(value, 16);
        case "CapPrm" -> prm = Long.parseUnsignedLong(value, 16);
        case "CapInh" -> inh = Long.parseUnsignedLong(value, 16);
        case "CapAmb" -> amb = Long.parseUnsignedLong(value, 16);
        case "CapBnd" -> bnd = Long.parseUnsignedLong(value, 16);
        case "NoNewPrivs" -> nnp = value.equals("1");
        default -> { }
      }
    }
    if (uid < 0 || eff == -1 || prm == -1 || inh == -1 || bnd == -1) {
      throw new IllegalArgumentException("no Uid and Cap lines in the status text");
    }
    return new Privileges(uid, eff, prm, inh, amb, bnd, nnp);
  }

  /** Effective capabilities beyond {@link #NEEDED}; 0 for a process started as README says. */
  long extra() {
    return effective & ~NEEDED;
  }

  /**
   * Whether a command started from this thread would inherit capabilities through the ambient
   * (or inheritable) set: then {@link HaNotify} starts it through {@code setpriv} with both cleared.
   * Not for uid 0, whose children are root anyway (the operator chose to run dctun as root).
   */
  boolean childrenInheritCapabilities() {
    return uid != 0 && (ambient != 0 || inheritable != 0);
  }

  /**
   * {@code net_admin,net_raw}; {@code none}; {@code all} for every capability this class knows,
   * and {@code all but sys_resource} for most of them (root in a container).
   */
  static String names(long mask) {
    if (mask == 0) {
      return "none";
    }
    long known = (1L << NAMES.length) - 1;
    if (Long.bitCount(mask & known) > NAMES.length / 2) {
      long missing = known & ~mask;
      return missing == 0 ? "all" : "all but " + list(missing);
    }
    return list(mask);
  }

  private static String list(long mask) {
    List<String> out = new ArrayList<>();
    for (int bit = 0; bit < 64; bit++) {
      if ((mask & (1L << bit)) != 0) {
        out.add(bit < NAMES.length ? NAMES[bit] : "cap_" + bit);
      }
    }
    return String.join(",", out);
  }

  /** {@code 0000000000003000}, as /proc prints a capability set. */
  static String hex(long mask) {
    return String.format(Locale.ROOT, "%016x", mask);
  }

  /**
   * At start of {@code dctun up}: one WARN line if this process holds more than it needs (root
   * with every capability, as tests and the demo run it), pointing to the README section.
   */
  void warnIfOverPrivileged(Logger log) {
    if (extra() != 0) {
      log.warn("WARNING: running as uid {} with capabilities {} (CapEff {}); a gateway needs only net_admin and "
          + "net_raw: see README, \"Least privilege\" (dctun up --user, packaging/dctun@.service)", uid,
          names(effective), hex(effective));
    }
  }
}
