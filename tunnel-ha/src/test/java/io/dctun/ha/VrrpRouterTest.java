package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.ha.VrrpAction.AddVips;
import io.dctun.ha.VrrpAction.GratuitousArp;
import io.dctun.ha.VrrpAction.RemoveVips;
import io.dctun.ha.VrrpAction.SendAdvert;
import io.dctun.ha.VrrpAction.StateChange;
import io.dctun.ha.VrrpCounters.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The state machine, one thread, fake clock (nanoseconds from an arbitrary origin). */
class VrrpRouterTest {
  static final long MS = 1_000_000L;
  static final long S = 1_000 * MS;
  static final long T0 = 1_000_000 * S; // any origin: the router only uses differences
  static final int ME = VrrpAdvert.ipv4("198.18.1.1");
  static final int PEER_LOW = VrrpAdvert.ipv4("198.18.1.0");
  static final int PEER_HIGH = VrrpAdvert.ipv4("198.18.1.2");
  static final int VIP = VrrpAdvert.ipv4("198.18.1.100");

  static VrrpConfig.Builder cfg(int prio, int intervalCs) {
    return VrrpConfig.builder("vi").interfaceName("eth0").vrid(51).priority(prio)
        .advertIntervalCentis(intervalCs).vip("198.18.1.100/24").primaryAddress("198.18.1.1");
  }

  static byte[] packet(int src, int vrid, int prio, int intervalCs) {
    byte[] b = new byte[VrrpCodec.ipv4Length(1)];
    VrrpCodec.encodeIpv4(b, 0, 7, src, VrrpCodec.VRRP_MULTICAST, vrid, prio, intervalCs,
        new int[] {VIP}, 1);
    return b;
  }

  static List<VrrpAction> rx(VrrpRouter r, long now, int src, int prio, int intervalCs) {
    byte[] p = packet(src, 51, prio, intervalCs);
    return r.onPacket(now, p, 0, p.length);
  }

  static long masterDown(int prio, int intervalCs) {
    long mai = intervalCs * 10 * MS;
    return 3 * mai + (256 - prio) * mai / 256;
  }

  @Test
  void skewAndMasterDownIntervalFollowRfc5798() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    assertThat(r.skewTimeNanos()).isEqualTo(156 * S / 256); // 609.375 ms
    assertThat(r.masterDownIntervalNanos()).isEqualTo(3 * S + 156 * S / 256);
    VrrpRouter r254 = new VrrpRouter(cfg(254, 20).build());
    assertThat(r254.masterDownIntervalNanos()).isEqualTo(600 * MS + 2 * 200 * MS / 256);
  }

  @Test
  void backupBecomesMasterExactlyAtMasterDownInterval() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    List<VrrpAction> a = r.start(T0);
    assertThat(a).containsExactly(new RemoveVips("vi"),
        new StateChange("vi", VrrpState.INITIALIZE, VrrpState.BACKUP, "start"));
    long mdi = masterDown(100, 100);
    assertThat(r.nextDeadline()).isEqualTo(T0 + mdi);
    assertThat(r.poll(T0 + mdi - 1)).isEmpty();
    a = r.poll(T0 + mdi);
    assertThat(a).containsExactly(new AddVips("vi"),
        new StateChange("vi", VrrpState.BACKUP, VrrpState.MASTER, "Master_Down_Timer fired"),
        new SendAdvert("vi", 100), new GratuitousArp("vi"));
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    assertThat(r.nextDeadline()).isEqualTo(T0 + mdi + S);
  }

  @Test
  void addressOwnerBecomesMasterAtOnce() {
    VrrpRouter r = new VrrpRouter(cfg(255, 100).build());
    List<VrrpAction> a = r.start(T0);
    assertThat(a).contains(new AddVips("vi"), new SendAdvert("vi", 255), new GratuitousArp("vi"));
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
  }

  @Test
  void masterSendsOnScheduleAndDoesNotDriftOrBurst() {
    VrrpRouter r = new VrrpRouter(cfg(255, 10).build());
    r.start(T0);
    for (int k = 1; k <= 50; k++) {
      long due = T0 + k * 100 * MS;
      assertThat(r.poll(due - 1)).isEmpty();
      // wake up a little late: the next deadline stays on the grid
      assertThat(r.poll(due + 3 * MS)).containsExactly(new SendAdvert("vi", 255));
      assertThat(r.nextDeadline()).isEqualTo(due + 100 * MS);
    }
    // a stall of 1 s: one advert, then a schedule restarted from now
    long late = T0 + 51 * 100 * MS + S;
    assertThat(r.poll(late)).containsExactly(new SendAdvert("vi", 255));
    assertThat(r.poll(late)).isEmpty();
    assertThat(r.nextDeadline()).isEqualTo(late + 100 * MS);
  }

  /**
   * keepalived 2.2.7, master at 100 ms, fed ten invalid adverts a second, stretched its own
   * advert gaps to 300-400 ms. Here: 60 simulated seconds, an I/O-loop-like driver, a stream of
   * every kind of invalid advert plus valid lower-priority ones; every advert goes out on time.
   */
  @Test
  void streamOfInvalidAdvertsNeverDelaysMasterAdverts() {
    VrrpRouter r = new VrrpRouter(cfg(200, 10).build());
    r.start(T0);
    long mdi = masterDown(200, 10);
    List<VrrpAction> first = r.poll(T0 + mdi);
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    assertThat(first).contains(new SendAdvert("vi", 200));
    long masterAt = T0 + mdi;

    List<byte[]> junk = junkAdverts();
    List<Long> sends = new ArrayList<>();
    long now = masterAt;
    long nextJunk = masterAt + 37 * MS; // 10 a second, out of phase with the adverts
    int j = 0;
    long end = masterAt + 60 * S;
    for (int guard = 0; guard < 100_000 && now < end; guard++) {
      long deadline = r.nextDeadline();
      if (nextJunk < deadline) {
        now = nextJunk;
        byte[] p = junk.get(j++ % junk.size());
        assertThat(r.onPacket(now, p, 0, p.length)).isEmpty();
        nextJunk += 100 * MS;
      } else {
        now = deadline;
        for (VrrpAction a : r.poll(now)) {
          if (a instanceof SendAdvert) {
            sends.add(now);
          }
        }
      }
    }
    assertThat(sends).hasSize(600);
    for (int i = 0; i < sends.size(); i++) {
      assertThat(sends.get(i)).as("advert %d", i).isEqualTo(masterAt + (i + 1) * 100 * MS);
    }
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    VrrpCounters c = r.counters();
    assertThat(c.drops(DropReason.TTL_NOT_255)).isPositive();
    assertThat(c.drops(DropReason.WRONG_VERSION)).isPositive();
    assertThat(c.drops(DropReason.WRONG_TYPE)).isPositive();
    assertThat(c.drops(DropReason.BAD_CHECKSUM)).isPositive();
    assertThat(c.drops(DropReason.BAD_LENGTH)).isPositive();
    assertThat(c.drops(DropReason.WRONG_VRID)).isPositive();
    assertThat(c.get(Event.MASTER_CONFLICT_WON)).isPositive();
    assertThat(c.get(Event.ADVERTS_SENT)).isEqualTo(601);
  }

  @Test
  void invalidAdvertsDoNotResetBackupMasterDownTimer() {
    // priority 110: the valid priority-100 advert in the junk is a lower master, ignored to preempt
    VrrpRouter r = new VrrpRouter(cfg(110, 10).build());
    r.start(T0);
    rx(r, T0 + 50 * MS, PEER_HIGH, 150, 10); // valid: resets the timer
    long expected = T0 + 50 * MS + masterDown(110, 10);
    assertThat(r.nextDeadline()).isEqualTo(expected);
    List<byte[]> junk = junkAdverts();
    for (int i = 0; i < 30; i++) {
      byte[] p = junk.get(i % junk.size());
      r.onPacket(T0 + 60 * MS + i * 10 * MS, p, 0, p.length);
      assertThat(r.nextDeadline()).isEqualTo(expected);
    }
    assertThat(r.poll(expected - 1)).isEmpty();
    assertThat(r.poll(expected)).contains(new SendAdvert("vi", 110));
  }

  /** One of each invalid kind, and a valid advert of lower priority for another router. */
  static List<byte[]> junkAdverts() {
    List<byte[]> l = new ArrayList<>();
    byte[] ttl = packet(PEER_LOW, 51, 250, 10);
    ttl[8] = 64;
    l.add(ttl);
    byte[] v2 = packet(PEER_LOW, 51, 250, 10);
    v2[20] = 0x21;
    l.add(v2);
    byte[] type = packet(PEER_LOW, 51, 250, 10);
    type[20] = 0x32;
    l.add(type);
    byte[] sum = packet(PEER_LOW, 51, 250, 10);
    sum[27] ^= 1;
    l.add(sum);
    byte[] cnt = packet(PEER_LOW, 51, 250, 10);
    cnt[23] = 3;
    l.add(cnt);
    l.add(packet(PEER_LOW, 52, 250, 10)); // another VRID
    l.add(packet(PEER_LOW, 51, 100, 10)); // valid, loses to us
    l.add(packet(PEER_LOW, 51, 250, 10).clone()); // placeholder replaced below
    byte[] shortPkt = new byte[10];
    l.set(l.size() - 1, shortPkt);
    return l;
  }

  @Test
  void backupLearnsTheMastersAdvertInterval() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    r.start(T0);
    rx(r, T0 + S, PEER_HIGH, 200, 50);
    assertThat(r.masterAdverIntervalCentis()).isEqualTo(50);
    assertThat(r.nextDeadline()).isEqualTo(T0 + S + masterDown(100, 50));
    // becoming master, it advertises its own interval again
    r.poll(r.nextDeadline());
    assertThat(r.masterAdverIntervalCentis()).isEqualTo(100);
  }

  @Test
  void priorityZeroMakesBackupWaitOnlySkewTime() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    r.start(T0);
    rx(r, T0 + S, PEER_HIGH, 200, 100);
    rx(r, T0 + 2 * S, PEER_HIGH, 0, 100);
    long skew = 156 * S / 256;
    assertThat(r.nextDeadline()).isEqualTo(T0 + 2 * S + skew);
    assertThat(r.poll(T0 + 2 * S + skew)).contains(new AddVips("vi"));
    assertThat(r.counters().get(Event.PRIORITY_ZERO_RECEIVED)).isEqualTo(1);
  }

  @Test
  void masterAnswersPriorityZeroWithAnAdvertAndReschedules() {
    VrrpRouter r = new VrrpRouter(cfg(255, 100).build());
    r.start(T0);
    assertThat(rx(r, T0 + 300 * MS, PEER_HIGH, 0, 100)).containsExactly(new SendAdvert("vi", 255));
    assertThat(r.nextDeadline()).isEqualTo(T0 + 1300 * MS);
  }

  @Test
  void masterYieldsToHigherPriorityAndRemovesVips() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    r.start(T0);
    r.poll(T0 + masterDown(100, 100));
    List<VrrpAction> a = rx(r, T0 + 5 * S, PEER_LOW, 101, 20);
    assertThat(a).hasSize(2);
    assertThat(a.get(0)).isEqualTo(new RemoveVips("vi"));
    assertThat(((StateChange) a.get(1)).to()).isEqualTo(VrrpState.BACKUP);
    assertThat(r.masterAdverIntervalCentis()).isEqualTo(20);
    assertThat(r.nextDeadline()).isEqualTo(T0 + 5 * S + masterDown(100, 20));
  }

  @Test
  void equalPriorityTieBreaksOnPrimaryAddress() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).build());
    r.start(T0);
    r.poll(T0 + masterDown(100, 100));
    assertThat(rx(r, T0 + 5 * S, PEER_LOW, 100, 100)).isEmpty(); // .0 < .1: we win
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    assertThat(r.counters().get(Event.MASTER_CONFLICT_WON)).isEqualTo(1);
    rx(r, T0 + 6 * S, PEER_HIGH, 100, 100); // .2 > .1: it wins
    assertThat(r.state()).isEqualTo(VrrpState.BACKUP);
  }

  @Test
  void preemptingBackupIgnoresLowerPriorityMaster() {
    VrrpRouter r = new VrrpRouter(cfg(150, 100).build());
    r.start(T0);
    for (int i = 1; i <= 3; i++) {
      rx(r, T0 + i * S, PEER_HIGH, 100, 100);
    }
    assertThat(r.counters().get(Event.LOWER_PRIORITY_IGNORED)).isEqualTo(3);
    assertThat(r.poll(T0 + masterDown(150, 100))).contains(new AddVips("vi"));
  }

  @Test
  void nonPreemptingBackupStaysBackupBehindLowerPriorityMaster() {
    VrrpRouter r = new VrrpRouter(cfg(150, 100).preempt(false).build());
    r.start(T0);
    for (int i = 1; i <= 20; i++) {
      rx(r, T0 + i * S, PEER_HIGH, 100, 100);
      assertThat(r.poll(T0 + i * S + 999 * MS)).isEmpty();
    }
    assertThat(r.state()).isEqualTo(VrrpState.BACKUP);
  }

  @Test
  void preemptDelayHoldsOffPreemptionAfterStart() {
    // adverts before T0+5s reset the timer; later ones are ignored: master 3.4 s after the last
    // accepted one (T0+4s; the one at exactly T0+5s is the first ignored)
    VrrpRouter r = new VrrpRouter(cfg(150, 100).preemptDelay(Duration.ofSeconds(5)).build());
    r.start(T0);
    for (int i = 1; i <= 7; i++) {
      rx(r, T0 + i * S, PEER_HIGH, 100, 100);
      assertThat(r.poll(T0 + i * S)).isEmpty();
    }
    assertThat(r.counters().get(Event.LOWER_PRIORITY_IGNORED)).isEqualTo(3);
    assertThat(r.nextDeadline()).isEqualTo(T0 + 4 * S + masterDown(150, 100));
    assertThat(r.poll(T0 + 4 * S + masterDown(150, 100))).contains(new AddVips("vi"));
    // without the delay the first lower-priority advert is already ignored
    VrrpRouter now = new VrrpRouter(cfg(150, 100).build());
    now.start(T0);
    rx(now, T0 + S, PEER_HIGH, 100, 100);
    assertThat(now.nextDeadline()).isEqualTo(T0 + masterDown(150, 100));
  }

  @Test
  void shutdownOfMasterSendsPriorityZeroAndRemovesVips() {
    VrrpRouter r = new VrrpRouter(cfg(255, 100).build());
    r.start(T0);
    assertThat(r.shutdown(T0 + S)).containsExactly(new SendAdvert("vi", 0), new RemoveVips("vi"),
        new StateChange("vi", VrrpState.MASTER, VrrpState.INITIALIZE, "shutdown"));
    assertThat(r.nextDeadline()).isEqualTo(VrrpRouter.NEVER);
    assertThat(rx(r, T0 + 2 * S, PEER_HIGH, 100, 100)).isEmpty();
    assertThat(r.counters().drops(DropReason.NOT_RUNNING)).isEqualTo(1);
  }

  @Test
  void trackedWeightLowersPriorityAndAdvertsCarryIt() {
    VrrpRouter r = new VrrpRouter(cfg(150, 100).track(VrrpConfig.Track.weight("wg-peer", 60))
        .build());
    r.start(T0);
    r.poll(T0 + masterDown(150, 100));
    assertThat(r.setCondition(T0 + 4 * S, "wg-peer", false)).isEmpty();
    assertThat(r.effectivePriority()).isEqualTo(90);
    assertThat(r.poll(r.nextDeadline())).containsExactly(new SendAdvert("vi", 90));
    // a 100 now beats us
    rx(r, T0 + 5 * S, PEER_LOW, 100, 100);
    assertThat(r.state()).isEqualTo(VrrpState.BACKUP);
    r.setCondition(T0 + 6 * S, "wg-peer", true);
    assertThat(r.effectivePriority()).isEqualTo(150);
    assertThatThrownBy(() -> r.setCondition(T0, "nope", true)).hasMessageContaining("nope");
  }

  @Test
  void faultTrackForcesFaultAndRecoveryReturnsToBackup() {
    VrrpRouter r = new VrrpRouter(cfg(150, 100).track(VrrpConfig.Track.fault("link")).build());
    r.start(T0);
    r.poll(T0 + masterDown(150, 100));
    List<VrrpAction> a = r.setCondition(T0 + 5 * S, "link", false);
    assertThat(a).containsExactly(new SendAdvert("vi", 0), new RemoveVips("vi"),
        new StateChange("vi", VrrpState.MASTER, VrrpState.FAULT, "link down"));
    assertThat(r.nextDeadline()).isEqualTo(VrrpRouter.NEVER);
    assertThat(rx(r, T0 + 6 * S, PEER_HIGH, 100, 100)).isEmpty();
    a = r.setCondition(T0 + 7 * S, "link", true);
    assertThat(r.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(a).contains(new StateChange("vi", VrrpState.FAULT, VrrpState.BACKUP, "link up"));
    assertThat(r.nextDeadline()).isEqualTo(T0 + 7 * S + masterDown(150, 100));
    // starting with the fault already present
    VrrpRouter s = new VrrpRouter(cfg(255, 100).track(VrrpConfig.Track.fault("link")).build());
    s.setCondition(T0, "link", false);
    s.start(T0);
    assertThat(s.state()).isEqualTo(VrrpState.FAULT);
  }

  @Test
  void countsAdvertsThatAreNotForUs() {
    VrrpRouter r = new VrrpRouter(cfg(100, 100).unicastPeer("198.18.1.2").build());
    r.start(T0);
    byte[] other = packet(PEER_HIGH, 52, 200, 100);
    r.onPacket(T0, other, 0, other.length);
    rx(r, T0, ME, 200, 100);
    rx(r, T0, PEER_LOW, 200, 100);
    assertThat(r.counters().drops(DropReason.WRONG_VRID)).isEqualTo(1);
    assertThat(r.counters().drops(DropReason.OWN_ADVERT)).isEqualTo(1);
    assertThat(r.counters().drops(DropReason.UNKNOWN_PEER)).isEqualTo(1);
    assertThat(r.nextDeadline()).isEqualTo(T0 + masterDown(100, 100));
    rx(r, T0 + S, PEER_HIGH, 200, 100);
    assertThat(r.counters().get(Event.ADVERTS_ACCEPTED)).isEqualTo(1);
    assertThat(r.nextDeadline()).isEqualTo(T0 + S + masterDown(100, 100));
  }

  /** Polls {@code r} at each of its deadlines up to {@code until}; the actions, each with its time. */
  static List<Map.Entry<Long, VrrpAction>> runUntil(VrrpRouter r, long until) {
    List<Map.Entry<Long, VrrpAction>> out = new ArrayList<>();
    for (int guard = 0; guard < 100_000 && r.nextDeadline() - until <= 0; guard++) {
      long now = r.nextDeadline();
      for (VrrpAction a : r.poll(now)) {
        out.add(Map.entry(now, a));
      }
    }
    return out;
  }

  @Test
  void masterHearingALowerPriorityMasterAnnouncesItsVipsAgainPastTheLocktime() {
    VrrpRouter r = new VrrpRouter(cfg(200, 10).build()); // 100 ms adverts
    r.start(T0);
    long masterAt = T0 + masterDown(200, 10);
    runUntil(r, masterAt);
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    long conflict = masterAt + 250 * MS;
    runUntil(r, conflict);
    // The twin, starved past Master_Down_Interval, took over and sent its own gratuitous ARP.
    assertThat(rx(r, conflict, PEER_LOW, 100, 10)).isEmpty();
    assertThat(r.counters().get(Event.MASTER_CONFLICT_WON)).isEqualTo(1);
    List<Map.Entry<Long, VrrpAction>> after = runUntil(r, conflict + 2 * S);
    assertThat(after).filteredOn(e -> e.getValue() instanceof GratuitousArp)
        .extracting(Map.Entry::getKey).containsExactly(conflict + VrrpRouter.REANNOUNCE_AFTER_CONFLICT_NANOS);
    // Its adverts keep their schedule: the conflict moved no advert timer.
    assertThat(after).filteredOn(e -> e.getValue() instanceof SendAdvert).extracting(Map.Entry::getKey)
        .allMatch(t -> (t - masterAt) % (100 * MS) == 0).hasSize(20);
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
  }

  @Test
  void aStreamOfLowerPriorityAdvertsCostsAtMostOneAnnouncementPerReannounceDelay() {
    VrrpRouter r = new VrrpRouter(cfg(200, 10).build());
    r.start(T0);
    long masterAt = T0 + masterDown(200, 10);
    runUntil(r, masterAt);
    List<Long> garps = new ArrayList<>();
    long now = masterAt;
    for (int i = 0; i < 500; i++) { // one every 10 ms for 5 s
      now += 10 * MS;
      for (Map.Entry<Long, VrrpAction> e : runUntil(r, now)) {
        if (e.getValue() instanceof GratuitousArp) {
          garps.add(e.getKey());
        }
      }
      assertThat(rx(r, now, PEER_LOW, 100, 10)).isEmpty();
    }
    assertThat(garps).hasSize(4); // 5 s / 1.1 s
    for (int i = 1; i < garps.size(); i++) {
      assertThat(garps.get(i) - garps.get(i - 1)).isGreaterThanOrEqualTo(VrrpRouter.REANNOUNCE_AFTER_CONFLICT_NANOS);
    }
  }

  @Test
  void leavingMasterCancelsAPendingReannouncement() {
    VrrpRouter r = new VrrpRouter(cfg(150, 10).build());
    r.start(T0);
    long masterAt = T0 + masterDown(150, 10);
    runUntil(r, masterAt);
    rx(r, masterAt + 10 * MS, PEER_LOW, 100, 10); // a lower master: re-announce pending
    rx(r, masterAt + 20 * MS, PEER_HIGH, 200, 10); // a higher one: this box steps down
    assertThat(r.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(r.nextDeadline()).isEqualTo(masterAt + 20 * MS + masterDown(150, 10));
    assertThat(runUntil(r, masterAt + 300 * MS)).isEmpty();
  }
}
