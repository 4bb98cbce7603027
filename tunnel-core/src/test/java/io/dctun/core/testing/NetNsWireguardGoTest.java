package io.dctun.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proves the namespace / wireguard-go harness: two stock wireguard-go peers talk across a veth. */
@Timeout(120)
class NetNsWireguardGoTest {

    @BeforeEach
    void requirements() {
        Requirements.assumeWireguardGo();
        Requirements.assumeCommand("ping");
    }

    @Test
    void twoWireguardGoPeersPingAcrossTheTunnel() {
        String nsA;
        String nsB;
        WireguardGo a;
        WireguardGo b;
        try (Topology t = new Topology()) {
            NetNs na = t.namespace("a");
            NetNs nb = t.namespace("b");
            nsA = na.name();
            nsB = nb.name();
            assertThat(NetNs.list()).contains(nsA, nsB);

            t.veth(na, "198.18.0.1/24", nb, "198.18.0.2/24");
            na.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", "198.18.0.2");

            String psk = WireguardGo.genPsk();
            a = t.own(WireguardGo.start(na, t.ifName("wga"), 51820));
            b = t.own(WireguardGo.start(nb, t.ifName("wgb"), 51821));
            a.addPeer(WireguardGo.Peer.of(b.publicKey()).endpoint("198.18.0.2:51821")
                    .allowedIps("198.19.0.2/32").persistentKeepalive(1).presharedKey(psk));
            b.addPeer(WireguardGo.Peer.of(a.publicKey()).endpoint("198.18.0.1:51820")
                    .allowedIps("198.19.0.1/32").persistentKeepalive(1).presharedKey(psk));
            a.addressUp("198.19.0.1/24");
            b.addressUp("198.19.0.2/24");

            ExecResult ping = na.exec(Duration.ofSeconds(20), "ping", "-c", "3", "-w", "15", "198.19.0.2");
            assertThat(ping.ok()).as("ping across the tunnel\n%s\n%s\n%s", ping.describe(),
                    a.process().describe(), b.process().describe()).isTrue();

            WireguardGo.Dump da = a.showDump();
            assertThat(da.publicKey()).isEqualTo(a.publicKey());
            assertThat(da.listenPort()).isEqualTo(51820);
            Optional<WireguardGo.PeerStats> pb = da.peer(b.publicKey());
            assertThat(pb).isPresent();
            assertThat(pb.get().latestHandshake()).as("handshake on %s: %s", a, da).isPresent();
            assertThat(pb.get().rxBytes()).isPositive();
            assertThat(pb.get().txBytes()).isPositive();
            assertThat(pb.get().hasPresharedKey()).isTrue();
            assertThat(pb.get().allowedIps()).containsExactly("198.19.0.2/32");
            assertThat(pb.get().endpoint()).isEqualTo("198.18.0.2:51821");
            assertThat(pb.get().persistentKeepaliveSeconds()).isEqualTo(1);

            WireguardGo.PeerStats pa = b.awaitHandshake(a.publicKey(), Duration.ofSeconds(5));
            assertThat(pa.rxBytes()).isPositive();
            assertThat(pa.txBytes()).isPositive();
        }
        assertThat(NetNs.list()).doesNotContain(nsA, nsB);
        assertThat(a.process().isAlive()).isFalse();
        assertThat(b.process().isAlive()).isFalse();
        assertThat(Files.exists(a.socketPath())).isFalse();
        assertThat(Files.exists(b.socketPath())).isFalse();
    }

    @Test
    void closeCleansUpWhenTheTestBodyThrows() {
        String[] nsName = new String[1];
        String[] rootVeth = new String[1];
        WireguardGo[] wg = new WireguardGo[1];
        Spawned[] sleeper = new Spawned[1];
        long[] strayPid = new long[1];

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> {
            try (Topology t = new Topology()) {
                NetNs ns = t.namespace("fail");
                nsName[0] = ns.name();
                Topology.Veth v = t.veth(t.root(), ns);
                rootVeth[0] = v.ifA();
                wg[0] = t.own(WireguardGo.start(ns, t.ifName("wgf"), 0));
                sleeper[0] = ns.spawn("sleep", "60");
                // a process the harness did not start itself must not keep the namespace alive either
                ns.run("sh", "-c", "setsid sleep 60 >/dev/null 2>&1 < /dev/null & echo $!");
                strayPid[0] = ns.pids().stream().filter(p -> p != sleeper[0].pid() && p != wg[0].process().pid())
                        .findFirst().orElseThrow();
                throw new IllegalStateException("boom");
            }
        });
        assertThat(thrown).hasMessage("boom");
        assertThat(thrown.getSuppressed()).as("close must not fail").isEmpty();
        assertThat(NetNs.exists(nsName[0])).isFalse();
        assertThat(Shell.exec("ip", "link", "show", "dev", rootVeth[0]).ok()).isFalse();
        assertThat(wg[0].process().isAlive()).isFalse();
        assertThat(Files.exists(wg[0].socketPath())).isFalse();
        assertThat(sleeper[0].isAlive()).isFalse();
        assertThat(ProcessHandle.of(strayPid[0]).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    }

    @Test
    void runThrowsWithFullOutputAndExecTimesOut() {
        try (NetNs ns = NetNs.create("x")) {
            CommandFailedException e = assertThrows(CommandFailedException.class,
                    () -> ns.run("sh", "-c", "echo out-text; echo err-text >&2; exit 3"));
            assertThat(e.result().exitCode()).isEqualTo(3);
            assertThat(e.getMessage()).contains("out-text", "err-text", "exit code: 3");

            ExecResult slow = ns.exec(Duration.ofMillis(300), "sleep", "10");
            assertThat(slow.timedOut()).isTrue();
            assertThat(slow.ok()).isFalse();

            // only loopback exists in a fresh namespace, and it is up
            assertThat(ns.run("ip", "-o", "link").stdout().strip().split("\n")).hasSize(1);
            assertThat(List.of(ns.run("ip", "-o", "link", "show", "lo").stdout())).allMatch(s -> s.contains("UP"));
        }
    }
}
