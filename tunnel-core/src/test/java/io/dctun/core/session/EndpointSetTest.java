package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The endpoint choice alone, time in and decisions out: a simulated peer answers what the set
 * asks over the paths a test says are up, with a manual clock and a 100 ms tick as the engine's.
 */
class EndpointSetTest {
  static final long MS = 1_000_000L;
  static final long S = 1000 * MS;
  static final long TICK = 100 * MS;
  static final long RTT = 10 * MS;
  static final List<UdpEndpoint> TWO = List.of(UdpEndpoint.of("198.18.128.2", 51820), UdpEndpoint.of("198.18.128.6", 51820));
  static final List<UdpEndpoint> THREE = List.of(UdpEndpoint.of("198.18.128.2", 51820),
      UdpEndpoint.of("198.18.128.6", 51820), UdpEndpoint.of("198.18.128.10", 51820));

  /**
   * The set and the world around it: paths up or down, a peer that answers every question over a
   * path that is up one RTT later, and (optionally) a steady exchange of data on the current path.
   */
  static final class World {
    final ManualClock clock = new ManualClock(1000 * S, 0);
    final EndpointSet set;
    final boolean[] up;
    final boolean session;
    /** Data both ways every 50 ms over the current path (a ping-like flow); false: idle. */
    boolean traffic = true;
    /** A stock peer's data comes back; false: our data is one-way (the peer sends nothing). */
    boolean answersData = true;
    final ArrayDeque<long[]> answers = new ArrayDeque<>(); // {at, endpoint}
    final List<long[]> moves = new ArrayList<>(); // {at, from, to, 1 if from was DOWN (a failover) else 0}
    int initiations;
    int probes;
    long nextTick;
    long nextData;

    World(List<UdpEndpoint> eps, boolean dctun, boolean session) {
      this.set = new EndpointSet(eps, dctun, EndpointSet.DEFAULT_HOLD);
      this.up = new boolean[eps.size()];
      java.util.Arrays.fill(up, true);
      this.session = session;
      this.nextTick = clock.now;
      this.nextData = clock.now;
    }

    long now() {
      return clock.now;
    }

    /** Runs the world for {@code nanos} in 10 ms steps. */
    void run(long nanos) {
      long end = clock.now + nanos;
      while (clock.now < end) {
        clock.advanceMillis(10);
        long now = clock.now;
        while (!answers.isEmpty() && answers.peek()[0] <= now) {
          long[] a = answers.poll();
          set.heard((int) a[1], now);
        }
        if (traffic && session && now >= nextData) {
          nextData = now + 50 * MS;
          int cur = set.current();
          set.dataSent(now);
          if (up[cur] && answersData) {
            answers.add(new long[] {now + RTT, cur});
          }
        }
        if (now >= nextTick) {
          nextTick = now + TICK;
          int before = set.current();
          EndpointSet.Actions a = set.tick(now, session, false);
          if (a.movedTo >= 0) {
            moves.add(new long[] {now, before, a.movedTo, set.state(before) == EndpointSet.State.DOWN ? 1 : 0});
          }
          for (int i = 0; i < set.size(); i++) {
            if (a.probes(i)) {
              probes++;
              ask(i, now);
            }
          }
          if (a.initiate >= 0) {
            initiations++;
            set.asked(a.initiate, now);
            ask(a.initiate, now);
          }
          if (a.movedTo >= 0 && !set.dctun()) {
            initiations++; // the peer initiates to the new current endpoint at once
            set.asked(a.movedTo, now);
            ask(a.movedTo, now);
          }
        }
      }
    }

    private void ask(int i, long now) {
      if (up[i]) {
        answers.add(new long[] {now + RTT, i});
      }
    }

    /** Runs until the set's current endpoint is {@code want}, at most {@code limit}; returns the time taken or -1. */
    long runUntilCurrent(int want, long limit) {
      long start = clock.now;
      while (clock.now - start < limit) {
        run(10 * MS);
        if (set.current() == want) {
          return clock.now - start;
        }
      }
      return -1;
    }
  }

  @Test
  void startsOnTheFirstEndpointAndProbesTheOthersEveryHalfSecond() {
    World w = new World(TWO, true, true);
    w.run(10 * S);
    assertThat(w.set.current()).isZero();
    assertThat(w.moves).isEmpty();
    // Data keeps the current path proven: only the standby one is probed, twice a second.
    assertThat(w.probes).isBetween(19, 21);
    assertThat(w.set.state(0)).isEqualTo(EndpointSet.State.UP);
    assertThat(w.set.state(1)).isEqualTo(EndpointSet.State.UP);
  }

  @Test
  void anIdleCurrentPathIsProbedToo() {
    World w = new World(TWO, true, true);
    w.traffic = false;
    w.run(10 * S);
    assertThat(w.probes).as("both paths, about twice a second").isBetween(35, 42);
    assertThat(w.moves).isEmpty();
  }

  /** How long a move takes once the current path fails, for each kind of peer and traffic. */
  @ParameterizedTest(name = "dctun={0} traffic={1}")
  @CsvSource({"true,true", "true,false", "false,true"})
  void movesWithinThreeSecondsWhenTheCurrentPathStopsAnswering(boolean dctun, boolean traffic) {
    World w = new World(TWO, dctun, true);
    w.traffic = traffic;
    w.run(10 * S);
    w.up[0] = false;
    long took = w.runUntilCurrent(1, 10 * S);
    assertThat(took).as("moved to the second endpoint").isPositive().isLessThanOrEqualTo(3 * S);
    assertThat(w.set.state(0)).isEqualTo(EndpointSet.State.DOWN);
    assertThat(w.moves).hasSize(1);
  }

  @ParameterizedTest(name = "dctun={0}")
  @CsvSource({"true", "false"})
  void movesBackOnlyAfterTheBetterPathHeldForTheHoldTime(boolean dctun) {
    World w = new World(TWO, dctun, true);
    w.run(5 * S);
    w.up[0] = false;
    assertThat(w.runUntilCurrent(1, 5 * S)).isPositive();
    w.run(5 * S);
    w.up[0] = true;
    long back = w.runUntilCurrent(0, 20 * S);
    assertThat(back).as("moved back").isPositive();
    assertThat(back).as("not before the hold time").isGreaterThanOrEqualTo(EndpointSet.DEFAULT_HOLD);
    long probeInterval = dctun ? EndpointSet.PROBE_INTERVAL : EndpointSet.STOCK_PROBE_INTERVAL;
    assertThat(back).as("within the hold time and one probe interval")
        .isLessThanOrEqualTo(EndpointSet.DEFAULT_HOLD + probeInterval + 2 * TICK);
    assertThat(w.set.movesBack()).isEqualTo(1);
  }

  @Test
  void aBetterPathThatFlapsFasterThanTheHoldTimeIsNeverTakenBack() {
    World w = new World(TWO, true, true);
    w.up[0] = false;
    w.run(5 * S);
    assertThat(w.set.current()).isEqualTo(1);
    for (int i = 0; i < 10; i++) {
      w.up[0] = true;
      w.run(3 * S); // up for less than the hold time
      w.up[0] = false;
      w.run(3 * S); // down long enough to be seen DOWN
    }
    assertThat(w.set.current()).isEqualTo(1);
    assertThat(w.moves).hasSize(1);
  }

  @ParameterizedTest(name = "dctun={0}")
  @CsvSource({"true", "false"})
  void theFirstEndpointThatAnswersAHandshakeIsTaken(boolean dctun) {
    World w = new World(THREE, dctun, false);
    w.up[0] = false;
    w.up[1] = false;
    long now = w.now();
    w.set.asked(0, now); // the peer's first initiation, to the current endpoint
    int seen = 0;
    for (int t = 0; t < 100 && w.set.current() != 2; t++) {
      now += TICK;
      EndpointSet.Actions a = w.set.tick(now, false, true);
      if (a.movedTo >= 0) {
        seen++;
        w.set.asked(a.movedTo, now); // the peer initiates to the new current endpoint
      }
    }
    assertThat(w.set.current()).isEqualTo(2);
    assertThat(seen).isEqualTo(2);
    long t2 = now;
    w.set.heard(2, now + RTT); // answered
    for (int t = 0; t < 100; t++) {
      now += TICK;
      w.set.tick(now, false, false);
    }
    assertThat(w.set.current()).as("stays on the one that answered").isEqualTo(2);
    assertThat(now - t2).isPositive();
  }

  @Test
  void aStockPeersCurrentPathIsCheckedOnlyOncePerRecheckWhenOurTrafficIsOneWay() {
    World w = new World(TWO, false, true);
    w.answersData = false; // the stock peer answers handshakes, never our data
    w.run(30 * S);
    assertThat(w.moves).as("every check was answered").isEmpty();
    long expected = 30 * S / (EndpointSet.SILENCE_SUSPECT + EndpointSet.STOCK_RECHECK) + 1;
    assertThat(w.set.checks()).isBetween(expected - 3, 30 * S / EndpointSet.STOCK_RECHECK + 1);
  }

  @Test
  void aStockPeerIsNeverProbedOnTheCurrentPathWhileItAnswers() {
    World w = new World(TWO, false, true);
    w.run(30 * S);
    assertThat(w.initiations).as("data both ways: no handshake needed").isZero();
    assertThat(w.moves).isEmpty();
  }

  @Test
  void reportsTheCurrentPathAndEachEndpointsState() {
    World w = new World(TWO, true, true);
    w.run(3 * S);
    w.up[0] = false;
    w.runUntilCurrent(1, 5 * S);
    io.dctun.core.status.StatusText t = new io.dctun.core.status.StatusText();
    w.set.report(t);
    assertThat(t.toString())
        .contains("endpoint-moves 1\n")
        .contains("path.0.address 198.18.128.2:51820\n")
        .contains("path.0.state down\n")
        .contains("path.1.state up current\n");
    assertThat(w.set.summary()).isEqualTo("198.18.128.2:51820 down, 198.18.128.6:51820 up current");
  }

  @Test
  void refusesListsItCannotUse() {
    Endpoint a = TWO.get(0);
    assertThatThrownBy(() -> new EndpointSet(List.of(a), true, 0)).hasMessageContaining("2..16");
    assertThatThrownBy(() -> new EndpointSet(List.of(a, a), true, 0)).hasMessageContaining("listed twice");
    assertThatThrownBy(() -> new EndpointSet(TWO, true, -1)).hasMessageContaining("hold");
    assertThat(new EndpointSet(TWO, true, 0).indexOf(TWO.get(1))).isEqualTo(1);
    assertThat(new EndpointSet(TWO, true, 0).indexOf(UdpEndpoint.of("198.18.128.99", 1))).isEqualTo(-1);
  }

  /**
   * Random up/down sequences on three paths, both kinds of peer: whatever the links do, a move
   * back to a better endpoint (one not forced by the current one going DOWN) comes at least the
   * hold time after the set last moved away from it, and every other move leaves a DOWN path.
   */
  @Test
  void randomLinkFailuresNeverMakeItFlapFasterThanTheHoldAllows() {
    SplittableRandom r = new SplittableRandom(20261203);
    for (int run = 0; run < 200; run++) {
      boolean dctun = r.nextBoolean();
      World w = new World(THREE, dctun, true);
      w.traffic = r.nextBoolean() || !dctun;
      long[] lastAway = new long[3];
      java.util.Arrays.fill(lastAway, Long.MIN_VALUE);
      for (int step = 0; step < 60; step++) {
        if (r.nextInt(4) == 0) {
          int i = r.nextInt(3);
          w.up[i] = !w.up[i];
        }
        int movesBefore = w.moves.size();
        w.run(r.nextLong(200 * MS, 3 * S));
        for (int m = movesBefore; m < w.moves.size(); m++) {
          long[] mv = w.moves.get(m);
          int from = (int) mv[1];
          int to = (int) mv[2];
          boolean failover = mv[3] == 1;
          assertThat(failover || to < from).as("run %d: a move is a failover or a move back", run).isTrue();
          if (!failover && lastAway[to] != Long.MIN_VALUE) {
            assertThat(mv[0] - lastAway[to]).as("run %d: move back to %d", run, to)
                .isGreaterThanOrEqualTo(EndpointSet.DEFAULT_HOLD);
          }
          lastAway[from] = mv[0];
        }
      }
      assertThat(w.moves.size()).as("run %d: moves are bounded by what the links did", run).isLessThanOrEqualTo(60);
    }
  }

  @Test
  void aDeadCurrentPathIsLeftWithinThreeSecondsWhateverTheTiming() {
    SplittableRandom r = new SplittableRandom(7);
    long worst = 0;
    for (int run = 0; run < 300; run++) {
      boolean dctun = r.nextBoolean();
      World w = new World(TWO, dctun, true);
      w.traffic = dctun ? r.nextBoolean() : true;
      w.run(r.nextLong(5 * S, 15 * S)); // fail at any phase of the probes and ticks
      w.up[0] = false;
      long took = w.runUntilCurrent(1, 10 * S);
      assertThat(took).as("run %d dctun=%s", run, dctun).isPositive().isLessThanOrEqualTo(3 * S);
      worst = Math.max(worst, took);
    }
    assertThat(worst).isLessThanOrEqualTo(3 * S);
  }
}
