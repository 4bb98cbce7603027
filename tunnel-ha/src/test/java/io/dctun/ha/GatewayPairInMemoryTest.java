package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A gateway pair run with the library modules alone, as an embedding program would: two boxes of
 * site A sharing one static key, each an {@link Engine} behind an {@link OutputGate} with a
 * {@link GatewayPair}, and a remote site B, all on an {@link InMemoryNetwork}. No root, no raw
 * sockets: the test plays VRRP (it moves the public VIP, then tells the pair), and joins the two
 * boxes' {@link SyncSession}s by hand. The engines' threads are real, so the test waits for
 * outcomes (bounded), never for time; the clock only moves when the test moves it.
 */
class GatewayPairInMemoryTest {
  static final Duration WAIT = Duration.ofSeconds(5);
  static final InetSocketAddress VIP = new InetSocketAddress("198.18.0.100", 51820);
  static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.2", 51820);
  static final byte[] SYNC_KEY = PrivateKey.generate().deriveSecret("dctun ha state sync v1");

  static final class ManualClock implements Clock {
    final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Override
    public long nanoTime() {
      return now.get();
    }

    @Override
    public long wallClockNanos() {
      return 1_790_000_000_000_000_000L + now.get();
    }
  }

  final ManualClock clock = new ManualClock();
  final InMemoryNetwork net = new InMemoryNetwork();
  final PrivateKey siteA = PrivateKey.generate(); // one identity for both boxes of the pair
  final PrivateKey siteB = PrivateKey.generate();
  final List<AutoCloseable> open = new ArrayList<>();

  /** What this test's "VRRP" was asked to do by a pair. */
  static final class FakeVrrp implements GatewayPair.Vrrp {
    final List<String> conditions = new ArrayList<>();
    int announcements;

    @Override
    public void setCondition(String condition, boolean healthy) {
      conditions.add(condition + "=" + healthy);
    }

    @Override
    public void announce() {
      announcements++;
    }
  }

  /** One box of site A: its engine behind a gate, its sync session, its pair driver. */
  final class Box {
    final InMemoryDevice tun;
    final MemoryTransport udp;
    final OutputGate gate;
    final Device device;
    final Engine engine;
    final SyncSession sync;
    final GatewayPair pair;
    final FakeVrrp vrrp = new FakeVrrp();
    final List<String> hooks = new ArrayList<>();

    Box(String name, InetSocketAddress own, long epoch) {
      PairConfig config = PairConfig.builder().priority(name.equals("a1") ? 150 : 100).advertIntervalMillis(100)
          .publicSide(PairConfig.Side.of("dctun-public", "eth0", 51, "198.18.0.100/24"))
          .privateSide(PairConfig.Side.of("dctun-private", "eth1", 52, "198.18.1.1/24"))
          .trackHandshakes(10, 50)
          .build();
      tun = new InMemoryDevice(name);
      udp = net.bind(own);
      gate = new OutputGate(Engine.output(udp, tun, new AtomicLong()));
      device = new Device(siteA, InMemoryDevice.DEFAULT_MTU, gate, clock);
      device.addPeer(PeerConfig.of(siteB.publicKey(), EP_B, "198.18.2.0/24"));
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock);
      sync = new SyncSession(SYNC_KEY, epoch, null, device, 1_000_000);
      pair = new GatewayPair(config, device, gate, sync, (event, instance, ifname) -> hooks.add(event));
      pair.useVrrp(vrrp);
      engine.start();
      open.add(pair);
      open.add(engine);
    }

    /** What VrrpInstance does on a state change: VIPs first (here: the socket moves), then the pair hears. */
    void vrrpSays(VrrpState from, VrrpState to) {
      if (to == VrrpState.MASTER) {
        udp.rebind(VIP);
      }
      pair.listener().stateChanged("dctun-public", from, to, "test");
    }
  }

  final class SiteB {
    final InMemoryDevice tun = new InMemoryDevice("b");
    final MemoryTransport udp = net.bind(EP_B.address());
    final Device device = new Device(siteB, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()),
        clock);
    final Engine engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock);

    SiteB() {
      device.addPeer(PeerConfig.of(siteA.publicKey(), UdpEndpoint.of(VIP), "198.18.1.0/24"));
      engine.start();
      open.add(engine);
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[56]);
    return Arrays.copyOf(buf, n);
  }

  static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8
        | Integer.parseInt(p[3]);
  }

  static long awaitAtLeast(LongSupplier value, long atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    long v = value.getAsLong();
    while (v < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
      v = value.getAsLong();
    }
    return v;
  }

  static boolean awaitTrue(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() >= deadline) {
        return false;
      }
      Thread.sleep(5);
    }
    return true;
  }

  /** The master's session streams to the backup's (what StateSync's threads do over UDP). */
  void syncOnce(Box from, Box to) {
    long now = clock.nanoTime();
    long wallMs = System.currentTimeMillis();
    from.sync.poll(now, wallMs, (buf, off, len) -> {
      byte[] d = Arrays.copyOfRange(buf, off, off + len);
      to.sync.receive(d, d.length, now, wallMs);
    });
  }

  @Test
  void thePairFailsOverAndTheRemoteSiteFollowsTheNewMaster() throws Exception {
    Box a1 = new Box("a1", new InetSocketAddress("198.18.0.11", 51820), 1);
    Box a2 = new Box("a2", new InetSocketAddress("198.18.0.12", 51820), 2);
    SiteB b = new SiteB();
    a2.vrrpSays(VrrpState.INITIALIZE, VrrpState.BACKUP);

    // a1 becomes master: its gate opens and it handshakes with B at once, from the VIP.
    a1.vrrpSays(VrrpState.BACKUP, VrrpState.MASTER);
    assertThat(a1.hooks).containsExactly("master");
    assertThat(a1.gate.isOpen()).isTrue();
    assertThat(a2.gate.isOpen()).isFalse();
    assertThat(awaitAtLeast(() -> a1.device.peer(siteB.publicKey()).lastHandshakeWallNanos(), 1)).isPositive();
    assertThat(awaitTrue(() -> b.device.peer(siteA.publicKey()).currentKeypair() != null))
        .as("B confirmed a1's session").isTrue();
    byte[] toA = ping("198.18.2.7", "198.18.1.5", 1);
    assertThat(b.tun.inject(toA)).isTrue();
    assertThat(a1.tun.takeWritten(WAIT)).as("B's ping at a1").containsExactly(toA);

    // The master streams its handshake timestamps and its health to the backup.
    syncOnce(a1, a2);
    assertThat(a2.sync.timestampsReceived()).isEqualTo(1);
    a2.pair.tick();
    assertThat(a2.vrrp.conditions).containsExactly("peer-handshake=true");

    // a1 dies; VRRP on a2 takes the VIP and makes it master. B's session still points at the VIP.
    a1.udp.rebind(new InetSocketAddress("198.18.0.111", 51820)); // its VIP is gone with it
    a1.engine.close();
    Object sessionWithA1 = b.device.peer(siteA.publicKey()).currentKeypair();
    clock.now.addAndGet(2_000_000_000L);
    a2.vrrpSays(VrrpState.BACKUP, VrrpState.MASTER);
    assertThat(a2.hooks).containsExactly("backup", "master");
    assertThat(awaitAtLeast(() -> a2.device.peer(siteB.publicKey()).lastHandshakeWallNanos(), 1))
        .as("the new master's handshake, accepted by B at once").isPositive();
    // B, the responder, sends on the new session only once a2's confirming keepalive has arrived
    // (until then it still encrypts for a1's session, which a2 cannot open), as in WireGuard.
    assertThat(awaitTrue(() -> b.device.peer(siteA.publicKey()).currentKeypair() != sessionWithA1))
        .as("B confirmed the new master's session").isTrue();
    byte[] again = ping("198.18.2.7", "198.18.1.5", 2);
    assertThat(b.tun.inject(again)).isTrue();
    assertThat(a2.tun.takeWritten(WAIT)).as("B's ping at a2 after the failover").containsExactly(again);
    byte[] back = ping("198.18.1.5", "198.18.2.7", 3);
    assertThat(a2.tun.inject(back)).isTrue();
    assertThat(b.tun.takeWritten(WAIT)).as("a2's answer at B").containsExactly(back);

    // The takeover's follow-ups: announcements after 1.1 s and 5 s; no second initiation, as
    // the handshake completed.
    clock.now.addAndGet(1_300_000_000L);
    a2.pair.tick();
    assertThat(a2.vrrp.announcements).isEqualTo(1);
    assertThat(a2.device.peer(siteB.publicKey()).handshakeInFlight()).isFalse();
    clock.now.addAndGet(4_000_000_000L);
    a2.pair.tick();
    assertThat(a2.vrrp.announcements).isEqualTo(2);
    assertThat(a2.pair.takeovers()).isEqualTo(1);
    assertThat(a2.sync.isSending()).as("the new master streams to the old one").isTrue();
    // what the appliance's status file, `dctun status` and metrics read: the pair's own report
    assertThat(io.dctun.core.status.StatusText.of(a2.pair)).contains("ha.tunnel sending\n", "ha.takeovers 1\n",
        "ha.releases 0\n", "ha.sync.timestamps-received 1\n", "ha.handshake.failed-as-master no\n",
        "ha.sync.drop.REFLECTED 0\n", "ha.sync.drop.OVERSIZED 0\n", "ha.sync.drop.REPLAYED 0\n");
  }
}
