package io.dctun.core;

/**
 * The two times the protocol needs, injected so that state machines never read a clock
 * themselves and tests can drive every timer deterministically.
 */
public interface Clock {
  /** Monotonic nanoseconds, for timers and key ages. */
  long nanoTime();

  /** Wall-clock nanoseconds since the Unix epoch, for TAI64N timestamps only. */
  long wallClockNanos();

  Clock SYSTEM = new Clock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public long wallClockNanos() {
      java.time.Instant now = java.time.Instant.now();
      return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }
  };
}
