package io.dctun.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.EndpointSet;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusText;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer with two endpoints, as two whole engines on an {@link InMemoryNetwork}: A and B are
 * joined by two links, each a /30 with one transport at either end, and A lists both of B's
 * addresses. One link goes down (both its ends), the traffic moves to the other, and back once
 * the link returns. Time is simulated: the test moves a manual clock in 100 ms steps and ticks
 * both engines at each, then waits (bounded) until nothing is in flight, so a figure such as
 * "moved 2.2 s after the link went down" is exact and independent of the machine's speed.
 *
 * <pre>
 *   A  198.18.128.1 (link 1, 198.18.128.0/30) 198.18.128.2  B      A's peer B: endpoints [.2, .6]
 *      198.18.128.5 (link 2, 198.18.128.4/30) 198.18.128.6         B's peer A: none (learned)
 * </pre>
 */
class EngineEndpointsTest {
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final long STEP = Engine.TICK_NANOS;
  private static final long S = 1_000_000_000L;
  private static final UdpEndpoint A1 = UdpEndpoint.of("198.18.128.1", 51820);
  private static final UdpEndpoint B1 = UdpEndpoint.of("198.18.128.2", 51820);
  private static final UdpEndpoint A2 = UdpEndpoint.of("198.18.128.5", 51820);
  private static final UdpEndpoint B2 = UdpEndpoint.of("198.18.128.6", 51820);
  private static final Prefix LINK1 = Prefix.parse("198.18.128.0/30");
  private static final Prefix LINK2 = Prefix.parse("198.18.128.4/30");

  /**
   * Read from the engines' threads while the test thread moves it, so an atomic rather than the
   * shared {@code io.dctun.core.testing.ManualClock}, whose field is not safe to publish.
   */
  static final class SharedManualClock implements Clock {
    private final AtomicLong now = new AtomicLong(1_000 * S);

    @Override
    public long nanoTime() {
      return now.get();
    }

    @Override
    public long wallClockNanos() {
      return 1_790_000_000_000_000_000L + now.get();
    }
  }

  final class Site {
    final PrivateKey key = PrivateKey.generate();
    final InMemoryDevice tun;
    final MemoryTransport link1;
    final MemoryTransport link2;
    final Device device;
    final Engine engine;

    Site(String name, UdpEndpoint on1, UdpEndpoint on2) {
      tun = new InMemoryDevice(name);
      link1 = net.bind(on1.address(), LINK1);
      link2 = net.bind(on2.address(), LINK2);
      transports.add(link1);
      transports.add(link2);
      Transports both = Transports.of(link1, link2);
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(both, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), both, clock);
      engines.add(engine);
    }

    Peer peerOf(Site other) {
      return device.peer(other.key.publicKey());
    }
  }

  private final SharedManualClock clock = new SharedManualClock();
  private final InMemoryNetwork net = new InMemoryNetwork();
  private final List<MemoryTransport> transports = new ArrayList<>();
  private final List<Engine> engines = new ArrayList<>();
  private Site a;
  private Site b;

  @AfterEach
  void close() {
    engines.forEach(Engine::close);
  }

  private void sites(boolean dctun) {
    a = new Site("a", A1, A2);
    b = new Site("b", B1, B2);
    a.device.addPeer(new PeerConfig("b", b.key.publicKey(), null, null, List.of(Prefix.parse("198.19.2.0/24")), 0, dctun)
        .withEndpoints(List.of(B1, B2)));
    b.device.addPeer(new PeerConfig("a", a.key.publicKey(), null, null, List.of(Prefix.parse("198.19.1.0/24")), 0, dctun));
    a.engine.start();
    b.engine.start();
  }

  private static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[56]);
    return Arrays.copyOf(buf, n);
  }

  private static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }

  private void link1(boolean up) {
    a.link1.setDown(!up);
    b.link1.setDown(!up);
  }

  /** Waits (bounded) until every datagram sent has been handled or lost and both TUNs are read. */
  private void settle() throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    int quiet = 0;
    while (quiet < 3) {
      assertThat(System.nanoTime()).as("the network settles").isLessThan(deadline);
      long sent = 0;
      long done = net.unreachable();
      for (MemoryTransport t : transports) {
        sent += t.sent();
        done += t.handled() + t.lostWhileDown() + t.queueDrops();
      }
      boolean idle = sent == done && a.tun.pendingInjected() == 0 && b.tun.pendingInjected() == 0;
      quiet = idle ? quiet + 1 : 0;
      Thread.sleep(1);
    }
  }

  /**
   * One 100 ms step of simulated time: a ping each way (so a stock peer's path check sees its data
   * answered while the path works), both engines ticked, and everything settled.
   */
  private int seq;

  private void step() throws InterruptedException {
    seq++;
    a.tun.inject(ping("198.19.1.5", "198.19.2.7", seq));
    b.tun.inject(ping("198.19.2.7", "198.19.1.5", seq));
    settle();
    clock.now.addAndGet(STEP);
    a.engine.tick();
    b.engine.tick();
    settle();
  }

  /** Steps until {@code done} holds, at most {@code limitNanos} of simulated time; returns the time taken. */
  private long stepUntil(java.util.function.BooleanSupplier done, long limitNanos) throws InterruptedException {
    long start = clock.nanoTime();
    while (!done.getAsBoolean()) {
      assertThat(clock.nanoTime() - start).as("simulated time").isLessThan(limitNanos);
      step();
    }
    return clock.nanoTime() - start;
  }

  /** Drains both TUNs and says whether a packet went each way in the last steps. */
  private boolean[] drainAndCheck() throws InterruptedException {
    boolean[] got = new boolean[2];
    for (byte[] p; (p = a.tun.pollWritten()) != null; ) {
      got[1] = true;
    }
    for (byte[] p; (p = b.tun.pollWritten()) != null; ) {
      got[0] = true;
    }
    return got;
  }

  /** Sends one ping each way now and says whether both arrived (bounded wait). */
  private boolean bothWays(int s) throws InterruptedException {
    drainAndCheck();
    byte[] ab = ping("198.19.1.5", "198.19.2.7", 10_000 + s);
    byte[] ba = ping("198.19.2.7", "198.19.1.5", 10_000 + s);
    a.tun.inject(ab);
    byte[] atB = b.tun.takeWritten(WAIT);
    b.tun.inject(ba);
    byte[] atA = a.tun.takeWritten(WAIT);
    return Arrays.equals(ab, atB) && Arrays.equals(ba, atA);
  }

  @ParameterizedTest(name = "dctun peer: {0}")
  @ValueSource(booleans = {true, false})
  void trafficMovesToTheOtherLinkWithinThreeSecondsAndBackWhenItReturns(boolean dctun) throws Exception {
    sites(dctun);
    Peer bAtA = a.peerOf(b);
    Peer aAtB = b.peerOf(a);
    assertThat(bothWays(0)).as("the first endpoint answers").isTrue();
    assertThat(bAtA.endpoint()).isEqualTo(B1);
    long steadyUntil = clock.nanoTime() + 10 * S;
    stepUntil(() -> clock.nanoTime() >= steadyUntil, 20 * S); // 10 s of steady traffic
    assertThat(bAtA.endpoint()).as("no move while both links work").isEqualTo(B1);
    assertThat(bAtA.paths().moves()).isZero();
    if (dctun) {
      assertThat(bAtA.paths().state(1)).as("the standby link is probed and answers").isEqualTo(EndpointSet.State.UP);
      assertThat(aAtB.probesAnswered()).isPositive();
      assertThat(aAtB.endpoint()).as("probes over link 2 did not move B's endpoint for A").isEqualTo(A1);
    }

    link1(false);
    long moved = stepUntil(() -> bAtA.endpoint().equals(B2), 10 * S);
    assertThat(moved).as("moved to the second endpoint (simulated ns)").isLessThanOrEqualTo(3 * S);
    step();
    drainAndCheck();
    step();
    assertThat(drainAndCheck()).as("traffic flows both ways over link 2").containsExactly(true, true);
    assertThat(aAtB.endpoint()).as("B follows A onto link 2").isEqualTo(A2);
    assertThat(bothWays(1)).isTrue();
    System.out.printf("several endpoints (in memory, %s peer): moved %.1f s after the link went down%n",
        dctun ? "dctun" : "stock", moved / 1e9);

    assertThat(bAtA.paths().state(0)).isEqualTo(EndpointSet.State.DOWN);
    link1(true);
    long back = stepUntil(() -> bAtA.endpoint().equals(B1), 30 * S);
    assertThat(back).as("not before the hold time").isGreaterThanOrEqualTo(EndpointSet.DEFAULT_HOLD);
    assertThat(back).as("within the hold time and a few probe intervals").isLessThanOrEqualTo(EndpointSet.DEFAULT_HOLD + 4 * S);
    step();
    step();
    assertThat(bothWays(2)).as("traffic flows over link 1 again").isTrue();
    assertThat(aAtB.endpoint()).as("B follows A back onto link 1").isEqualTo(A1);
    assertThat(bAtA.paths().moves()).as("one move away, one back: no flapping").isEqualTo(2);
    assertThat(bAtA.paths().movesBack()).isEqualTo(1);
    System.out.printf("several endpoints (in memory, %s peer): back %.1f s after the link returned%n",
        dctun ? "dctun" : "stock", back / 1e9);

    String status = StatusText.of(a.device);
    assertThat(status).contains("peer.b.endpoint 198.18.128.2:51820\n")
        .contains("peer.b.path.0.state up current\n")
        .contains("peer.b.path.1.address 198.18.128.6:51820\n")
        .contains("peer.b.endpoint-moves 2\n");
  }
}
