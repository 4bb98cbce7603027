package io.dctun.core.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Builds a small network of namespaces for one test and tears all of it down on {@link #close()}: resources
 * registered with {@link #own} (e.g. {@link WireguardGo}) first, newest first, then links created in the root
 * namespace, then the namespaces.
 *
 * <p>Every name it hands out carries a per-topology random id, so concurrent runs never collide. Interface
 * names stay within Linux's 15-character limit.
 *
 * <pre>{@code
 * try (Topology t = new Topology()) {
 *     NetNs a = t.namespace("a"), b = t.namespace("b");
 *     Topology.Veth v = t.veth(a, "198.18.0.1/24", b, "198.18.0.2/24");
 *     a.run("ping", "-c", "1", "-W", "1", "198.18.0.2");
 * }
 * }</pre>
 */
public final class Topology implements AutoCloseable {

    /** A veth pair: end A in namespace {@code a} named {@code ifA}, end B in {@code b} named {@code ifB}. */
    public record Veth(NetNs a, String ifA, NetNs b, String ifB) {
    }

    private final String id = NetNs.randomId(5);
    /** What every name starts with: null for the shared default ({@code dt-} namespaces), or a team's prefix. */
    private final String prefix;
    private final AtomicInteger counter = new AtomicInteger();
    private final List<NetNs> namespaces = new ArrayList<>();
    private final List<String> rootLinks = new ArrayList<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final NetNs root = NetNs.root();
    private boolean closed;

    public Topology() {
        this.prefix = null;
        Cleanup.register(this);
    }

    /**
     * A topology whose namespace and interface names all start with {@code prefix} (2 lower-case letters
     * or digits), e.g. {@code km-gwA-x3k9a} and {@code kmvax3k9a1}: for tests that must keep to a name
     * space of their own.
     */
    public Topology(String prefix) {
        if (!prefix.matches("[a-z0-9]{2}")) {
            throw new IllegalArgumentException("a topology prefix is 2 lower-case letters or digits, got " + prefix);
        }
        this.prefix = prefix;
        Cleanup.register(this);
    }

    /** The random id shared by every name this topology creates. */
    public String id() {
        return id;
    }

    /** The root namespace (the JVM's), for links with one end outside any test namespace. */
    public NetNs root() {
        return root;
    }

    /** Creates and tracks a namespace named {@code dt-<label>-<id>}. */
    public synchronized NetNs namespace(String label) {
        ensureOpen();
        NetNs ns = NetNs.createNamed((prefix == null ? "dt" : prefix) + "-" + label + "-" + id);
        namespaces.add(ns);
        return ns;
    }

    /**
     * A fresh interface name unique to this topology and run: up to 4 characters of {@code label}, the id, and
     * a counter, e.g. {@code wgk3x9a1}. At most 15 characters.
     */
    public String ifName(String label) {
        String l = prefix == null ? (label.length() > 4 ? label.substring(0, 4) : label)
            : prefix + (label.length() > 2 ? label.substring(0, 2) : label);
        String n = l + id + counter.incrementAndGet();
        if (n.length() > 15 || !n.matches("[A-Za-z0-9_-]+")) {
            throw new IllegalArgumentException("bad interface name " + n);
        }
        return n;
    }

    /** Registers a resource to close (before the namespaces) when the topology closes. Returns it. */
    public synchronized <T extends AutoCloseable> T own(T resource) {
        owned.add(Objects.requireNonNull(resource));
        return resource;
    }

    /** A veth pair between {@code a} and {@code b} (either may be {@link #root()}), both ends up, no addresses. */
    public Veth veth(NetNs a, NetNs b) {
        return veth(a, null, b, null);
    }

    /**
     * A veth pair between {@code a} and {@code b} (either may be {@link #root()}), with optional addresses
     * (CIDR, e.g. {@code 198.18.0.1/24}, or null) and both ends up.
     */
    public synchronized Veth veth(NetNs a, String cidrA, NetNs b, String cidrB) {
        ensureOpen();
        String ifA = ifName("va");
        String ifB = ifName("vb");
        List<String> cmd = new ArrayList<>(List.of("ip", "link", "add", ifA));
        if (!a.isRoot()) {
            cmd.addAll(List.of("netns", a.name()));
        }
        cmd.addAll(List.of("type", "veth", "peer", "name", ifB));
        if (!b.isRoot()) {
            cmd.addAll(List.of("netns", b.name()));
        }
        Shell.run(cmd.toArray(String[]::new));
        if (a.isRoot()) {
            rootLinks.add(ifA);
        } else if (b.isRoot()) {
            rootLinks.add(ifB);
        }
        configure(a, ifA, cidrA);
        configure(b, ifB, cidrB);
        return new Veth(a, ifA, b, ifB);
    }

    /** Creates a bridge in {@code ns} (may be {@link #root()}), brings it up and returns its name. */
    public synchronized String bridge(NetNs ns) {
        ensureOpen();
        String br = ifName("br");
        ns.run("ip", "link", "add", "name", br, "type", "bridge");
        if (ns.isRoot()) {
            rootLinks.add(br);
        }
        ns.linkUp(br);
        return br;
    }

    /** Enslaves {@code dev} to {@code bridge}, both in {@code ns}. */
    public void attach(NetNs ns, String dev, String bridge) {
        ns.run("ip", "link", "set", "dev", dev, "master", bridge);
    }

    private static void configure(NetNs ns, String dev, String cidr) {
        if (cidr != null) {
            ns.addAddress(dev, cidr);
        }
        ns.linkUp(dev);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("topology closed");
        }
    }

    /** Closes owned resources, deletes root-namespace links, then deletes the namespaces. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                failure = NetNs.add(failure, e instanceof RuntimeException r ? r : new RuntimeException(e));
            }
        }
        for (int i = rootLinks.size() - 1; i >= 0; i--) {
            String dev = rootLinks.get(i);
            // may already be gone (deleting one veth end deletes the other); only a present link is an error
            if (Shell.exec("ip", "link", "show", "dev", dev).ok()) {
                ExecResult r = Shell.exec("ip", "link", "del", "dev", dev);
                if (!r.ok() && Shell.exec("ip", "link", "show", "dev", dev).ok()) {
                    failure = NetNs.add(failure, new CommandFailedException(r));
                }
            }
        }
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            try {
                namespaces.get(i).close();
            } catch (RuntimeException e) {
                failure = NetNs.add(failure, e);
            }
        }
        try {
            root.close();
        } catch (RuntimeException e) {
            failure = NetNs.add(failure, e);
        }
        Cleanup.unregister(this);
        if (failure != null) {
            throw failure;
        }
    }
}
