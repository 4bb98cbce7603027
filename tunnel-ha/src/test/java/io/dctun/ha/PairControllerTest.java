package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import io.dctun.ha.PairAction.Announce;
import io.dctun.ha.PairAction.CloseGate;
import io.dctun.ha.PairAction.Initiate;
import io.dctun.ha.PairAction.InitiateAll;
import io.dctun.ha.PairAction.OpenGate;
import io.dctun.ha.PairAction.RunHook;
import io.dctun.ha.PairAction.SetCondition;
import io.dctun.ha.PairAction.StreamState;
import io.dctun.ha.PairController.PeerHandshake;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The pair controller alone: one thread, a clock the test moves by hand (its wall clock is years
 * from the real one, so a rule that read the system's clock would fail), handshakes reported as
 * the driver would observe them. The handshake rule's cases are those the appliance's controller
 * was held to; the takeover sequence is asserted action by action.
 */
class PairControllerTest {
  static final int WITHIN_S = 10;
  static final int WEIGHT = 50;
  static final int PRIORITY = 150;
  static final long S = 1_000_000_000L;
  static final long MS = 1_000_000L;
  static final long WALL_BASE = 2_208_988_800L * S; // 2040-01-01
  static final PublicKey REMOTE = PrivateKey.generate().publicKey();
  static final PublicKey SILENT = PrivateKey.generate().publicKey();
  static final PublicKey DIALS_IN = PrivateKey.generate().publicKey();

  static PairConfig config(int withinSeconds) {
    PairConfig.Builder b = PairConfig.builder().priority(PRIORITY).advertIntervalMillis(100)
        .publicSide(PairConfig.Side.of("dctun-public", "eth0", 51, "198.18.0.100/24"))
        .privateSide(PairConfig.Side.of("dctun-private", "eth1", 52, "198.18.20.1/24"))
        .trackInterface("eth2");
    if (withinSeconds > 0) {
      b.trackHandshakes(withinSeconds, WEIGHT);
    }
    return b.build();
  }

  final PairController c = new PairController(config(WITHIN_S));
  long now = 5 * S;
  /** Every action the controller returned, in order. */
  final List<PairAction> out = new ArrayList<>();

  long wall() {
    return WALL_BASE + now;
  }

  void advanceMillis(long ms) {
    now += ms * MS;
  }

  List<PairAction> becomeMaster() {
    List<PairAction> a = c.vrrpStateChanged("dctun-public", VrrpState.BACKUP, VrrpState.MASTER, now);
    out.addAll(a);
    assertThat(c.isMaster()).isTrue();
    return a;
  }

  List<PairAction> becomeBackup() {
    List<PairAction> a = c.vrrpStateChanged("dctun-public", VrrpState.MASTER, VrrpState.BACKUP, now);
    out.addAll(a);
    assertThat(c.isMaster()).isFalse();
    return a;
  }

  /** A handshake with REMOTE completes now. */
  void handshake() {
    c.observe(new PeerHandshake(REMOTE, true, now, wall()));
  }

  void neverHandshook() {
    c.observe(new PeerHandshake(REMOTE, true, Long.MIN_VALUE, 0));
  }

  boolean healthy() {
    return c.handshakeHealthy(now, wall());
  }

  /** A report from the twin (the master) as the state sync would deliver it, received now. */
  void twinSays(long newestHandshakeWall, boolean failing) {
    c.twinHealth(new TunnelHealth(newestHandshakeWall, 1000L * S, failing), now);
  }

  List<PairAction> tick() {
    List<PairAction> a = c.tick(now, wall());
    out.addAll(a);
    return a;
  }

  static List<String> conditions(List<PairAction> actions) {
    return actions.stream().filter(a -> a instanceof SetCondition).map(a -> (SetCondition) a)
        .map(s -> s.condition() + "=" + s.healthy()).toList();
  }

  // ------------------------------------------------------------------ the takeover sequence

  @Test
  void takeoverRunsTheHookOpensTheGateHandshakesEveryPeerAndStartsTheStream() {
    assertThat(becomeMaster()).containsExactly(new RunHook("master", "dctun-public", "eth0"), new OpenGate(),
        new InitiateAll(), new StreamState(true));
    assertThat(c.takeovers()).isEqualTo(1);
    assertThat(becomeBackup()).containsExactly(new RunHook("backup", "dctun-public", "eth0"), new CloseGate(),
        new StreamState(false));
    assertThat(c.releases()).isEqualTo(1);
  }

  @Test
  void onlyThePublicInstanceMovesThePair() {
    assertThat(c.vrrpStateChanged("dctun-private", VrrpState.BACKUP, VrrpState.MASTER, now)).isEmpty();
    assertThat(c.isMaster()).isFalse();
    becomeMaster();
    assertThat(c.vrrpStateChanged("dctun-private", VrrpState.MASTER, VrrpState.BACKUP, now)).isEmpty();
    assertThat(c.isMaster()).isTrue();
  }

  @Test
  void aBackupThatFaultsRunsTheHookOnlyAndAMasterThatFaultsIsMuted() {
    assertThat(c.vrrpStateChanged("dctun-public", VrrpState.INITIALIZE, VrrpState.BACKUP, now))
        .containsExactly(new RunHook("backup", "dctun-public", "eth0"));
    assertThat(c.vrrpStateChanged("dctun-public", VrrpState.BACKUP, VrrpState.FAULT, now))
        .containsExactly(new RunHook("fault", "dctun-public", "eth0"));
    assertThat(c.releases()).isZero();
    becomeMaster();
    assertThat(c.vrrpStateChanged("dctun-public", VrrpState.MASTER, VrrpState.INITIALIZE, now))
        .as("shutdown: no hook for INITIALIZE, but muted").containsExactly(new CloseGate(), new StreamState(false));
  }

  @Test
  void announcesAgainAfterTheLocktimeAndAtFiveSecondsWhileStillMaster() {
    neverHandshook();
    becomeMaster();
    advanceMillis(1099);
    assertThat(tick()).doesNotContain(new Announce());
    advanceMillis(1);
    assertThat(tick()).containsOnlyOnce(new Announce());
    advanceMillis(3899);
    assertThat(tick()).doesNotContain(new Announce());
    advanceMillis(1);
    assertThat(tick()).containsOnlyOnce(new Announce());
    advanceMillis(60_000);
    assertThat(tick()).as("two repeats, then VRRP's own adverts keep the neighbours").doesNotContain(new Announce());
  }

  @Test
  void aBoxThatLeftMasterAnnouncesNothingMore() {
    becomeMaster();
    advanceMillis(500);
    becomeBackup();
    advanceMillis(10_000);
    assertThat(tick()).doesNotContain(new Announce()).noneMatch(a -> a instanceof Initiate);
  }

  @Test
  void aPeerWithoutAHandshake1300MsAfterTheTakeoverIsInitiatedAgain() {
    c.observe(new PeerHandshake(REMOTE, true, now - 60 * S, wall() - 60 * S)); // a handshake with the old master's era
    c.observe(new PeerHandshake(SILENT, true, Long.MIN_VALUE, 0));
    c.observe(new PeerHandshake(DIALS_IN, false, Long.MIN_VALUE, 0)); // no endpoint: cannot be initiated to
    becomeMaster();
    long takeover = now;
    advanceMillis(1299);
    assertThat(tick()).noneMatch(a -> a instanceof Initiate);
    advanceMillis(1);
    c.observe(new PeerHandshake(REMOTE, true, takeover + 200 * MS, WALL_BASE + takeover + 200 * MS)); // answered
    assertThat(tick()).filteredOn(a -> a instanceof Initiate).containsExactly(new Initiate(SILENT));
    advanceMillis(5000);
    assertThat(tick()).as("once per takeover").noneMatch(a -> a instanceof Initiate);
  }

  @Test
  void aPeerWhoseLastHandshakeIsOlderThanTheTakeoverIsInitiatedAgain() {
    c.observe(new PeerHandshake(REMOTE, true, now - 1, wall() - 1));
    becomeMaster();
    advanceMillis(1300);
    assertThat(tick()).contains(new Initiate(REMOTE));
  }

  // ------------------------------------------------------------------ the handshake rule

  @Test
  void backupIsHealthyWithoutAnyHandshakeForAnyTime() {
    neverHandshook();
    for (int i = 0; i < 5; i++) {
      assertThat(healthy()).isTrue();
      advanceMillis(1000L * WITHIN_S * 10);
    }
    assertThat(conditions(tick())).containsExactly("peer-handshake=true");
  }

  @Test
  void formerMasterThatFailedStaysLoweredAsBackupWhileTheNewMasterIsFine() {
    becomeMaster();
    handshake();
    advanceMillis(1000L * WITHIN_S * 3);
    assertThat(healthy()).as("master, handshake 3N old").isFalse();
    assertThat(c.failedAsMaster()).isTrue();
    becomeBackup();
    // No word from the new master (no state sync): still believed broken, so it must not
    // preempt straight back onto its broken path.
    assertThat(healthy()).as("backup, nothing heard").isFalse();
    // The new master handshakes fine: this box's path was the problem; it stays lowered.
    twinSays(wall(), false);
    for (int i = 0; i < 3; i++) {
      advanceMillis(1000L * WITHIN_S);
      twinSays(wall() - S, false);
      assertThat(healthy()).as("backup, the master is fine").isFalse();
    }
    // A stale report (the master went quiet 3 s ago) proves nothing either way.
    twinSays(0, true);
    advanceMillis(PairController.TWIN_REPORT_FRESH_NANOS / MS);
    assertThat(healthy()).as("backup, only a stale 'failing'").isFalse();
    // The new master fails too: the remote side is down, not this box; its weight comes back.
    twinSays(0, true);
    assertThat(healthy()).as("backup, the master fails too").isTrue();
    assertThat(c.failedAsMaster()).isFalse();
    assertThat(c.twinSeenFailing()).isTrue();
  }

  @Test
  void aMasterDoesNotStepDownWhenItsTwinFailedInTheSameOutage() {
    neverHandshook();
    // As backup it heard the master report failing (the remote site went away)...
    twinSays(0, true);
    assertThat(healthy()).isTrue();
    // ...then took over; past its grace it has no handshake either: same outage, no step down.
    becomeMaster();
    advanceMillis(1000L * WITHIN_S * 3);
    assertThat(healthy()).as("failing, but so did the twin, and nobody handshook since").isTrue();
    assertThat(c.health(now, wall()).failing()).as("what it reports to the twin").isTrue();
    assertThat(c.failedAsMaster()).isFalse();
    // The remote comes back: a handshake; then this box's own path breaks: a new outage, its own.
    handshake();
    assertThat(healthy()).isTrue();
    assertThat(c.health(now, wall()).failing()).isFalse();
    assertThat(c.health(now, wall()).newestHandshakeWallNanos()).isEqualTo(wall());
    advanceMillis(1000L * WITHIN_S);
    assertThat(healthy()).as("failing after a handshake of its own: its own fault").isFalse();
    assertThat(c.failedAsMaster()).isTrue();
  }

  @Test
  void aBackupForgetsTheTwinsFailureOnceTheTwinHandshakesAgain() {
    neverHandshook();
    twinSays(0, true);
    healthy();
    twinSays(wall() + 1, false); // the master handshook after it was seen failing
    healthy();
    assertThat(c.twinSeenFailing()).isFalse();
    becomeMaster();
    advanceMillis(1000L * WITHIN_S);
    assertThat(healthy()).as("that outage is over; this one is this box's").isFalse();
  }

  @Test
  void newMasterHasNSecondsOfGraceWithoutAHandshake() {
    neverHandshook();
    becomeMaster(); // the initiation is lost: no handshake at all
    advanceMillis(1000L * WITHIN_S - 1);
    assertThat(healthy()).as("1 ms before N s as master").isTrue();
    advanceMillis(1);
    assertThat(healthy()).as("N s as master, never a handshake").isFalse();
  }

  @Test
  void masterPastNSecondsWithARecentHandshakeIsHealthy() {
    neverHandshook();
    becomeMaster();
    advanceMillis(1000L * WITHIN_S - 2000);
    handshake(); // a retry that gets through
    advanceMillis(1000L * WITHIN_S - 1); // 2N - 2 s as master, handshake N s - 1 ms old
    assertThat(healthy()).as("past the grace, handshake N s - 1 ms old").isTrue();
    advanceMillis(1);
    assertThat(healthy()).as("handshake N s old").isFalse();
  }

  @Test
  void masterPastNSecondsWhoseLastHandshakeIsNSecondsOldIsUnhealthy() {
    becomeMaster();
    handshake();
    advanceMillis(1000L * WITHIN_S - 1);
    assertThat(healthy()).isTrue();
    advanceMillis(1);
    assertThat(healthy()).as("handshake exactly N s old, master for N s").isFalse();
    handshake(); // a fresh handshake makes it healthy again
    assertThat(healthy()).isTrue();
  }

  @Test
  void theRuleIsEvaluatedOnceASecondAndReportedOnChangeOnly() {
    neverHandshook();
    assertThat(conditions(tick())).containsExactly("peer-handshake=true");
    becomeMaster();
    advanceMillis(1000L * WITHIN_S);
    List<PairAction> a = tick();
    assertThat(conditions(a)).containsExactly("peer-handshake=false");
    assertThat(a).filteredOn(x -> x instanceof SetCondition).first()
        .satisfies(x -> assertThat(((SetCondition) x).why()).contains("lowering priority by " + WEIGHT));
    handshake();
    advanceMillis(999);
    assertThat(conditions(tick())).as("within the second: not evaluated").isEmpty();
    advanceMillis(1);
    assertThat(conditions(tick())).containsExactly("peer-handshake=true");
    advanceMillis(1000);
    assertThat(conditions(tick())).as("unchanged: not reported again").isEmpty();
  }

  @Test
  void withoutHandshakeTrackingNoConditionIsReported() {
    PairController plain = new PairController(config(0));
    plain.vrrpStateChanged("dctun-public", VrrpState.BACKUP, VrrpState.MASTER, now);
    advanceMillis(3600_000);
    assertThat(conditions(plain.tick(now, wall()))).isEmpty();
    assertThat(plain.health(now, wall()).failing()).isFalse();
  }

  @Test
  void aTrackedLinkIsReportedOnChangeOnly() {
    assertThat(conditions(c.linkState("eth2", true))).containsExactly("link:eth2=true");
    assertThat(c.linkState("eth2", true)).isEmpty();
    assertThat(conditions(c.linkState("eth2", false))).containsExactly("link:eth2=false");
  }

  @Test
  void theHealthReportSaysHowLongThisBoxHasBeenMaster() {
    handshake();
    assertThat(c.health(now, wall())).isEqualTo(new TunnelHealth(wall(), 0, false));
    becomeMaster();
    advanceMillis(2500);
    assertThat(c.health(now, wall())).isEqualTo(new TunnelHealth(wall() - 2500 * MS, 2500 * MS, false));
  }

  @Test
  void unhealthyLowersThePriorityByTheWeightAndAPeerAboveThatTakesOver() {
    PairConfig cfg = c.config();
    List<VrrpRouter> routers = new ArrayList<>();
    int box = VrrpAdvert.ipv4("198.18.0.12");
    for (VrrpConfig v : cfg.syncGroup()) {
      routers.add(new VrrpRouter(v, box++));
    }
    VrrpSyncGroup vrrp = new VrrpSyncGroup(routers);
    List<String> reports = new ArrayList<>();
    // What the driver does with the controller's conditions.
    java.util.function.Consumer<List<PairAction>> toVrrp = actions -> {
      for (PairAction a : actions) {
        if (a instanceof SetCondition s) {
          reports.add(s.condition() + "=" + s.healthy());
          vrrp.setCondition(now, s.condition(), s.healthy());
        }
      }
    };
    toVrrp.accept(c.linkState("eth2", true));
    vrrp.start(now);
    VrrpRouter pub = vrrp.member("dctun-public");
    advanceMillis(pub.masterDownIntervalNanos() / MS + 1);
    vrrp.poll(now);
    assertThat(pub.state()).isEqualTo(VrrpState.MASTER);
    neverHandshook();
    becomeMaster(); // what VrrpInstance's listener would be told
    toVrrp.accept(tick());
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);

    // The other box of the pair, configured 125: below us while healthy, above us minus the weight.
    int other = PRIORITY - WEIGHT / 2;
    int[] vip = {VrrpAdvert.ipv4(cfg.publicSide().vip().address())};
    VrrpAdvert advert = new VrrpAdvert().set(VrrpAdvert.ipv4("198.18.0.11"), 51, other, 10, vip);
    vrrp.onAdvert(now, pub, advert);
    assertThat(pub.state()).as("healthy at %d, the %d advert loses", PRIORITY, other).isEqualTo(VrrpState.MASTER);

    advanceMillis(1000L * WITHIN_S); // no handshake gets through
    toVrrp.accept(tick());
    assertThat(reports).containsExactly("link:eth2=true", "peer-handshake=true", "peer-handshake=false");
    assertThat(pub.isUnhealthy(PairConfig.HANDSHAKE_CONDITION)).isTrue();
    for (VrrpRouter r : vrrp.members()) {
      assertThat(r.effectivePriority()).as(r.name()).isEqualTo(PRIORITY - WEIGHT);
    }
    List<VrrpAction> moved = vrrp.onAdvert(now, pub, advert);
    assertThat(moved).contains(new VrrpAction.RemoveVips("dctun-public"), new VrrpAction.RemoveVips("dctun-private"));
    for (VrrpRouter r : vrrp.members()) {
      assertThat(r.state()).as("the sync group follows: %s", r.name()).isEqualTo(VrrpState.BACKUP);
    }

    // As backup it stays lowered while the new master is fine, and gets its weight back once
    // the master fails too.
    becomeBackup();
    advanceMillis(1000);
    toVrrp.accept(tick());
    twinSays(wall(), false);
    advanceMillis(1000);
    toVrrp.accept(tick());
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY - WEIGHT);
    twinSays(0, true);
    advanceMillis(1000);
    toVrrp.accept(tick());
    assertThat(reports).containsExactly("link:eth2=true", "peer-handshake=true", "peer-handshake=false",
        "peer-handshake=true");
    assertThat(pub.effectivePriority()).isEqualTo(PRIORITY);
  }
}
