package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The driver between a real {@link Device} and the pair controller, without a network or a
 * thread: the gateway's Device and a remote site's are joined by a wire the test empties by hand,
 * and share a clock the test moves (its wall clock is years from the real one, so a driver that
 * read the system's clock instead of the device's would fail here). Conditions go to a real
 * {@link VrrpSyncGroup} built from the same {@link PairConfig}, so the test also sees what VRRP
 * does with them; twin reports arrive through a {@link SyncSession} as the state sync delivers them.
 */
class GatewayPairTest {
  static final int WITHIN_S = 10;
  static final int WEIGHT = 50;
  static final int PRIORITY = 150;
  static final long S = 1_000_000_000L;
  static final UdpEndpoint EP_GW = UdpEndpoint.of("198.18.0.100", 51820);
  static final UdpEndpoint EP_REMOTE = UdpEndpoint.of("198.18.0.1", 51820);
  static final byte[] SYNC_KEY = PrivateKey.generate().deriveSecret("dctun ha state sync v1");

  /** Monotonic and wall time, moved by the test; wall is 2040-01-01 plus the monotonic time. */
  static final class ManualClock implements Clock {
    long now = 5 * S;

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public long wallClockNanos() {
      return 2_208_988_800L * S + now;
    }

    void advanceMillis(long ms) {
      now += ms * 1_000_000L;
    }
  }

  /** Datagrams in flight between the two devices, delivered when the test says so. */
  final class Net implements Output {
    final Endpoint self;

    Net(Endpoint self) {
      this.self = self;
    }

    @Override
    public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {
      wire.add(new Object[] {self, to, Arrays.copyOfRange(buf, off, off + len)});
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      // no inner packets in these tests
    }
  }

  final ManualClock clock = new ManualClock();
  final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  final PrivateKey gwKey = PrivateKey.generate();
  final PrivateKey remoteKey = PrivateKey.generate();
  final List<String> reports = new ArrayList<>();
  final List<String> hooks = new ArrayList<>();
  PairConfig config;
  Device gw;
  Device remote;
  OutputGate gate;
  SyncSession sync;
  GatewayPair pair;
  VrrpSyncGroup vrrp;
  long twinSeq;

  @BeforeEach
  void setUp() {
    config = PairConfig.builder().priority(PRIORITY).advertIntervalMillis(100)
        .publicSide(PairConfig.Side.of("dctun-public", "eth0", 51, "198.18.0.100/24"))
        .privateSide(PairConfig.Side.of("dctun-private", "eth1", 52, "198.18.20.1/24"))
        .trackHandshakes(WITHIN_S, WEIGHT).build();
    gate = new OutputGate(new Net(EP_GW));
    gw = new Device(gwKey, 1420, gate, clock);
    gw.addPeer(PeerConfig.of(remoteKey.publicKey(), EP_REMOTE, "198.18.10.0/24"));
    remote = new Device(remoteKey, 1420, new Net(EP_REMOTE), clock);
    remote.addPeer(PeerConfig.of(gwKey.publicKey(), EP_GW, "198.18.20.0/24"));

    List<VrrpRouter> routers = new ArrayList<>();
    int box = VrrpAdvert.ipv4("198.18.0.12");
    for (VrrpConfig c : config.syncGroup()) {
      routers.add(new VrrpRouter(c, box++));
    }
    vrrp = new VrrpSyncGroup(routers);
    sync = new SyncSession(SYNC_KEY, 1, null, gw, 100_000);
    pair = new GatewayPair(config, gw, gate, sync, (event, instance, ifname) -> hooks.add(event + " " + instance));
    pair.useVrrp(new GatewayPair.Vrrp() {
      @Override
      public void setCondition(String condition, boolean healthy) {
        reports.add(condition + "=" + healthy);
        vrrp.setCondition(clock.nanoTime(), condition, healthy);
      }

      @Override
      public void announce() {}
    });
  }

  @AfterEach
  void tearDown() {
    pair.close();
    gw.close();
    remote.close();
  }

  private void becomeMaster() {
    pair.listener().stateChanged("dctun-public", VrrpState.BACKUP, VrrpState.MASTER, "test");
    assertThat(pair.isMaster()).isTrue();
    assertThat(gate.isOpen()).isTrue();
  }

  private void becomeBackup() {
    pair.listener().stateChanged("dctun-public", VrrpState.MASTER, VrrpState.BACKUP, "test");
    assertThat(pair.isMaster()).isFalse();
    assertThat(gate.isOpen()).isFalse();
  }

  /** Delivers everything in flight, both ways, until the wire is quiet (bounded). */
  private int pump() {
    int moved = 0;
    while (!wire.isEmpty() && moved < 1000) {
      Object[] d = wire.poll();
      byte[] data = (byte[]) d[2];
      byte[] buf = new byte[data.length + 64];
      System.arraycopy(data, 0, buf, 32, data.length);
      (d[1].equals(EP_GW) ? gw : remote).inbound(buf, 32, data.length, (Endpoint) d[0], clock.nanoTime());
      moved++;
    }
    assertThat(wire).as("wire quiet").isEmpty();
    return moved;
  }

  /** The twin's health report, arriving now through the state sync. */
  private void twinSays(long newestHandshakeWall, boolean failing) {
    byte[] d = new byte[SyncCodec.MAX_DATAGRAM];
    long wallMs = System.currentTimeMillis();
    int at = SyncCodec.begin(d, SyncCodec.Kind.HEALTH, 99, ++twinSeq, wallMs);
    at = SyncCodec.putHealth(d, at, new TunnelHealth(newestHandshakeWall, 1000L * S, failing));
    int len = SyncCodec.finish(d, 1, at, SYNC_KEY);
    assertThat(sync.receive(d, len, clock.nanoTime(), wallMs)).isTrue();
  }

  /** A second passes and the tracking thread would have ticked. */
  private void second() {
    clock.advanceMillis(1000);
    pair.tick();
  }

  private Peer remoteAtGw() {
    return gw.peer(remoteKey.publicKey());
  }

  @Test
  void theTakeoverOpensTheGateAndTheDeviceHandshakesAtOnce() {
    assertThat(wire).isEmpty();
    becomeMaster();
    assertThat(hooks).containsExactly("master dctun-public");
    assertThat(wire).as("the initiation, without waiting for a timer").hasSize(1);
    assertThat(pump()).isPositive();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isEqualTo(clock.wallClockNanos());
    assertThat(sync.isSending()).isTrue();
    assertThat(pair.health().newestHandshakeWallNanos()).as("the device's own wall clock")
        .isEqualTo(clock.wallClockNanos());
    becomeBackup();
    gw.initiateNow(remoteKey.publicKey(), clock.nanoTime());
    assertThat(wire).as("a backup sends nothing").isEmpty();
    assertThat(gate.mutedSends()).isEqualTo(1);
    assertThat(sync.isSending()).isFalse();
  }

  @Test
  void aLostAnswerIsInitiatedAgain1300MsAfterTheTakeover() {
    becomeMaster();
    wire.clear(); // the answer went to the old master
    clock.advanceMillis(1300);
    pair.tick();
    assertThat(wire).as("a second initiation, before the 5 s retransmit").hasSize(1);
    pump();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isEqualTo(clock.wallClockNanos());
  }

  @Test
  void unhealthyLowersThePriorityByTheWeightAndAPeerAboveThatTakesOver() {
    vrrp.start(clock.nanoTime());
    VrrpRouter pub = vrrp.member("dctun-public");
    clock.advanceMillis(pub.masterDownIntervalNanos() / 1_000_000 + 1);
    vrrp.poll(clock.nanoTime());
    assertThat(pub.state()).isEqualTo(VrrpState.MASTER);
    becomeMaster(); // what VrrpInstance's listener would be told
    pump();
    pair.tick();
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);

    int other = PRIORITY - WEIGHT / 2;
    int[] vip = {VrrpAdvert.ipv4(config.publicSide().vip().address())};
    VrrpAdvert advert = new VrrpAdvert().set(VrrpAdvert.ipv4("198.18.0.11"), 51, other, 10, vip);
    vrrp.onAdvert(clock.nanoTime(), pub, advert);
    assertThat(pub.state()).as("healthy at %d, the %d advert loses", PRIORITY, other).isEqualTo(VrrpState.MASTER);

    wire.clear(); // no handshake gets through: the device's own timers retry into the void
    for (int i = 0; i < WITHIN_S; i++) {
      second();
      wire.clear();
    }
    assertThat(reports).containsExactly("peer-handshake=true", "peer-handshake=false");
    assertThat(pair.failedAsMaster()).isTrue();
    for (VrrpRouter r : vrrp.members()) {
      assertThat(r.effectivePriority()).as(r.name()).isEqualTo(PRIORITY - WEIGHT);
    }
    List<VrrpAction> out = vrrp.onAdvert(clock.nanoTime(), pub, advert);
    assertThat(out).contains(new VrrpAction.RemoveVips("dctun-public"), new VrrpAction.RemoveVips("dctun-private"));
    assertThat(pub.state()).isEqualTo(VrrpState.BACKUP);

    // As backup it stays lowered while the new master is fine, and gets its weight back once
    // the master reports failing too.
    becomeBackup();
    second();
    twinSays(clock.wallClockNanos(), false);
    second();
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY - WEIGHT);
    twinSays(0, true);
    second();
    assertThat(reports).containsExactly("peer-handshake=true", "peer-handshake=false", "peer-handshake=true");
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);
    assertThat(pair.failedAsMaster()).isFalse();
    assertThat(pair.twinSeenFailing()).isTrue();
  }
}
