package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.HaSection;
import io.dctun.core.Clock;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import io.dctun.ha.VrrpAction;
import io.dctun.ha.VrrpAdvert;
import io.dctun.ha.VrrpConfig;
import io.dctun.ha.VrrpRouter;
import io.dctun.ha.VrrpState;
import io.dctun.ha.VrrpSyncGroup;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer-handshake tracking rule of {@link HaController#handshakeHealthy()}, without a network:
 * the gateway's {@link Device} and a remote site's Device are joined by an in-memory wire and share
 * a clock the test moves by hand (its wall clock is years away from the real one, so a rule that
 * read the system's wall clock instead of the device's would fail here). The tracked condition goes
 * to a real {@link VrrpSyncGroup} built from the same {@code ha:} section, so the test also sees what
 * VRRP does with it: the configured weight comes off the priority and a peer above that takes over.
 */
class HaControllerHandshakeTrackingTest {
  static final int WITHIN_S = 10;
  static final int WEIGHT = 50;
  static final int PRIORITY = 150;
  static final long S = 1_000_000_000L;
  static final UdpEndpoint EP_GW = UdpEndpoint.of("198.18.0.100", 51820);
  static final UdpEndpoint EP_REMOTE = UdpEndpoint.of("198.18.0.1", 51820);

  /** Monotonic and wall time, moved by the test; wall is 2040-01-01 plus the monotonic time. */
  static final class ManualClock implements Clock {
    long now = 5 * S;
    final long wallBase = 2_208_988_800L * S;

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public long wallClockNanos() {
      return wallBase + now;
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

  @TempDir Path dir;
  final ManualClock clock = new ManualClock();
  final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  final PrivateKey gwKey = PrivateKey.generate();
  final PrivateKey remoteKey = PrivateKey.generate();
  final List<String> reports = new ArrayList<>();
  HaSection ha;
  Device gw;
  Device remote;
  HaController.Gate gate;
  HaController controller;
  VrrpSyncGroup vrrp;
  List<VrrpAction> vrrpActions = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), gwKey);
    Path yaml = dir.resolve("gw.yaml");
    Files.writeString(yaml, String.join("\n",
        "interface: dctun0",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "addresses: [198.19.0.2/24]",
        "peers:",
        "  - name: siteA",
        "    public-key: " + remoteKey.publicKey().toBase64(),
        "    endpoint: 198.18.0.1:51820",
        "    allowed-ips: [198.18.10.0/24]",
        "ha:",
        "  priority: " + PRIORITY,
        "  advert-interval: 100",
        "  public:",
        "    interface: eth0",
        "    vrid: 51",
        "    vip: 198.18.0.100/24",
        "  private:",
        "    interface: eth1",
        "    vrid: 52",
        "    vip: 198.18.20.1/24",
        "  track:",
        "    peer-handshake: {within: " + WITHIN_S + ", weight: " + WEIGHT + "}",
        ""));
    GatewayConfig cfg = ConfigLoader.load(yaml);
    ha = HaSection.of(cfg);
    assertThat(ha.handshakeWithinSeconds()).isEqualTo(WITHIN_S);
    gate = (HaController.Gate) HaController.gate(cfg, new Net(EP_GW));
    gw = new Device(cfg.privateKey(), 1420, gate, clock);
    gw.addPeer(PeerConfig.of(remoteKey.publicKey(), EP_REMOTE, "198.18.10.0/24"));
    remote = new Device(remoteKey, 1420, new Net(EP_REMOTE), clock);
    remote.addPeer(PeerConfig.of(gwKey.publicKey(), EP_GW, "198.18.20.0/24"));

    // This box's half of the pair as VRRP sees it: the routers of the same ha: section.
    List<VrrpRouter> routers = new ArrayList<>();
    int box = VrrpAdvert.ipv4("198.18.0.12");
    for (VrrpConfig c : ha.syncGroup()) {
      routers.add(new VrrpRouter(c, box++));
    }
    vrrp = new VrrpSyncGroup(routers);
    controller = new HaController(ha, gw, gate, (condition, healthy) -> {
      reports.add(condition + "=" + healthy);
      vrrpActions.addAll(vrrp.setCondition(clock.nanoTime(), condition, healthy));
    });
  }

  @AfterEach
  void tearDown() {
    controller.close();
    gw.close();
    remote.close();
  }

  private void becomeMaster() {
    controller.listener().stateChanged(ha.publicSide().name(), VrrpState.BACKUP, VrrpState.MASTER, "test");
    assertThat(controller.isMaster()).isTrue();
  }

  private void becomeBackup() {
    controller.listener().stateChanged(ha.publicSide().name(), VrrpState.MASTER, VrrpState.BACKUP, "test");
    assertThat(controller.isMaster()).isFalse();
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

  private Peer remoteAtGw() {
    return gw.peer(remoteKey.publicKey());
  }

  @Test
  void backupIsHealthyWithoutAnyHandshakeForAnyTime() {
    assertThat(controller.isMaster()).isFalse();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isZero();
    for (int i = 0; i < 5; i++) {
      assertThat(controller.handshakeHealthy()).isTrue();
      clock.advanceMillis(1000L * WITHIN_S * 10);
    }
    controller.checkHandshakes();
    assertThat(reports).containsExactly("peer-handshake=true");
  }

  /** A report from the twin (the master) as the state sync would deliver it, received now. */
  private void twinSays(long newestHandshakeWall, boolean failing) {
    io.dctun.ha.SyncSession.TwinReport r = new io.dctun.ha.SyncSession.TwinReport(
        new io.dctun.ha.TunnelHealth(newestHandshakeWall, 1000L * S, failing), clock.nanoTime());
    controller.twinReports(() -> r);
  }

  @Test
  void formerMasterThatFailedStaysLoweredAsBackupWhileTheNewMasterIsFine() {
    becomeMaster();
    assertThat(pump()).isPositive();
    long handshake = remoteAtGw().lastHandshakeWallNanos();
    assertThat(handshake).isEqualTo(clock.wallClockNanos());
    clock.advanceMillis(1000L * WITHIN_S * 3);
    assertThat(controller.handshakeHealthy()).as("master, handshake 3N old").isFalse();
    assertThat(controller.failedAsMaster()).isTrue();
    becomeBackup();
    // No word from the new master (no state sync): still believed broken, so it must not
    // preempt straight back onto its broken path.
    assertThat(controller.handshakeHealthy()).as("backup, nothing heard").isFalse();
    // The new master handshakes fine: this box's path was the problem; it stays lowered.
    twinSays(clock.wallClockNanos(), false);
    for (int i = 0; i < 3; i++) {
      clock.advanceMillis(1000L * WITHIN_S);
      twinSays(clock.wallClockNanos() - S, false);
      assertThat(controller.handshakeHealthy()).as("backup, the master is fine").isFalse();
    }
    // A stale report (the master went quiet 3 s ago) proves nothing either way.
    twinSays(0, true);
    clock.advanceMillis(HaController.TWIN_REPORT_FRESH_NANOS / 1_000_000);
    assertThat(controller.handshakeHealthy()).as("backup, only a stale 'failing'").isFalse();
    // The new master fails too: the remote side is down, not this box; its weight comes back.
    twinSays(0, true);
    assertThat(controller.handshakeHealthy()).as("backup, the master fails too").isTrue();
    assertThat(controller.failedAsMaster()).isFalse();
    assertThat(controller.status()).contains("ha.handshake.failed-as-master no", "ha.handshake.twin-seen-failing yes");
  }

  @Test
  void aMasterDoesNotStepDownWhenItsTwinFailedInTheSameOutage() {
    // As backup it heard the master report failing (the remote site went away)...
    twinSays(0, true);
    assertThat(controller.handshakeHealthy()).isTrue();
    // ...then took over; past its grace it has no handshake either: same outage, no step down.
    becomeMaster();
    wire.clear();
    clock.advanceMillis(1000L * WITHIN_S * 3);
    assertThat(controller.handshakeHealthy()).as("failing, but so did the twin, and nobody handshook since")
        .isTrue();
    assertThat(controller.ownHealth().failing()).as("what it reports to the twin").isTrue();
    assertThat(controller.failedAsMaster()).isFalse();
    // The remote comes back: a handshake; then this box's own path breaks: a new outage, its own.
    gw.initiateNow(remoteKey.publicKey(), clock.nanoTime());
    pump();
    assertThat(controller.handshakeHealthy()).isTrue();
    assertThat(controller.ownHealth().failing()).isFalse();
    assertThat(controller.ownHealth().newestHandshakeWallNanos()).isEqualTo(clock.wallClockNanos());
    wire.clear();
    clock.advanceMillis(1000L * WITHIN_S);
    assertThat(controller.handshakeHealthy()).as("failing after a handshake of its own: its own fault").isFalse();
    assertThat(controller.failedAsMaster()).isTrue();
  }

  @Test
  void aBackupForgetsTheTwinsFailureOnceTheTwinHandshakesAgain() {
    twinSays(0, true);
    controller.handshakeHealthy();
    twinSays(clock.wallClockNanos() + 1, false); // the master handshook after it was seen failing
    controller.handshakeHealthy();
    becomeMaster();
    wire.clear();
    clock.advanceMillis(1000L * WITHIN_S);
    assertThat(controller.handshakeHealthy()).as("that outage is over; this one is this box's").isFalse();
  }

  @Test
  void newMasterHasNSecondsOfGraceWithoutAHandshake() {
    becomeMaster();
    wire.clear(); // the initiation is lost: no handshake at all
    clock.advanceMillis(1000L * WITHIN_S - 1);
    assertThat(controller.handshakeHealthy()).as("1 ms before N s as master").isTrue();
    clock.advanceMillis(1);
    assertThat(controller.handshakeHealthy()).as("N s as master, never a handshake").isFalse();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isZero();
  }

  @Test
  void masterPastNSecondsWithARecentHandshakeIsHealthy() {
    becomeMaster();
    wire.clear();
    clock.advanceMillis(1000L * WITHIN_S - 2000);
    gw.initiateNow(remoteKey.publicKey(), clock.nanoTime()); // a retry that gets through
    pump();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isEqualTo(clock.wallClockNanos());
    clock.advanceMillis(1000L * WITHIN_S - 1); // 2N - 2 s as master, handshake N s - 1 ms old
    assertThat(controller.handshakeHealthy()).as("past the grace, handshake N s - 1 ms old").isTrue();
    clock.advanceMillis(1);
    assertThat(controller.handshakeHealthy()).as("handshake N s old").isFalse();
  }

  @Test
  void masterPastNSecondsWhoseLastHandshakeIsNSecondsOldIsUnhealthy() {
    becomeMaster();
    pump();
    assertThat(remoteAtGw().lastHandshakeWallNanos()).isPositive();
    clock.advanceMillis(1000L * WITHIN_S - 1);
    assertThat(controller.handshakeHealthy()).isTrue();
    clock.advanceMillis(1);
    assertThat(controller.handshakeHealthy()).as("handshake exactly N s old, master for N s").isFalse();
    // a fresh handshake makes it healthy again
    gw.initiateNow(remoteKey.publicKey(), clock.nanoTime());
    pump();
    assertThat(controller.handshakeHealthy()).isTrue();
  }

  @Test
  void unhealthyLowersThePriorityByTheWeightAndAPeerAboveThatTakesOver() {
    long now = clock.nanoTime();
    vrrpActions.addAll(vrrp.start(now));
    VrrpRouter pub = vrrp.member(ha.publicSide().name());
    clock.advanceMillis(pub.masterDownIntervalNanos() / 1_000_000 + 1);
    vrrpActions.addAll(vrrp.poll(clock.nanoTime()));
    assertThat(pub.state()).isEqualTo(VrrpState.MASTER);
    becomeMaster(); // what VrrpInstance's listener would be told
    controller.checkHandshakes();
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);

    // The other box of the pair, configured 120: below us while healthy, above us minus the weight.
    int other = PRIORITY - WEIGHT / 2;
    int otherAddress = VrrpAdvert.ipv4("198.18.0.11");
    int[] vip = {VrrpAdvert.ipv4(ha.publicSide().vip().address())};
    VrrpAdvert advert = new VrrpAdvert().set(otherAddress, ha.publicSide().vrid(), other, 10, vip);
    vrrp.onAdvert(clock.nanoTime(), pub, advert);
    assertThat(pub.state()).as("healthy at %d, the %d advert loses", PRIORITY, other).isEqualTo(VrrpState.MASTER);

    wire.clear(); // no handshake gets through
    clock.advanceMillis(1000L * WITHIN_S);
    controller.checkHandshakes();
    assertThat(reports).containsExactly("peer-handshake=true", "peer-handshake=false");
    assertThat(pub.isUnhealthy(HaSection.HANDSHAKE_CONDITION)).isTrue();
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY - WEIGHT);
    for (VrrpRouter r : vrrp.members()) {
      assertThat(r.effectivePriority()).as(r.name()).isEqualTo(PRIORITY - WEIGHT);
    }
    controller.checkHandshakes(); // unchanged: not reported again
    assertThat(reports).hasSize(2);

    List<VrrpAction> out = vrrp.onAdvert(clock.nanoTime(), pub, advert);
    assertThat(out).anySatisfy(a -> assertThat(a).isInstanceOfSatisfying(VrrpAction.StateChange.class, c -> {
      assertThat(c.instance()).isEqualTo(ha.publicSide().name());
      assertThat(c.from()).isEqualTo(VrrpState.MASTER);
      assertThat(c.to()).isEqualTo(VrrpState.BACKUP);
    }));
    for (VrrpRouter r : vrrp.members()) {
      assertThat(r.state()).as("the sync group follows: %s", r.name()).isEqualTo(VrrpState.BACKUP);
    }
    assertThat(out).contains(new VrrpAction.RemoveVips(ha.publicSide().name()),
        new VrrpAction.RemoveVips(ha.privateSide().name()));

    // As backup it stays lowered while the new master is fine (it would preempt straight back
    // onto its broken path otherwise), and gets its weight back once the master fails too.
    becomeBackup();
    controller.checkHandshakes();
    assertThat(reports).hasSize(2);
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY - WEIGHT);
    twinSays(clock.wallClockNanos(), false);
    controller.checkHandshakes();
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY - WEIGHT);
    twinSays(0, true);
    controller.checkHandshakes();
    assertThat(reports).containsExactly("peer-handshake=true", "peer-handshake=false", "peer-handshake=true");
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);
  }
}
