package io.dctun.core.session;

import io.dctun.core.testing.ManualClock;

/**
 * The shared {@link ManualClock} with the start times this package's tests were written for. It only
 * keeps the name {@code Pair} uses; a test that needs a clock of its own takes a {@code ManualClock}.
 */
final class FakeClock extends ManualClock {
  FakeClock() {
    super(1_000_000_000L, 1_790_000_000_000_000_000L);
  }
}
