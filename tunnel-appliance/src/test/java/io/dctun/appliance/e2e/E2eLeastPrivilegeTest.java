package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * README's "Least privilege", end to end: site B's gateway pair is started by the real {@code
 * dctun} launcher as root with {@code --user 65534} (box 1) and {@code DCTUN_USER=nobody} (box
 * 2), so each JVM runs as nobody with CAP_NET_ADMIN and CAP_NET_RAW only; site A's one gateway
 * runs as root, as before. Everything {@code dctun up} does must still work that way: the TUN
 * interface, its routes, the UDP socket on the VIP, VRRP, the VIPs, the UAPI socket, the status
 * file, and on SIGTERM the clean shutdown that hands the VIPs to the twin. The notify commands
 * record their own uid and capability sets: nobody, no capabilities at all.
 *
 * <p>Two things of the test host are replaced for the unprivileged boxes only, in their own mount
 * namespace (the one {@code ip netns exec} creates; nothing is changed outside it): {@code
 * /dev/net/tun} gets the kernel's own mode 0666 (this host's is 0600), and {@code /run/wireguard}
 * is an empty directory owned by the user, as systemd's {@code RuntimeDirectory=} makes it. The
 * appliance runs from a copy of the test class path that nobody can read (the real one is under
 * /root), through {@code DCTUN_JAR}.
 */
@Timeout(300)
class E2eLeastPrivilegeTest {
  private static final int NOBODY = 65534;
  private static final long NET_ADMIN_AND_NET_RAW = 0x3000;

  private Path launcher;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    for (String c : List.of("setpriv", "bash", "getent", "mount", "mknod", "nsenter", "id")) {
      Requirements.assumeCommand(c);
    }
    launcher = Path.of("").toAbsolutePath().getParent().resolve("dctun");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(launcher), "no launcher at " + launcher);
  }

  @Test
  void pairRunsAsNobodyWithOnlyNetAdminAndNetRaw() throws Exception {
    try (HaSites s = new HaSites(false, new Topology("lp"))) {
      Path jar = readableAppliance(s.dir);
      Path notify = s.dir.resolve("notify.sh");
      Files.writeString(notify, String.join("\n",
          "#!/bin/sh",
          "# what a notify command may do: its uid, its capability sets, no_new_privs",
          "out=" + s.dir + "/notify-$1-$DCTUN_HA_STATE",
          "{ echo \"Uid: $(id -u)\"; grep -E '^(Cap|NoNewPrivs)' /proc/$$/status; } > \"$out.tmp\" && mv \"$out.tmp\" \"$out\"",
          ""));
      Files.setPosixFilePermissions(notify, PosixFilePermissions.fromString("rwxr-xr-x"));
      // A gateway run as nobody must own its key (mode 0600 stays); root reads it anyway (gwA).
      chownToNobody(s.dir);
      s.launchTimeout = Duration.ofSeconds(60);
      s.upCommand = (label, args) -> label.startsWith("gwB") ? viaLauncher(jar, label, args) : HaSites.inTestJvm(args);

      // A key file that nobody cannot read is refused by name, saying what to do.
      Path rootKey = s.dir.resolve("root-owned.key");
      KeyFiles.writePrivateKey(rootKey, PrivateKey.generate());
      Path badCfg = s.dir.resolve("root-key.yaml");
      Files.writeString(badCfg, "interface: lpbad0\nprivate-key-file: " + rootKey + "\npeers: []\n");
      ExecResult refused = s.gwB1.exec(Duration.ofSeconds(90), viaLauncher(jar, "gwB1",
          List.of("up", "-c", badCfg.toString())).toArray(String[]::new));
      assertThat(refused.exitCode()).as(refused.describe()).isEqualTo(1);
      assertThat(refused.stdout() + refused.stderr()).as(refused.describe())
          .contains("cannot be read by this process's user (uid " + NOBODY + "), owned by uid 0: chown it");

      HaSites.Gw a = s.startGwA();
      HaSites.Gw b1 = s.startGwB(1, 200, 200, notifyOn(notify, "gwB1"), "");
      b1.awaitHaState("MASTER", Duration.ofSeconds(20));
      HaSites.Gw b2 = s.startGwB(2, 100, 200, notifyOn(notify, "gwB2"), "");
      b2.awaitHaState("BACKUP", Duration.ofSeconds(20));
      Sites.assertPing(s.srvA, Sites.SRV_B, a.describe(), b1.describe(), b2.describe());

      for (HaSites.Gw b : List.of(b1, b2)) {
        assertEveryThreadHasOnlyTheTwoCapabilities(b);
        assertThat(b.status()).as(b.describe()).containsEntry("process.uid", Integer.toString(NOBODY))
            .containsEntry("process.capabilities", "net_admin,net_raw").containsKey("uapi.socket");
        assertThat(b.process().output()).as(b.label()).doesNotContain("WARNING: running as uid")
            .doesNotContain("Exception");
      }
      assertThat(a.status()).as(a.describe()).containsEntry("process.uid", "0");
      assertThat(a.process().output()).as("the root gateway is told about least privilege")
          .contains("WARNING: running as uid 0 with capabilities all").contains("\"Least privilege\"");
      assertThat(b1.addresses()).as(b1.label()).contains(HaSites.PUBLIC_VIP + "/").contains(HaSites.PRIVATE_VIP + "/");
      assertNotifyRanWithoutCapabilities(s.dir, b1, "gwB1-MASTER");
      if (Requirements.findCommand("wg").isPresent()) {
        // wg show as root, in the box's own mount namespace: its UAPI socket, served by nobody
        ExecResult wg = NetNs.root().exec(Duration.ofSeconds(20), "nsenter", "-t", Long.toString(b1.process().pid()),
            "-m", "-n", "wg", "show", b1.tun());
        assertThat(wg.ok()).as(wg.describe()).isTrue();
        assertThat(wg.stdout()).as(wg.describe()).contains("peer: " + s.keyA.publicKey().toBase64());
      }

      // SIGTERM on the master, as systemctl stop: the clean shutdown removes the VIPs and the
      // interface without root, the backup takes over, and the tunnel carries on through it.
      Process p1 = b1.process().process();
      p1.toHandle().destroy();
      assertThat(p1.waitFor(30, TimeUnit.SECONDS)).as("gwB1 exits after SIGTERM\n%s", b1.describe()).isTrue();
      assertThat(p1.exitValue()).as(b1.describe()).isEqualTo(143);
      assertThat(s.gwB1.hasLink(b1.tun())).as("TUN of gwB1 removed\n%s", b1.describe()).isFalse();
      assertThat(b1.addresses()).as(b1.describe()).doesNotContain(HaSites.PUBLIC_VIP + "/")
          .doesNotContain(HaSites.PRIVATE_VIP + "/");
      b2.awaitHaState("MASTER", Duration.ofSeconds(15));
      assertThat(b2.addresses()).as(b2.label()).contains(HaSites.PUBLIC_VIP + "/").contains(HaSites.PRIVATE_VIP + "/");
      Sites.assertPing(s.srvA, Sites.SRV_B, a.describe(), b2.describe());
      assertNotifyRanWithoutCapabilities(s.dir, b2, "gwB2-MASTER");
      for (HaSites.Gw b : List.of(b1, b2)) {
        // A missing capability shows as EPERM/EACCES (VIPs, ARP, routes), logged and carried on.
        assertThat(b.process().output()).as(b.label()).doesNotContain("Exception").doesNotContain("EPERM")
            .doesNotContain("EACCES").doesNotContain("uapi off");
      }
    }
  }

  /** The {@code ha.notify} line (inside {@code ha:}) that runs {@code script LABEL} on becoming master. */
  private static String notifyOn(Path script, String label) {
    return "  notify:\n    master: " + script + " " + label + "\n";
  }

  /**
   * The argument vector that runs the real launcher as root, with {@code --user 65534} for box 1
   * and {@code DCTUN_USER=nobody} for box 2, after giving the box's mount namespace a usable
   * {@code /dev/net/tun} and a {@code /run/wireguard} of the user's (see the class comment).
   */
  private List<String> viaLauncher(Path jar, String label, List<String> args) {
    boolean byFlag = label.endsWith("1");
    List<String> cmd = new ArrayList<>(List.of("env", "DCTUN_JAVA_HOME=" + System.getProperty("java.home"),
        "DCTUN_JAR=" + jar, "DCTUN_JAVA_OPTS=-Xmx256m"));
    if (!byFlag) {
      cmd.add("DCTUN_USER=nobody");
    }
    cmd.addAll(List.of("sh", "-c", "mount -t tmpfs -o mode=0755,size=64k lp-dev /dev/net"
        + " && mknod -m 0666 /dev/net/tun c 10 200"
        + " && mkdir -p /run/wireguard"
        + " && mount -t tmpfs -o mode=0700,uid=" + NOBODY + ",gid=" + NOBODY + ",size=1m lp-wg /run/wireguard"
        + " && exec \"$@\"", "sh", launcher.toString(), args.get(0)));
    if (byFlag) {
      cmd.addAll(List.of("--user", Integer.toString(NOBODY)));
    }
    cmd.addAll(args.subList(1, args.size()));
    return cmd;
  }

  /**
   * A copy of the test class path that nobody may read, and a jar whose manifest names it (and
   * the appliance's main class): what {@code DCTUN_JAR} points the launcher at.
   */
  private static Path readableAppliance(Path dir) throws IOException {
    Path cp = Files.createDirectory(dir.resolve("cp"));
    List<String> entries = new ArrayList<>();
    int i = 0;
    for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      Path src = Path.of(e);
      if (Files.isDirectory(src)) {
        Path to = cp.resolve(Integer.toString(i++));
        try (Stream<Path> walk = Files.walk(src)) {
          for (Path f : walk.toList()) {
            Path t = to.resolve(src.relativize(f).toString());
            if (Files.isDirectory(f)) {
              Files.createDirectories(t);
            } else {
              Files.copy(f, t);
            }
          }
        }
        entries.add("cp/" + to.getFileName() + "/");
      } else if (Files.isRegularFile(src)) {
        Path to = cp.resolve(i++ + ".jar");
        Files.copy(src, to);
        entries.add("cp/" + to.getFileName());
      }
    }
    Manifest m = new Manifest();
    m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "io.dctun.appliance.Main");
    m.getMainAttributes().put(Attributes.Name.CLASS_PATH, String.join(" ", entries));
    Path jar = dir.resolve("dctun-test.jar");
    try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, m)) {
      j.finish(); // the manifest is all it holds
    }
    return jar;
  }

  private static void chownToNobody(Path dir) {
    NetNs.root().run("chown", "-R", NOBODY + ":" + NOBODY, dir.toString());
  }

  /** The kernel's view of each thread of the box's JVM: nobody, CAP_NET_ADMIN + CAP_NET_RAW only, no_new_privs. */
  private static void assertEveryThreadHasOnlyTheTwoCapabilities(HaSites.Gw b) throws IOException {
    long pid = b.process().pid(); // ip netns exec, sh, the launcher and setpriv each exec the next: the JVM's pid
    Path proc = Path.of("/proc", Long.toString(pid));
    assertThat(Files.readSymbolicLink(proc.resolve("exe")).getFileName().toString()).as(b.describe()).isEqualTo("java");
    int threads = 0;
    List<Path> tasks;
    try (Stream<Path> l = Files.list(proc.resolve("task"))) {
      tasks = l.toList();
    }
    for (Path task : tasks) {
      Map<String, String> st;
      try {
        st = fields(Files.readString(task.resolve("status")));
      } catch (NoSuchFileException gone) {
        continue; // a thread that ended meanwhile
      }
      String what = b.label() + " thread " + task.getFileName() + " (" + st.get("Name") + ")";
      assertThat(st.get("Uid").split("\\s+")).as(what).containsOnly(Integer.toString(NOBODY));
      assertThat(st.get("Gid").split("\\s+")).as(what).containsOnly(Integer.toString(NOBODY));
      for (String set : List.of("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh")) {
        assertThat(Long.parseUnsignedLong(st.get(set), 16)).as(what + " " + set).isEqualTo(NET_ADMIN_AND_NET_RAW);
      }
      assertThat(st.get("NoNewPrivs")).as(what).isEqualTo("1");
      threads++;
    }
    assertThat(threads).as("threads of %s's JVM checked", b.label()).isGreaterThan(10);
  }

  /** The notify command's record: it ran as nobody with every capability set empty. */
  private static void assertNotifyRanWithoutCapabilities(Path dir, HaSites.Gw b, String name) {
    Path f = dir.resolve("notify-" + name);
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (!Files.exists(f) && System.nanoTime() < deadline) {
      Sites.sleep(100);
    }
    assertThat(f).as("notify %s ran\n%s", name, b.describe()).exists();
    Map<String, String> st;
    try {
      st = fields(Files.readString(f));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    assertThat(st.get("Uid")).as(name + " " + st).isEqualTo(Integer.toString(NOBODY));
    for (String set : List.of("CapEff", "CapPrm", "CapAmb", "CapInh")) {
      assertThat(Long.parseUnsignedLong(st.get(set), 16)).as(name + " " + set + " " + st).isZero();
    }
    assertThat(st.get("NoNewPrivs")).as(name).isEqualTo("1");
  }

  private static Map<String, String> fields(String status) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String line : status.split("\n")) {
      int c = line.indexOf(':');
      if (c > 0) {
        m.put(line.substring(0, c), line.substring(c + 1).strip());
      }
    }
    return m;
  }
}
