package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.DropReason;
import io.dctun.core.session.PeerConfig;
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
 * Three active-active gateways and a roaming host, each a whole engine on an in-memory network
 * (no root): the host connects to gateway 1 and a server behind gateway 3 reaches it; the host
 * moves to gateway 2 and the server reaches it there, through routes the gateways shared over
 * the control channel. Time is a manual clock; the engines are ticked by the test.
 */
class MeshAgentTest {
  static final Duration WAIT = Duration.ofSeconds(5);
  static final String HOST_IP = "198.18.99.5";
  static final String SERVER_IP = "198.18.30.10";
  static final Prefix HOST = Prefix.parse(HOST_IP + "/32");

  /** Moved by the test, read by the engines' threads: hence atomic, not core.testing's plain field. */
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

  final class Node {
    final PrivateKey key = PrivateKey.generate();
    final UdpEndpoint ep;
    final InMemoryDevice tun;
    final Device device;
    final Engine engine;
    MeshAgent agent;

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
    nodes.forEach(n -> n.engine.close());
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

  /** Every node's counters, for a failure message. */
  String diag() {
    StringBuilder b = new StringBuilder();
    for (Node n : nodes) {
      b.append("--- ").append(n.tun.name()).append('\n');
      for (String line : io.dctun.core.status.StatusText.of(n.device).split("\n")) {
        if (!line.endsWith(" 0")) {
          b.append(line).append('\n');
        }
      }
      if (n.agent != null) {
        b.append(io.dctun.core.status.StatusText.of(n.agent));
      }
    }
    return b.toString();
  }

  void tickAll() {
    for (Node n : nodes) {
      n.engine.tick();
    }
  }

  /** Ticks until {@code g} routes the host to {@code owner} (bounded). */
  void awaitOwner(Node g, PublicKey owner) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!owner.equals(g.agent.owner(HOST)) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(g.agent.owner(HOST)).isEqualTo(owner);
  }

  @Test
  void aServerReachesAHostAtWhicheverGatewayItIsConnectedTo() throws Exception {
    Node g1 = new Node("g1", 1);
    Node g2 = new Node("g2", 2);
    Node g3 = new Node("g3", 3);
    Node host = new Node("host", 9);
    Node[] gws = {g1, g2, g3};
    String[] sites = {"198.18.10.0/24", "198.18.20.0/24", "198.18.30.0/24"};
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        if (i != j) {
          gws[i].device.addPeer(PeerConfig.of(gws[j].pub(), gws[j].ep, sites[j]).withName("g" + (j + 1)).withDctun(true));
        }
      }
      gws[i].device.addPeer(PeerConfig.of(host.pub(), (UdpEndpoint) null, HOST_IP + "/32").withName("host").withRoaming(true));
    }
    host.device.addPeer(PeerConfig.of(g1.pub(), g1.ep, "198.18.30.0/24").withName("g1"));
    for (int i = 0; i < 3; i++) {
      gws[i].agent = new MeshAgent(gws[i].device, 100 + i, HostDirectory.DEFAULT_LEASE_MILLIS, clock.nanoTime());
      gws[i].engine.everyTick(gws[i].agent::tick);
    }
    nodes.forEach(n -> n.engine.start());

    // The host connects to gateway 1 and reaches the server behind gateway 3.
    byte[] out = ping(HOST_IP, SERVER_IP, 1);
    assertThat(host.tun.inject(out)).isTrue();
    assertThat(g3.tun.takeWritten(WAIT)).as("the host's packet at the server's side\n%s", diag()).containsExactly(Arrays.copyOf(ttlMinusOne(out), out.length));
    awaitOwner(g3, g1.pub());
    awaitOwner(g2, g1.pub());
    byte[] back = ping(SERVER_IP, HOST_IP, 2);
    assertThat(g3.tun.inject(back)).isTrue();
    assertThat(host.tun.takeWritten(WAIT)).as("the server reaches the host through gateway 1").isNotNull();

    // The host moves to gateway 2 (a new initiation, a newer timestamp).
    clock.advanceSeconds(2);
    host.device.removePeer(g1.pub());
    host.device.addPeer(PeerConfig.of(g2.pub(), g2.ep, "198.18.30.0/24").withName("g2"));
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 3))).isTrue();
    assertThat(g3.tun.takeWritten(WAIT)).as("the host's packet, now through gateway 2").isNotNull();
    awaitOwner(g3, g2.pub());
    awaitOwner(g1, g2.pub());
    assertThat(g3.tun.inject(ping(SERVER_IP, HOST_IP, 4))).isTrue();
    byte[] got = host.tun.takeWritten(WAIT);
    assertThat(got).as("the server reaches the host through gateway 2").isNotNull();
    assertThat(IcmpEcho.sequence(got, 0, got.length)).isEqualTo(4);
    assertThat(g2.device.forwarded()).as("gateway 2 forwarded it").isPositive();

    // Lease refreshes keep it there; nothing ever bounced between gateways.
    // Each second is ticked only once the last one's messages have all been handled: the
    // engines' receive threads would otherwise lag the clock and see leases the refreshes renewed
    // as expired (the race that once failed this test in CI).
    for (int i = 0; i < 30; i++) {
      clock.advanceSeconds(1);
      tickAll();
      assertThat(net.awaitQuiet(WAIT)).as("the network settles after second %d", i).isTrue();
      assertThat(g3.agent.owner(HOST)).as("gateway 3's route after second %d\n%s", i, diag()).isEqualTo(g2.pub());
    }
    assertThat(g3.agent.owner(HOST)).isEqualTo(g2.pub());
    for (Node g : gws) {
      assertThat(g.device.drops().count(DropReason.FORWARD_LOOP)).isZero();
      assertThat(g.device.drops().count(DropReason.CONTROL_MALFORMED)).isZero();
    }
  }

  /**
   * A gateway that stops withdraws its hosts at once: the others stop routing to it without
   * waiting out the 15 s lease (the clock does not move), and the host reconnecting elsewhere
   * is routed there.
   */
  @Test
  void aGatewayThatLeavesWithdrawsItsHostsAtOnce() throws Exception {
    Node g1 = new Node("g1", 1);
    Node g2 = new Node("g2", 2);
    Node host = new Node("host", 9);
    Node[] gws = {g1, g2};
    String[] sites = {"198.18.10.0/24", "198.18.30.0/24"};
    for (int i = 0; i < 2; i++) {
      Node other = gws[1 - i];
      gws[i].device.addPeer(PeerConfig.of(other.pub(), other.ep, sites[1 - i]).withName("g" + (2 - i)).withDctun(true));
      gws[i].device.addPeer(PeerConfig.of(host.pub(), (UdpEndpoint) null, HOST_IP + "/32").withName("host").withRoaming(true));
      gws[i].agent = new MeshAgent(gws[i].device, 100 + i, HostDirectory.DEFAULT_LEASE_MILLIS, clock.nanoTime());
      gws[i].engine.everyTick(gws[i].agent::tick);
    }
    host.device.addPeer(PeerConfig.of(g2.pub(), g2.ep, "198.18.30.0/24").withName("g2"));
    nodes.forEach(n -> n.engine.start());
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 1))).isTrue();
    assertThat(g2.tun.takeWritten(WAIT)).as("the host's packet at gateway 2\n%s", diag()).isNotNull();
    awaitOwner(g1, g2.pub());

    // g2 stops for good: from a thread of its own, as the gateway's shutdown runs
    Thread stop = new Thread(() -> assertThat(g2.agent.leave()).as("hosts withdrawn").isEqualTo(1));
    stop.start();
    stop.join(WAIT.toMillis());
    assertThat(net.awaitQuiet(WAIT)).isTrue();
    assertThat(g1.agent.owner(HOST)).as("gateway 1 stopped routing the host to gateway 2, at once").isNull();
    assertThat(g2.agent.owner(HOST)).isNull();

    // the host reconnects to gateway 1 (a newer initiation): routed there, by both
    clock.advanceSeconds(1);
    host.device.removePeer(g2.pub());
    host.device.addPeer(PeerConfig.of(g1.pub(), g1.ep, "198.18.30.0/24").withName("g1"));
    assertThat(host.tun.inject(ping(HOST_IP, SERVER_IP, 2))).isTrue();
    assertThat(g2.tun.takeWritten(WAIT)).as("the host's packet, through gateway 1 to the server behind 2").isNotNull();
    awaitOwner(g1, g1.pub());
    awaitOwner(g2, g1.pub());
  }

  static byte[] ttlMinusOne(byte[] p) {
    byte[] c = p.clone();
    io.dctun.core.packet.IpPacket.decrementTtl(c, 0);
    return c;
  }
}
