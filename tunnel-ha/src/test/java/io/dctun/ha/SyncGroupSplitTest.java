package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.ha.VrrpAction.GratuitousArp;
import io.dctun.ha.VrrpAction.SendAdvert;
import io.dctun.ha.VrrpAction.StateChange;
import io.dctun.ha.VrrpCounters.Event;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A gateway pair's two sync groups (public + private instance on each box) on two simulated
 * segments that the test splits and heals, on a manual clock: every advert a box sends is
 * encoded and handed to the other box's instance on the same segment, unless that segment is
 * split. Each case runs for 1000 advert intervals and counts every state change and every
 * gratuitous ARP burst: a VIP that flaps shows as a count that grows with the run's length.
 * The cases are the table in tunnel-ha's README ("Sync groups and split segments").
 */
class SyncGroupSplitTest {
  static final long MS = 1_000_000L;
  static final long S = 1_000 * MS;
  static final int INTERVAL_CS = 10; // 100 ms: today's flap repeats about three times a second
  static final long RUN = 1000 * INTERVAL_CS * 10 * MS; // 1000 advert intervals
  static final List<String> ROLES = List.of("public", "private");

  long now = 1_000_000 * S;
  final Map<String, Boolean> split = new HashMap<>(Map.of("public", false, "private", false));
  final ArrayDeque<Runnable> wire = new ArrayDeque<>();

  /** One box: a sync group of a public (VRID 51) and a private (VRID 52) instance. */
  final class Box {
    final String name;
    final VrrpSyncGroup group;
    final Map<String, VrrpRouter> byRole = new HashMap<>();
    final Map<String, Integer> changes = new HashMap<>();
    final Map<String, Integer> garps = new HashMap<>();
    final List<String> log = new ArrayList<>();
    boolean alive = true;
    Box peer;

    Box(String name, int priority, int host) {
      this.name = name;
      List<VrrpRouter> rs = new ArrayList<>();
      for (String role : ROLES) {
        int net = role.equals("public") ? 1 : 2;
        VrrpRouter r = new VrrpRouter(VrrpConfig.builder(role).interfaceName("eth-" + role)
            .vrid(50 + net).priority(priority).advertIntervalCentis(INTERVAL_CS)
            .vip("198.18." + net + ".100/24").primaryAddress("198.18." + net + "." + host)
            .track(VrrpConfig.Track.fault("link:eth-" + role)).build());
        byRole.put(role, r);
        rs.add(r);
      }
      this.group = new VrrpSyncGroup(rs);
    }

    VrrpRouter r(String role) {
      return byRole.get(role);
    }

    VrrpState state(String role) {
      return r(role).state();
    }

    void act(List<VrrpAction> actions) {
      for (VrrpAction a : actions) {
        if (a instanceof StateChange s) {
          changes.merge(s.instance(), 1, Integer::sum);
          log.add(String.format("%.3f s %s %s -> %s (%s)", (now % (1000 * S)) / 1e9, s.instance(), s.from(),
              s.to(), s.why()));
        } else if (a instanceof GratuitousArp g) {
          garps.merge(g.instance(), 1, Integer::sum);
        } else if (a instanceof SendAdvert s) {
          send(s.instance(), s.priority());
        }
      }
    }

    void send(String role, int priority) {
      VrrpRouter from = r(role);
      byte[] p = new byte[VrrpCodec.ipv4Length(1)];
      VrrpCodec.encodeIpv4(p, 0, 1, from.primaryAddress(), VrrpCodec.VRRP_MULTICAST, from.config().vrid(),
          priority, INTERVAL_CS, from.vipsRaw(), 1);
      if (split.get(role)) {
        return;
      }
      Box to = peer;
      wire.add(() -> {
        if (to.alive) {
          to.act(to.group.onPacket(now, to.r(role), p, 0, p.length));
        }
      });
    }

    int changes() {
      return changes.values().stream().mapToInt(Integer::intValue).sum();
    }

    int garps() {
      return garps.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** The first state changes, for failure messages (a flapping box logs thousands). */
    String head() {
      return log.size() + " changes, first " + log.subList(0, Math.min(8, log.size()));
    }

    void resetCounts() {
      changes.clear();
      garps.clear();
      log.clear();
    }
  }

  final Box a = new Box("A", 200, 1);
  final Box b = new Box("B", 100, 2);

  {
    a.peer = b;
    b.peer = a;
  }

  void deliver() {
    for (int i = 0; i < 10_000 && !wire.isEmpty(); i++) {
      wire.poll().run();
    }
    assertThat(wire).as("adverts answering adverts without end").isEmpty();
  }

  /** Runs both boxes' timers until {@code now + d}, delivering every advert at once. */
  void run(long d) {
    long end = now + d;
    for (int steps = 0; ; steps++) {
      assertThat(steps).as("timer steps").isLessThan(1_000_000);
      long next = end;
      for (Box x : List.of(a, b)) {
        long t = x.alive ? x.group.nextDeadline() : VrrpRouter.NEVER;
        if (t != VrrpRouter.NEVER && t - next < 0) {
          next = t;
        }
      }
      now = Math.max(now, next);
      for (Box x : List.of(a, b)) {
        if (x.alive) {
          x.act(x.group.poll(now));
        }
      }
      deliver();
      if (now - end >= 0) {
        return;
      }
    }
  }

  /** Both start; A (priority 200) is master of both VIPs, B (100) backup of both. */
  void converge() {
    a.act(a.group.start(now));
    b.act(b.group.start(now));
    deliver();
    run(5 * S);
    assertBoth(a, VrrpState.MASTER);
    assertBoth(b, VrrpState.BACKUP);
    a.resetCounts();
    b.resetCounts();
  }

  static void assertBoth(Box x, VrrpState s) {
    assertThat(x.state("public")).as(x.name + " public: " + x.head()).isEqualTo(s);
    assertThat(x.state("private")).as(x.name + " private: " + x.head()).isEqualTo(s);
  }

  static void assertQuiet(Box x) {
    assertThat(x.changes()).as(x.name + " state changes: " + x.head()).isZero();
    assertThat(x.garps()).as(x.name + " gratuitous ARP bursts").isZero();
  }

  /** Exactly one change per instance to {@code s}, and one burst per VIP if that is MASTER. */
  static void assertMovedOnce(Box x, VrrpState s) {
    assertBoth(x, s);
    assertThat(x.changes).as(x.name + " state changes: " + x.head())
        .isEqualTo(Map.of("public", 1, "private", 1));
    assertThat(x.garps).as(x.name + " gratuitous ARP bursts")
        .isEqualTo(s == VrrpState.MASTER ? Map.of("public", 1, "private", 1) : Map.of());
  }

  @Test
  void bothSegmentsHearThePeerNothingMoves() {
    converge();
    run(RUN);
    assertQuiet(a);
    assertQuiet(b);
  }

  @Test
  void publicSegmentSplitTheBackupStaysBackupAndNoVipFlaps() {
    converge();
    split.put("public", true);
    run(RUN);
    assertQuiet(a);
    assertQuiet(b);
    assertBoth(a, VrrpState.MASTER);
    assertBoth(b, VrrpState.BACKUP);
    assertThat(b.r("public").wantsMaster()).isTrue();
    assertThat(b.r("public").counters().get(Event.SYNC_GROUP_WAIT)).isEqualTo(1);
    assertThat(b.r("private").wantsMaster()).isFalse();
  }

  @Test
  void privateSegmentSplitTheBackupStaysBackupAndNoVipFlaps() {
    converge();
    split.put("private", true);
    run(RUN);
    assertQuiet(a);
    assertQuiet(b);
    assertThat(b.r("private").counters().get(Event.SYNC_GROUP_WAIT)).isEqualTo(1);
  }

  @Test
  void healingTheSplitSegmentMovesNothing() {
    converge();
    split.put("public", true);
    run(RUN / 2);
    split.put("public", false);
    run(RUN / 2);
    assertQuiet(a);
    assertQuiet(b);
    assertThat(b.r("public").wantsMaster()).isFalse();
  }

  @Test
  void bothSegmentsSplitTheBackupGoesMasterOnceAndBackOnceHealed() {
    converge();
    split.put("public", true);
    split.put("private", true);
    run(RUN);
    assertQuiet(a); // both masters: VRRP cannot tell a dead peer from a deaf one
    assertMovedOnce(b, VrrpState.MASTER);
    b.resetCounts();
    split.put("public", false);
    split.put("private", false);
    run(RUN);
    assertQuiet(a);
    assertMovedOnce(b, VrrpState.BACKUP);
  }

  @Test
  void oneSegmentSplitThenTheOtherTheBackupGoesMasterOnce() {
    converge();
    split.put("public", true);
    run(RUN / 2);
    split.put("private", true);
    run(RUN / 2);
    assertMovedOnce(b, VrrpState.MASTER);
  }

  @Test
  void masterDiesDuringASplitTheBackupTakesOverOnce() {
    converge();
    split.put("public", true);
    run(RUN / 2);
    a.alive = false; // crashed: no priority-0 advert
    run(RUN / 2);
    assertMovedOnce(b, VrrpState.MASTER);
    // the private instance's Master_Down_Timer decides: the public one was already waiting
    assertThat(b.log.get(0)).contains("no member hears a master");
  }

  @Test
  void masterLosesALinkTheBackupTakesOverOnceAndTheMasterGoesFaultOnce() {
    converge();
    a.act(a.group.setCondition(now, "link:eth-public", false));
    deliver();
    run(RUN);
    assertMovedOnce(b, VrrpState.MASTER);
    assertMovedOnce(a, VrrpState.FAULT);
  }

  @Test
  void backupLosesALinkGoesFaultOnceMasterUndisturbed() {
    converge();
    b.act(b.group.setCondition(now, "link:eth-private", false));
    deliver();
    run(RUN);
    assertMovedOnce(b, VrrpState.FAULT);
    assertQuiet(a);
  }

  @Test
  void lowerBoxMasterAndTheSplitComesTheHigherBoxPreemptsOnceNoFlap() {
    // B is master (A came up later with a preempt delay, say); now the public segment splits
    a.alive = false;
    b.act(b.group.start(now));
    run(5 * S);
    assertBoth(b, VrrpState.MASTER);
    a.alive = true;
    a.act(a.group.start(now));
    deliver();
    split.put("public", true);
    a.resetCounts();
    b.resetCounts();
    run(RUN);
    // A's private instance hears B's lower priority and preempts; its public one hears nobody:
    // every member wants MASTER, so A takes both once and B gives both up once
    assertMovedOnce(a, VrrpState.MASTER);
    assertMovedOnce(b, VrrpState.BACKUP);
  }
}
