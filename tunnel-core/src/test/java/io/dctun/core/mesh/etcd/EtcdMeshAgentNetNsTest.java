package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.DropReason;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusText;
import io.dctun.core.testing.EtcdCluster;
import io.dctun.core.testing.NetNs;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * MeshAgentTest's scenario with the routes in etcd instead of the gossip: three active-active
 * gateways and a roaming host, each a whole engine on an in-memory network, the gateways' stores
 * talking to a real 3-member etcd cluster in network namespaces. The host connects to gateway 1
 * and a server behind gateway 3 reaches it; it moves to gateway 2 and the server reaches it
 * there, and still there while etcd is out of reach. Needs root and etcd-server (skipped otherwise).
 */
class EtcdMeshAgentNetNsTest {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final String HOST_IP = "198.18.199.5";
  static final String SERVER_IP = "198.18.230.10";
  static final Prefix HOST = Prefix.parse(HOST_IP + "/32");

  /** Moved by the test, read by the engines' threads. */
  static final class SharedClock implements io.dctun.core.Clock {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Override
    public long nanoTime() {
      return now.get();
    }

    @Override
    public long wallClockNanos() {
      return 1_790_000_000_000_000_000L + now.get();
    }

    void advanceSeconds(double s) {
      now.addAndGet((long) (s * 1e9));
    }
  }

  final SharedClock clock = new SharedClock();
  final InMemoryNetwork net = new InMemoryNetwork();
  final List<Node> nodes = new ArrayList<>();
  EtcdCluster etcd;

  final class Node {
    final PrivateKey key = PrivateKey.generate();
    final UdpEndpoint ep;
    final InMemoryDevice tun;
    final Device device;
    final Engine engine;
    EtcdMeshAgent agent;

    Node(String name, int n) {
      ep = UdpEndpoint.of("198.18.0." + n, 51820);
      tun = new InMemoryDevice(name);
      MemoryTransport udp = net.bind(ep.address());
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock);
      nodes.add(this);
    }

    PublicKey pub() {
      return key.publicKey();
    }
  }

  @AfterEach
  void close() {
    try {
      for (Node n : nodes) {
        if (n.agent != null) {
          n.agent.store().halt();
        }
        n.engine.close();
      }
    } finally {
      if (etcd != null) {
        etcd.close();
      }
    }
  }

  static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 9, seq, new byte[32]);
    return Arrays.copyOf(buf, n);
  }

  static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }

  static byte[] ttlMinusOne(byte[] p) {
    byte[] c = p.clone();
    IpPacket.decrementTtl(c, 0);
    return c;
  }

  /** The next packet written to {@code tun} with ICMP sequence {@code seq}, skipping earlier ones; null if none in time. */
  static byte[] takeSeq(InMemoryDevice tun, int seq) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      byte[] p = tun.takeWritten(Duration.ofNanos(left));
      if (p != null && IcmpEcho.sequence(p, 0, p.length) == seq) {
        return p;
      }
    }
    return null;
  }

  String diag() {
    StringBuilder b = new StringBuilder();
    for (Node n : nodes) {
      b.append("--- ").append(n.tun.name()).append('\n');
      for (String line : StatusText.of(n.device).split("\n")) {
        if (!line.endsWith(" 0")) {
          b.append(line).append('\n');
        }
      }
      if (n.agent != null) {
        b.append(StatusText.of(n.agent));
      }
    }
    return b.toString();
  }

  void awaitOwner(Node g, PublicKey owner) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!owner.equals(g.agent.owner(HOST)) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(g.agent.owner(HOST)).as("owner at %s\n%s", g.tun.name(), diag()).isEqualTo(owner);
  }

  @Test
  void aServerReachesAHostAtWhicheverGatewayItIsConnectedTo() throws Exception {
    EtcdCluster.assumeAvailable();
    etcd = EtcdCluster.start(3);
    EtcdHostStore.Config cfg = new EtcdHostStore.Config(etcd.clientUrls(), "dx" + NetNs.randomId(4), 3000, Duration.ofSeconds(1));
    Node g1 = new Node("g1", 1);
    Node g2 = new Node("g2", 2);
    Node g3 = new Node("g3", 3);
    Node host = new Node("host", 9);
    Node[] gws = {g1, g2, g3};
    String[] sites = {"198.18.210.0/24", "198.18.220.0/24", "198.18.230.0/24"};
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        if (i != j) {
          gws[i].device.addPeer(PeerConfig.of(gws[j].pub(), gws[j].ep, sites[j]).withName("g" + (j + 1)).withDctun(true));
        }
      }
      gws[i].device.addPeer(PeerConfig.of(host.pub(), (UdpEndpoint) null, HOST_IP + "/32").withName("host").withRoaming(true));
    }
    host.device.addPeer(PeerConfig.of(g1.pub(), g1.ep, "198.18.230.0/24").withName("g1"));
    for (int i = 0; i < 3; i++) {
      gws[i].agent = new EtcdMeshAgent(gws[i].device, cfg, 100 + i);
      gws[i].engine.everyTick(gws[i].agent::tick);
    }
    nodes.forEach(n -> n.engine.start());

    // The first packet starts the handshake; until etcd has told gateway 3 where the host is, gateway 3
    // refuses packets from it through gateway 1 (source not allowed), unlike the gossip, whose announcement
    // travels ahead of the data in the same tunnel. So: connect, wait for the route, then send.
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 0))).isTrue();
    awaitOwner(g3, g1.pub());
    awaitOwner(g2, g1.pub());
    byte[] out = ping(HOST_IP, SERVER_IP, 1);
    assertThat(host.tun.inject(out)).isTrue();
    assertThat(takeSeq(g3.tun, 1)).as("the host's packet at the server's side\n%s", diag())
        .containsExactly(Arrays.copyOf(ttlMinusOne(out), out.length));
    assertThat(g3.tun.inject(ping(SERVER_IP, HOST_IP, 2))).isTrue();
    assertThat(takeSeq(host.tun, 2)).as("the server reaches the host through gateway 1").isNotNull();

    clock.advanceSeconds(2);
    host.device.removePeer(g1.pub());
    host.device.addPeer(PeerConfig.of(g2.pub(), g2.ep, "198.18.230.0/24").withName("g2"));
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 3))).isTrue(); // a new handshake, with gateway 2
    awaitOwner(g3, g2.pub());
    awaitOwner(g1, g2.pub());
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 5))).isTrue();
    assertThat(takeSeq(g3.tun, 5)).as("the host's packet, now through gateway 2\n%s", diag()).isNotNull();
    assertThat(g3.tun.inject(ping(SERVER_IP, HOST_IP, 4))).isTrue();
    byte[] got = takeSeq(host.tun, 4);
    assertThat(got).as("the server reaches the host through gateway 2\n%s", diag()).isNotNull();
    assertThat(IcmpEcho.sequence(got, 0, got.length)).isEqualTo(4);
    assertThat(g2.device.forwarded()).as("gateway 2 forwarded it").isPositive();

    // etcd out of reach: the gateways keep forwarding on the routes they know.
    etcd.cutOffRoot();
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (Arrays.stream(gws).anyMatch(g -> g.agent.store().etcdConnected()) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(Arrays.stream(gws).noneMatch(g -> g.agent.store().etcdConnected())).as("etcd unreachable everywhere\n%s", diag()).isTrue();
    assertThat(g3.tun.inject(ping(SERVER_IP, HOST_IP, 6))).isTrue();
    assertThat(takeSeq(host.tun, 6)).as("the server still reaches the host, etcd unreachable\n%s", diag()).isNotNull();
    etcd.reconnectRoot();
    for (Node g : gws) {
      assertThat(g.device.drops().count(DropReason.FORWARD_LOOP)).isZero();
    }
  }
}
