package io.dctun.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.session.Timers;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two whole engines — packet device, transport, threads, timers — joined by an {@link
 * InMemoryNetwork}: no root, no sockets, no TUN. Time is a manual clock and the engines are
 * ticked by the test, so a timer fires exactly when the test says; the receive and device
 * threads are real, so the tests wait for outcomes (bounded), never for time.
 */
class EngineTest {
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.0.1", 51820);
  private static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.2", 51820);

  /** Moves only when the test moves it; read from several threads. */
  static final class ManualClock implements Clock {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Override
    public long nanoTime() {
      return now.get();
    }

    @Override
    public long wallClockNanos() {
      return 1_790_000_000_000_000_000L + now.get();
    }

    void advanceNanos(long n) {
      now.addAndGet(n);
    }
  }

  /** One site: an engine over an in-memory TUN and an in-memory UDP socket. */
  final class Site implements AutoCloseable {
    final PrivateKey key = PrivateKey.generate();
    final InMemoryDevice tun;
    final MemoryTransport udp;
    final AtomicLong writeErrors = new AtomicLong();
    final Device device;
    final Engine engine;

    Site(String name, UdpEndpoint at) {
      tun = new InMemoryDevice(name);
      udp = net.bind(at.address());
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, writeErrors), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock);
      sites.add(this);
    }

    Peer peerOf(Site other) {
      return device.peer(other.key.publicKey());
    }

    @Override
    public void close() {
      engine.close();
    }
  }

  private final ManualClock clock = new ManualClock();
  private final InMemoryNetwork net = new InMemoryNetwork();
  private final List<Site> sites = new ArrayList<>();

  @AfterEach
  void closeSites() {
    sites.forEach(Site::close);
  }

  /** A (198.18.1.0/24 behind it) knows B's endpoint; B (198.18.2.0/24) learns A's from A's handshake. */
  private Site[] pair() {
    Site a = new Site("a", EP_A);
    Site b = new Site("b", EP_B);
    a.device.addPeer(PeerConfig.of(b.key.publicKey(), EP_B, "198.18.2.0/24"));
    b.device.addPeer(PeerConfig.of(a.key.publicKey(), (UdpEndpoint) null, "198.18.1.0/24"));
    a.engine.start();
    b.engine.start();
    return new Site[] {a, b};
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

  /** Injects {@code pkt} at {@code from}'s TUN and returns what {@code to}'s TUN is given (null: nothing in time). */
  private static byte[] carry(Site from, Site to, byte[] pkt) throws InterruptedException {
    assertThat(from.tun.inject(pkt)).as("TUN queue accepted the packet").isTrue();
    return to.tun.takeWritten(WAIT);
  }

  /** Waits (bounded) until {@code value} reaches {@code atLeast}; returns the last value seen. */
  private static long awaitAtLeast(LongSupplier value, long atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    long v = value.getAsLong();
    while (v < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
      v = value.getAsLong();
    }
    return v;
  }

  @Test
  void handshakeThenDataBothWays() throws Exception {
    Site[] s = pair();
    Site a = s[0];
    Site b = s[1];
    byte[] request = ping("198.18.1.5", "198.18.2.7", 1);
    assertThat(carry(a, b, request)).as("A's ping at B's TUN").containsExactly(request);
    assertThat(b.peerOf(a).endpoint()).as("B learned A's endpoint from the handshake").isEqualTo(EP_A);
    assertThat(a.peerOf(b).currentKeypair()).isNotNull();

    byte[] reply = ping("198.18.2.7", "198.18.1.5", 2);
    assertThat(carry(b, a, reply)).as("B's answer at A's TUN").containsExactly(reply);
    for (int seq = 3; seq < 53; seq++) {
      byte[] p = ping("198.18.1.5", "198.18.2.7", seq);
      assertThat(carry(a, b, p)).as("packet %d", seq).containsExactly(p);
    }
    assertThat(a.udp.sendErrors()).isZero();
    assertThat(b.udp.sendErrors()).isZero();
    assertThat(a.writeErrors.get() + b.writeErrors.get()).isZero();
    assertThat(net.unreachable()).isZero();
  }

  @Test
  void aPeerThatMovesIsFollowedToItsNewAddress() throws Exception {
    Site[] s = pair();
    Site a = s[0];
    Site b = s[1];
    byte[] first = ping("198.18.1.5", "198.18.2.7", 1);
    assertThat(carry(a, b, first)).containsExactly(first);

    UdpEndpoint moved = UdpEndpoint.of("198.18.0.99", 40001);
    a.udp.rebind(moved.address()); // A's NAT binding changed
    byte[] fromNewPlace = ping("198.18.1.5", "198.18.2.7", 2);
    assertThat(carry(a, b, fromNewPlace)).containsExactly(fromNewPlace);
    assertThat(b.peerOf(a).endpoint()).as("B follows the authenticated packet").isEqualTo(moved);

    byte[] answer = ping("198.18.2.7", "198.18.1.5", 3);
    assertThat(carry(b, a, answer)).as("B answers at the new address").containsExactly(answer);
    assertThat(net.unreachable()).as("nothing went to the old address").isZero();
  }

  @Test
  void aTransportThatFailsAndReturnsCarriesTrafficAgain() throws Exception {
    Site[] s = pair();
    Site a = s[0];
    Site b = s[1];
    byte[] first = ping("198.18.1.5", "198.18.2.7", 1);
    assertThat(carry(a, b, first)).containsExactly(first);

    a.udp.setDown(true);
    assertThat(a.tun.inject(ping("198.18.1.5", "198.18.2.7", 2))).isTrue();
    assertThat(awaitAtLeast(a.udp::sendErrors, 1)).as("the send failed and was counted").isEqualTo(1);
    assertThat(b.tun.pollWritten()).isNull();

    a.udp.setDown(false);
    byte[] after = ping("198.18.1.5", "198.18.2.7", 3);
    assertThat(carry(a, b, after)).as("the session outlived the outage").containsExactly(after);
  }

  @Test
  void aHandshakeLostToAnOutageIsRetriedByTheTimerAndTheQueuedPacketDelivered() throws Exception {
    Site[] s = pair();
    Site a = s[0];
    Site b = s[1];
    a.udp.setDown(true);
    byte[] queued = ping("198.18.1.5", "198.18.2.7", 1);
    assertThat(a.tun.inject(queued)).isTrue();
    assertThat(awaitAtLeast(a.udp::sendErrors, 1)).as("the initiation was lost").isEqualTo(1);
    assertThat(awaitAtLeast(() -> a.peerOf(b).queuedPackets(), 1)).as("the packet waits for a session").isEqualTo(1);

    a.udp.setDown(false);
    a.engine.tick();
    assertThat(b.tun.pollWritten()).as("no retry before REKEY_TIMEOUT").isNull();
    clock.advanceNanos(Timers.REKEY_TIMEOUT + Timers.REKEY_TIMEOUT_JITTER_MAX);
    a.engine.tick(); // the retransmit timer fires (REKEY_TIMEOUT plus jitter): a new initiation goes out
    assertThat(b.tun.takeWritten(WAIT)).as("queued packet delivered once the retry completed").containsExactly(queued);
    assertThat(a.peerOf(b).handshakeAttempts()).isZero();
  }

  @Test
  void closeStopsEveryThreadItStartedAndReleasesTheAddress() throws Exception {
    Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
    Site[] s = pair();
    byte[] p = ping("198.18.1.5", "198.18.2.7", 1);
    assertThat(carry(s[0], s[1], p)).containsExactly(p);
    Set<Thread> started = new HashSet<>(Thread.getAllStackTraces().keySet());
    started.removeAll(before);
    assertThat(started).as("device readers and receive threads").extracting(Thread::getName)
        .anyMatch(n -> n.startsWith("dctun-tun-")).anyMatch(n -> n.startsWith("dctun-memory-"));

    s[0].close();
    s[1].close();
    assertThat(started).as("all joined by close()").noneMatch(Thread::isAlive);
    assertThat(s[0].udp.isClosed()).isTrue();
    assertThat(s[0].tun.isClosed()).isTrue();
    assertThat(s[0].peerOf(s[1]).currentKeypair()).as("keys forgotten").isNull();
    net.bind(new InetSocketAddress(EP_A.address().getAddress(), EP_A.address().getPort())).close();
  }

  @Test
  void tickTasksRunWithTheClocksTimeAndOneThatThrowsDoesNotStopTheOthers() {
    Site a = new Site("a", EP_A);
    List<Long> seen = new ArrayList<>();
    a.engine.everyTick(now -> {
      throw new IllegalStateException("task bug");
    });
    a.engine.everyTick(seen::add);
    a.engine.tick();
    clock.advanceNanos(Engine.TICK_NANOS);
    a.engine.tick();
    assertThat(seen).containsExactly(1_000_000_000L, 1_000_000_000L + Engine.TICK_NANOS);
  }
}
