package io.dctun.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A network namespace owned by a test: created with a unique name, deleted on {@link #close()} together
 * with every process still inside it.
 *
 * <p>{@link #root()} returns a non-owning handle on the JVM's own namespace (commands run directly, close
 * only stops the processes it spawned), so helpers can treat "the root namespace" like any other.
 */
public final class NetNs implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

    private final String name; // null for the root namespace
    private final List<Spawned> spawned = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private NetNs(String name) {
        this.name = name;
    }

    /** Creates a namespace named {@code dt-<random>}. */
    public static NetNs create() {
        return create("ns");
    }

    /** Creates a namespace named {@code dt-<label>-<random>}. */
    public static NetNs create(String label) {
        return createNamed("dt-" + label + "-" + randomId(6));
    }

    /** Creates a namespace with exactly this name; fails if it exists. */
    public static NetNs createNamed(String name) {
        if (!name.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("bad namespace name: " + name);
        }
        Shell.run("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        Cleanup.register(ns);
        try {
            ns.run("ip", "link", "set", "dev", "lo", "up");
        } catch (RuntimeException e) {
            try {
                ns.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return ns;
    }

    /** A handle on the JVM's own (root) network namespace; closing it deletes nothing. */
    public static NetNs root() {
        NetNs ns = new NetNs(null);
        Cleanup.register(ns);
        return ns;
    }

    /** A random string of {@code length} lower-case letters and digits, for unique names. */
    public static String randomId(int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            c[i] = ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length()));
        }
        return new String(c);
    }

    /** Whether a named namespace exists ({@code /var/run/netns/NAME}, what {@code ip netns list} shows). */
    public static boolean exists(String name) {
        return list().contains(name);
    }

    /** The names {@code ip netns list} shows. */
    public static List<String> list() {
        String out = Shell.run("ip", "netns", "list").stdout();
        List<String> names = new ArrayList<>();
        for (String line : out.split("\n")) {
            String t = line.trim();
            if (!t.isEmpty()) {
                names.add(t.split("\\s+")[0]); // "name (id: 3)"
            }
        }
        return names;
    }

    /** The namespace name, or null for the root namespace. */
    public String name() {
        return name;
    }

    public boolean isRoot() {
        return name == null;
    }

    /** The argument vector that runs {@code cmd} inside this namespace. */
    public List<String> command(String... cmd) {
        List<String> full = new ArrayList<>(cmd.length + 4);
        if (name != null) {
            full.addAll(List.of("ip", "netns", "exec", name));
        }
        full.addAll(Arrays.asList(cmd));
        return full;
    }

    /** Runs {@code cmd} inside the namespace with {@link Shell#DEFAULT_TIMEOUT}. */
    public ExecResult exec(String... cmd) {
        return exec(Shell.DEFAULT_TIMEOUT, cmd);
    }

    public ExecResult exec(Duration timeout, String... cmd) {
        return exec(timeout, Map.of(), null, cmd);
    }

    public ExecResult exec(Duration timeout, Map<String, String> env, byte[] stdin, String... cmd) {
        ensureOpen();
        return Shell.exec(timeout, env, stdin, command(cmd));
    }

    /** Runs {@code cmd} inside; throws {@link CommandFailedException} (with full output) unless it exits 0 in time. */
    public ExecResult run(String... cmd) {
        return Shell.check(exec(cmd));
    }

    public ExecResult run(Duration timeout, String... cmd) {
        return Shell.check(exec(timeout, cmd));
    }

    /** Starts a long-running process inside; it is stopped on {@link #close()} at the latest. */
    public Spawned spawn(String... cmd) {
        return spawn(Map.of(), cmd);
    }

    /** Starts a long-running process inside with extra environment variables. */
    public Spawned spawn(Map<String, String> env, String... cmd) {
        ensureOpen();
        List<String> full = command(cmd);
        Path log = null;
        try {
            log = Files.createTempFile("dctun-spawn", ".log");
            ProcessBuilder pb = new ProcessBuilder(full)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            Spawned s = new Spawned(full, pb.start(), log);
            spawned.add(s);
            return s;
        } catch (IOException e) {
            TempFiles.deleteQuietly(log);
            throw new UncheckedIOException("cannot start " + full + ": " + e.getMessage(), e);
        }
    }

    /** {@code ip link set dev DEV up} inside. */
    public void linkUp(String dev) {
        run("ip", "link", "set", "dev", dev, "up");
    }

    /** {@code ip addr add CIDR dev DEV} inside, e.g. {@code addAddress("veth0", "198.18.0.1/24")}. */
    public void addAddress(String dev, String cidr) {
        run("ip", "addr", "add", cidr, "dev", dev);
    }

    /**
     * Turns IPv6 on inside with duplicate address detection off, for interfaces made from now on
     * and for {@code existing} ones, so link-local addresses are usable at once.
     */
    public void enableIpv6WithoutDad(String... existing) {
        run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
                "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
        for (String dev : existing) {
            run("sysctl", "-q", "-w", "net.ipv6.conf." + dev + ".accept_dad=0",
                    "net.ipv6.conf." + dev + ".disable_ipv6=0");
        }
    }

    /**
     * The link-local IPv6 address of {@code dev} once it is usable (not tentative), waiting up to
     * 5 s; fails with what {@code ip} shows otherwise.
     */
    public String awaitLinkLocal(String dev) throws InterruptedException {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile("inet6 (fe80::[0-9a-f:]+)/64 scope link(?! .*tentative)");
        String out = "";
        for (int i = 0; i < 100; i++) {
            out = run("ip", "-6", "-o", "addr", "show", "dev", dev).stdout();
            java.util.regex.Matcher m = p.matcher(out);
            if (m.find()) {
                return m.group(1);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no usable link-local address on " + dev + " in " + this + ": " + out);
    }

    /** Whether a link with this name exists inside. */
    public boolean hasLink(String dev) {
        return exec("ip", "link", "show", "dev", dev).ok();
    }

    /** PIDs of all processes in this namespace ({@code ip netns pids}); empty for the root namespace. */
    public List<Long> pids() {
        if (name == null) {
            return List.of();
        }
        List<Long> pids = new ArrayList<>();
        for (String s : Shell.run("ip", "netns", "pids", name).stdout().split("\\s+")) {
            if (!s.isBlank()) {
                pids.add(Long.parseLong(s.trim()));
            }
        }
        return pids;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("namespace closed: " + this);
        }
    }

    /**
     * Stops every spawned process, kills anything else still inside the namespace, and deletes it.
     * Idempotent; keeps going after a failure and throws the first error at the end.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (int i = spawned.size() - 1; i >= 0; i--) {
            try {
                spawned.get(i).close();
            } catch (RuntimeException e) {
                failure = add(failure, e);
            }
        }
        if (name != null) {
            try {
                // A process left inside would keep the namespace alive after "ip netns del".
                for (long pid : pids()) {
                    ProcessHandle.of(pid).ifPresent(h -> Processes.kill(h, Duration.ZERO));
                }
            } catch (RuntimeException e) {
                failure = add(failure, e);
            }
            try {
                Shell.run("ip", "netns", "del", name);
            } catch (RuntimeException e) {
                failure = add(failure, e);
            }
        }
        Cleanup.unregister(this);
        if (failure != null) {
            throw failure;
        }
    }

    static RuntimeException add(RuntimeException first, RuntimeException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    @Override
    public String toString() {
        return name == null ? "NetNs[root]" : "NetNs[" + name + "]";
    }
}
