package io.dctun.core.session;

import io.dctun.core.Clock;

/** A clock tests move by hand. */
final class FakeClock implements Clock {
  long now = 1_000_000_000L;
  long wallBase = 1_790_000_000_000_000_000L;

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public long wallClockNanos() {
    return wallBase + now;
  }

  void advanceSeconds(double s) {
    now += (long) (s * 1e9);
  }
}
