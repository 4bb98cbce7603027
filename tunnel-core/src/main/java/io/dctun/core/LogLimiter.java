package io.dctun.core;

import java.util.concurrent.atomic.AtomicLong;

/**
 * At most one log line per period for one kind of event: the rule for every line whose rate
 * someone else controls (a peer, an attacker, a broken path). Counting is the caller's: the line
 * that is let through says how many happened in all.
 *
 * <pre>
 *   if (limiter.allow(now)) LOG.warn("... ({} in all)", count);
 * </pre>
 *
 * <p>Thread-safety: safe for concurrent use; of several threads asking at once when the period has
 * passed, exactly one is allowed. Time is the caller's ({@link System#nanoTime()} or a test clock).
 */
public final class LogLimiter {
  /** The period this code base logs repeated events at. */
  public static final long DEFAULT_PERIOD_NANOS = 10_000_000_000L;

  private final long periodNanos;
  private final AtomicLong last = new AtomicLong(Long.MIN_VALUE);

  /** One line per {@link #DEFAULT_PERIOD_NANOS}. */
  public LogLimiter() {
    this(DEFAULT_PERIOD_NANOS);
  }

  public LogLimiter(long periodNanos) {
    if (periodNanos <= 0) {
      throw new IllegalArgumentException("period must be positive, got " + periodNanos);
    }
    this.periodNanos = periodNanos;
  }

  /** True if a line may be logged at {@code nowNanos}: the first time, then once per period. */
  public boolean allow(long nowNanos) {
    long l = last.get();
    if (l != Long.MIN_VALUE && nowNanos - l < periodNanos) {
      return false;
    }
    return last.compareAndSet(l, nowNanos);
  }

  /** {@link #allow(long)} at {@link System#nanoTime()}. */
  public boolean allow() {
    return allow(System.nanoTime());
  }
}
