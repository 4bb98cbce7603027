package io.dctun.core.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * JUnit assumptions for tests that need privileges, devices or tools: when one is missing the test is
 * skipped (aborted) with a message naming exactly what is missing, never silently passed.
 */
public final class Requirements {
    private static volatile Boolean netnsWorks;

    private Requirements() {
    }

    /** Skips unless the JVM runs as root (effective uid 0). */
    public static void assumeRoot() {
        long uid = effectiveUid();
        assumeTrue(uid == 0, "needs root: running as uid " + uid);
    }

    /**
     * Skips unless this process has CAP_NET_ADMIN in effect (root has it), which creating a TUN device
     * or changing links needs; unlike {@link #assumeRoot()} it also admits a capable non-root user.
     */
    public static void assumeNetAdmin() {
        assumeTrue(hasCapability(12), "needs CAP_NET_ADMIN: not root and not granted it (CapEff in /proc/self/status)");
    }

    /** Skips unless {@code /dev/net/tun} exists and is readable and writable. */
    public static void assumeTun() {
        Path tun = Path.of("/dev/net/tun");
        assumeTrue(Files.exists(tun), "needs a TUN device: /dev/net/tun does not exist");
        assumeTrue(Files.isReadable(tun) && Files.isWritable(tun),
                "needs a TUN device: /dev/net/tun is not readable and writable by this user");
    }

    /** Skips unless {@code name} is an executable found on PATH (or in /usr/sbin, /sbin). */
    public static void assumeCommand(String name) {
        assumeTrue(findCommand(name).isPresent(),
                "needs the command '" + name + "': not found on PATH (" + searchPath() + ")");
    }

    /**
     * Skips unless this process may create network namespaces: root, {@code ip}, and a probe namespace that
     * can actually be added and deleted (root in a container without CAP_SYS_ADMIN cannot).
     */
    public static void assumeNetNs() {
        assumeRoot();
        assumeCommand("ip");
        Boolean works = netnsWorks;
        String why = "";
        if (works == null) {
            String probe = "dt-probe-" + NetNs.randomId(6);
            ExecResult r = Shell.exec("ip", "netns", "add", probe);
            works = r.ok();
            if (works) {
                Shell.exec("ip", "netns", "del", probe);
            } else {
                why = ": " + r.stderr().trim();
            }
            netnsWorks = works;
        }
        assumeTrue(works, "needs network namespaces: 'ip netns add' failed" + why);
    }

    /** Skips unless the kernel has IPv6 (not booted with {@code ipv6.disable=1}). */
    public static void assumeIpv6() {
        assumeTrue(Files.isDirectory(Path.of("/proc/sys/net/ipv6")),
                "needs IPv6 in the kernel: /proc/sys/net/ipv6 does not exist (booted with ipv6.disable=1?)");
    }

    /** Everything the wireguard-go harness needs: namespaces, TUN, wireguard-go, wg, ip. */
    public static void assumeWireguardGo() {
        assumeNetNs();
        assumeTun();
        assumeCommand("wireguard-go");
        assumeCommand("wg");
    }

    /** The absolute path of an executable named {@code name}, if any. */
    public static Optional<Path> findCommand(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        for (String dir : searchPath()) {
            Path p = Path.of(dir, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static List<String> searchPath() {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isEmpty()) {
                    dirs.add(d);
                }
            }
        }
        dirs.add("/usr/sbin");
        dirs.add("/sbin");
        return new ArrayList<>(dirs);
    }

    /** Whether capability number {@code cap} is in CapEff of /proc/self/status; false if unknown. */
    static boolean hasCapability(int cap) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << cap)) != 0;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return false;
    }

    /** Effective uid from /proc/self/status, or -1 if unknown. */
    static long effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }
}
