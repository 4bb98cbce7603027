package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReplayWindowTest {

  private final ReplayWindow w = new ReplayWindow();

  @Test
  void windowCoversAtLeast2000Counters() {
    assertThat(ReplayWindow.WINDOW_SIZE).isEqualTo(8128).isGreaterThanOrEqualTo(2000);
  }

  @Test
  void acceptsCountersInOrder() {
    for (long c = 0; c < 20_000; c++) {
      assertThat(w.check(c)).as("counter %d", c).isTrue();
    }
    assertThat(w.highest()).isEqualTo(19_999);
  }

  @Test
  void dropsDuplicateCounter() {
    assertThat(w.check(0)).isTrue();
    assertThat(w.check(0)).isFalse();
    assertThat(w.check(5)).isTrue();
    assertThat(w.check(5)).isFalse();
    assertThat(w.check(3)).isTrue();
    assertThat(w.check(3)).isFalse();
  }

  @Test
  void dropsCounterOlderThanWindow() {
    long last = 100_000;
    assertThat(w.check(last)).isTrue();
    assertThat(w.check(last - ReplayWindow.WINDOW_SIZE - 1)).isFalse();
    assertThat(w.check(last - ReplayWindow.WINDOW_SIZE)).isTrue();
    assertThat(w.check(0)).isFalse();
  }

  @Test
  void acceptsReorderWithinWindow() {
    assertThat(w.check(5000)).isTrue();
    for (long c = 4999; c >= 5000 - 1000; c--) {
      assertThat(w.check(c)).as("counter %d", c).isTrue();
    }
    assertThat(w.check(4500)).isFalse();
    assertThat(w.check(5001)).isTrue();
  }

  @Test
  void bigJumpClearsOldBitsAndRefusesOldCounters() {
    for (long c = 0; c < 200; c++) {
      w.check(c);
    }
    long far = 1_000_000_000L;
    assertThat(w.check(far)).isTrue();
    assertThat(w.check(100)).isFalse();
    // Counters that map to the same ring slots as the old ones are fresh, not duplicates.
    for (long c = far - 150; c < far; c++) {
      assertThat(w.check(c)).as("counter %d", c).isTrue();
    }
    assertThat(w.check(far)).isFalse();
  }

  @Test
  void jumpOfExactlyOneRingDoesNotLeaveStaleBits() {
    for (long c = 0; c < ReplayWindow.RING_BITS; c++) {
      w.check(c);
    }
    // Same ring block and bit as counter 10, which was set: must read as unseen.
    assertThat(w.check(10 + ReplayWindow.RING_BITS)).isTrue();
    assertThat(w.check(ReplayWindow.RING_BITS - 54)).as("seen, still in window").isFalse();
    assertThat(w.check(10 + ReplayWindow.RING_BITS - 1)).isTrue();
  }

  @Test
  void refusesCountersAtOrAboveRejectAfterMessages() {
    assertThat(Long.toUnsignedString(ReplayWindow.REJECT_AFTER_MESSAGES))
        .isEqualTo("18446744073709543423"); // 2^64 - 2^13 - 1
    assertThat(w.check(ReplayWindow.REJECT_AFTER_MESSAGES)).isFalse();
    assertThat(w.check(-1L)).isFalse(); // 2^64 - 1, unsigned
    assertThat(w.check(ReplayWindow.REJECT_AFTER_MESSAGES - 1)).isTrue();
    assertThat(w.check(ReplayWindow.REJECT_AFTER_MESSAGES - 1)).isFalse();
  }

  @Test
  void honoursExplicitLimit() {
    assertThat(w.check(9, 10)).isTrue();
    assertThat(w.check(10, 10)).isFalse();
    assertThat(w.check(11, 10)).isFalse();
  }

  @Test
  void countersAboveSignedRangeAreOrderedUnsigned() {
    long high = Long.MIN_VALUE + 5; // 2^63 + 5 unsigned
    assertThat(w.check(high)).isTrue();
    assertThat(w.check(7)).as("far below the window").isFalse();
    assertThat(w.check(high - 1)).isTrue();
    assertThat(w.check(high + 1)).isTrue();
  }

  @Test
  void isFreshPredictsWithoutRecording() {
    assertThat(w.isFresh(7)).isTrue();
    assertThat(w.isFresh(7)).isTrue();
    assertThat(w.check(7)).isTrue();
    assertThat(w.isFresh(7)).isFalse();
    assertThat(w.isFresh(ReplayWindow.REJECT_AFTER_MESSAGES)).isFalse();
    w.check(100_000);
    assertThat(w.isFresh(100_000 - ReplayWindow.WINDOW_SIZE - 1)).isFalse();
    assertThat(w.isFresh(100_000 - ReplayWindow.WINDOW_SIZE)).isTrue();
  }

  @Test
  void resetForgetsEverything() {
    w.check(0);
    w.check(50_000);
    w.reset();
    assertThat(w.highest()).isZero();
    assertThat(w.check(0)).isTrue();
    assertThat(w.check(1)).isTrue();
  }

  @Test
  void matchesHashSetReferenceOnRandomTraffic() {
    Random rnd = new Random(6479);
    for (int round = 0; round < 20; round++) {
      ReplayWindow window = new ReplayWindow();
      Set<Long> seen = new HashSet<>();
      long highest = -1;
      long next = 0;
      for (int i = 0; i < 50_000; i++) {
        long c;
        int kind = rnd.nextInt(100);
        if (kind < 60) {
          c = next++;
        } else if (kind < 85) {
          c = Math.max(0, next - 1 - rnd.nextInt(ReplayWindow.WINDOW_SIZE + 200));
        } else if (kind < 95) {
          c = Math.max(0, next - 1 - rnd.nextInt(40));
        } else if (kind < 99) {
          c = next + rnd.nextInt(ReplayWindow.RING_BITS * 2);
          next = c + 1;
        } else {
          c = next + rnd.nextInt(1 << 20);
          next = c + 1;
        }
        boolean expected = (highest < 0 || c > highest || highest - c <= ReplayWindow.WINDOW_SIZE)
            && !seen.contains(c);
        assertThat(window.isFresh(c)).as("isFresh step %d counter %d", i, c)
            .isEqualTo(expected);
        if (expected) {
          seen.add(c);
          highest = Math.max(highest, c);
        }
        assertThat(window.check(c)).as("round %d step %d counter %d highest %d", round, i, c,
            highest).isEqualTo(expected);
      }
    }
  }
}
