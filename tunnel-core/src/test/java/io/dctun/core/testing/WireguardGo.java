package io.dctun.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Debian's {@code wireguard-go} running in a namespace, configured with {@code wg}: the reference peer that
 * dctun must interoperate with.
 *
 * <p>Notes on the Debian build (0.0.20220316): {@code -f} keeps it in the foreground; it prints a banner
 * recommending the kernel module unless {@code WG_PROCESS_FOREGROUND=1} is set (harmless, it does not refuse
 * to run, and the old {@code WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD} switch is gone). The TUN link
 * appears a moment before the UAPI socket {@code /var/run/wireguard/IFNAME.sock} that {@code wg} talks to;
 * that path is NOT per network namespace, so interface names must be unique across the whole host (use
 * {@link Topology#ifName}). Exit on SIGTERM removes the socket and the interface.
 */
public final class WireguardGo implements AutoCloseable {

    /** How long {@link #start} waits for the interface and its control socket. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(10);

    private final NetNs ns;
    private final String ifName;
    private final Spawned process;
    private final String privateKey;
    private final String publicKey;
    private volatile boolean closed;

    private WireguardGo(NetNs ns, String ifName, Spawned process, String privateKey, String publicKey) {
        this.ns = ns;
        this.ifName = ifName;
        this.process = process;
        this.privateKey = privateKey;
        this.publicKey = publicKey;
    }

    /** Starts with a freshly generated private key; {@code listenPort} 0 lets wireguard-go choose. */
    public static WireguardGo start(NetNs ns, String ifName, int listenPort) {
        return start(ns, ifName, genKey(), listenPort);
    }

    /**
     * Starts {@code wireguard-go -f IFNAME} inside {@code ns}, waits (bounded) until the interface and its
     * control socket exist, then sets the private key and listen port. The interface is still down and has
     * no address: see {@link #addPeer} and {@link #addressUp}.
     */
    public static WireguardGo start(NetNs ns, String ifName, String privateKey, int listenPort) {
        if (ifName.length() > 15) {
            throw new IllegalArgumentException("interface name longer than 15 characters: " + ifName);
        }
        String publicKey = publicKeyOf(privateKey);
        Map<String, String> env = new LinkedHashMap<>();
        env.put("WG_PROCESS_FOREGROUND", "1"); // no daemonizing, no kernel-module banner
        env.put("LOG_LEVEL", "verbose");       // handshakes and keepalives only; useful in failure messages
        Spawned p = ns.spawn(env, "wireguard-go", "-f", ifName);
        WireguardGo wg = new WireguardGo(ns, ifName, p, privateKey, publicKey);
        try {
            wg.awaitReady(START_TIMEOUT);
            wg.withKeyFile(privateKey, file -> {
                List<String> cmd = new ArrayList<>(List.of("wg", "set", ifName, "private-key", file));
                if (listenPort != 0) {
                    cmd.addAll(List.of("listen-port", Integer.toString(listenPort)));
                }
                wg.wg(cmd);
            });
        } catch (RuntimeException e) {
            try {
                wg.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return wg;
    }

    private void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        ExecResult last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("wireguard-go exited before " + ifName + " was ready\n"
                        + process.describe());
            }
            if (ns.hasLink(ifName)) {
                last = ns.exec(Duration.ofSeconds(5), "wg", "show", ifName);
                if (last.ok()) {
                    return;
                }
            }
            sleep(20);
        }
        throw new IllegalStateException("wireguard-go interface " + ifName + " not ready after " + timeout + "\n"
                + process.describe() + (last == null ? "" : "\n" + last.describe()));
    }

    /** A WireGuard peer to add with {@link #addPeer}: fluent, every field but the public key optional. */
    public static final class Peer {
        private final String publicKey;
        private String endpoint;
        private final List<String> allowedIps = new ArrayList<>();
        private Integer persistentKeepalive;
        private String presharedKey;

        private Peer(String publicKey) {
            this.publicKey = publicKey;
        }

        public static Peer of(String publicKey) {
            return new Peer(publicKey);
        }

        /** {@code host:port}, e.g. {@code 198.18.0.2:51820}. */
        public Peer endpoint(String hostPort) {
            this.endpoint = hostPort;
            return this;
        }

        public Peer allowedIps(String... cidrs) {
            allowedIps.addAll(List.of(cidrs));
            return this;
        }

        public Peer persistentKeepalive(int seconds) {
            this.persistentKeepalive = seconds;
            return this;
        }

        /** Base64 preshared key, e.g. from {@link WireguardGo#genPsk()}. */
        public Peer presharedKey(String base64) {
            this.presharedKey = base64;
            return this;
        }
    }

    /** {@code wg set IF peer ...} with the peer's fields; the preshared key goes through a 0600 temp file. */
    public WireguardGo addPeer(Peer peer) {
        List<String> cmd = new ArrayList<>(List.of("wg", "set", ifName, "peer", peer.publicKey));
        if (peer.endpoint != null) {
            cmd.addAll(List.of("endpoint", peer.endpoint));
        }
        if (!peer.allowedIps.isEmpty()) {
            cmd.addAll(List.of("allowed-ips", String.join(",", peer.allowedIps)));
        }
        if (peer.persistentKeepalive != null) {
            cmd.addAll(List.of("persistent-keepalive", peer.persistentKeepalive.toString()));
        }
        if (peer.presharedKey != null) {
            withKeyFile(peer.presharedKey, file -> {
                cmd.addAll(List.of("preshared-key", file));
                wg(cmd);
            });
        } else {
            wg(cmd);
        }
        return this;
    }

    /** {@code wg set IF peer PUB remove}. */
    public WireguardGo removePeer(String publicKey) {
        wg(List.of("wg", "set", ifName, "peer", publicKey, "remove"));
        return this;
    }

    /** Assigns {@code cidr} (e.g. {@code 198.19.0.1/24}) to the interface and brings it up. */
    public WireguardGo addressUp(String cidr) {
        ns.addAddress(ifName, cidr);
        ns.linkUp(ifName);
        return this;
    }

    public String publicKey() {
        return publicKey;
    }

    public String privateKey() {
        return privateKey;
    }

    public String interfaceName() {
        return ifName;
    }

    public NetNs namespace() {
        return ns;
    }

    public Spawned process() {
        return process;
    }

    /** wireguard-go's log so far. */
    public String log() {
        return process.output();
    }

    /** One peer line of {@code wg show IF dump}. */
    public record PeerStats(String publicKey, boolean hasPresharedKey, String endpoint, List<String> allowedIps,
                            long latestHandshakeEpochSeconds, long rxBytes, long txBytes,
                            int persistentKeepaliveSeconds) {

        /** The time of the latest handshake, empty if there has been none. */
        public Optional<Instant> latestHandshake() {
            return latestHandshakeEpochSeconds == 0
                    ? Optional.empty() : Optional.of(Instant.ofEpochSecond(latestHandshakeEpochSeconds));
        }
    }

    /** {@code wg show IF dump}, parsed (the private key is left out). */
    public record Dump(String publicKey, int listenPort, List<PeerStats> peers) {

        public Optional<PeerStats> peer(String publicKey) {
            return peers.stream().filter(p -> p.publicKey().equals(publicKey)).findFirst();
        }
    }

    /** Runs and parses {@code wg show IF dump}. */
    public Dump showDump() {
        String out = wg(List.of("wg", "show", ifName, "dump")).stdout();
        return parseDump(out);
    }

    static Dump parseDump(String out) {
        String[] lines = out.strip().split("\n");
        String[] head = lines[0].split("\t");
        if (head.length < 4) {
            throw new IllegalArgumentException("unexpected wg dump header: " + lines[0]);
        }
        List<PeerStats> peers = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split("\t");
            if (f.length < 8) {
                throw new IllegalArgumentException("unexpected wg dump peer line: " + lines[i]);
            }
            List<String> allowed = f[3].equals("(none)") ? List.of() : List.of(f[3].split(","));
            peers.add(new PeerStats(f[0], !f[1].equals("(none)"), f[2].equals("(none)") ? null : f[2], allowed,
                    Long.parseLong(f[4]), Long.parseLong(f[5]), Long.parseLong(f[6]),
                    f[7].equals("off") ? 0 : Integer.parseInt(f[7])));
        }
        return new Dump(head[1], Integer.parseInt(head[2]), List.copyOf(peers));
    }

    /** Polls {@link #showDump()} until the peer has completed a handshake; bounded by {@code timeout}. */
    public PeerStats awaitHandshake(String peerPublicKey, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Dump d;
        do {
            d = showDump();
            Optional<PeerStats> p = d.peer(peerPublicKey);
            if (p.isPresent() && p.get().latestHandshakeEpochSeconds() != 0) {
                return p.get();
            }
            sleep(50);
        } while (System.nanoTime() < deadline);
        throw new IllegalStateException("no handshake with " + peerPublicKey + " on " + ifName + " within "
                + timeout + "; last dump: " + d + "\n" + process.describe());
    }

    /** {@code wg genkey}. */
    public static String genKey() {
        return Shell.run("wg", "genkey").stdout().strip();
    }

    /** {@code wg genpsk}. */
    public static String genPsk() {
        return Shell.run("wg", "genpsk").stdout().strip();
    }

    /** {@code wg pubkey} of a base64 private key (fed on standard input, not the command line). */
    public static String publicKeyOf(String privateKey) {
        return Shell.check(Shell.exec(Shell.DEFAULT_TIMEOUT, Map.of(),
                (privateKey + "\n").getBytes(StandardCharsets.US_ASCII), List.of("wg", "pubkey"))).stdout().strip();
    }

    private ExecResult wg(List<String> cmd) {
        ExecResult r = ns.exec(cmd.toArray(String[]::new));
        if (!r.ok()) {
            throw new IllegalStateException("wg failed\n" + r.describe() + "\n" + process.describe());
        }
        return r;
    }

    private interface FileAction {
        void accept(String path);
    }

    private void withKeyFile(String key, FileAction action) {
        Path f = null;
        try {
            f = TempFiles.createPrivate("dctun-wg", ".key", (key + "\n").getBytes(StandardCharsets.US_ASCII));
            action.accept(f.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            TempFiles.deleteQuietly(f);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** Stops wireguard-go (SIGTERM, then SIGKILL); it removes its interface and socket as it exits. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            process.close();
        } finally {
            // left behind only if it had to be SIGKILLed; the name is unique to this run
            TempFiles.deleteQuietly(socketPath());
        }
    }

    /** The UAPI socket {@code wg} uses: {@code /var/run/wireguard/IFNAME.sock}, shared by all namespaces. */
    public Path socketPath() {
        return Path.of("/var/run/wireguard", ifName + ".sock");
    }

    @Override
    public String toString() {
        return "WireguardGo[" + ifName + " in " + ns + "]";
    }
}
