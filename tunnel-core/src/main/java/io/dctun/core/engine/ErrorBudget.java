package io.dctun.core.engine;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * The errors of one loop that must survive them: each is counted, the log gets at most one line
 * per {@link #LOG_INTERVAL_NANOS} (saying how many were not logged), and {@code maxInARow}
 * errors with no success in between mean the loop is broken rather than unlucky: {@link
 * #failed} then returns true and the caller treats it as fatal.
 *
 * <p>"In a row" is a heuristic, not an exact count: {@link #ok()} is a plain write so that the
 * packet path pays nothing for it. Thread-safety: {@link #failed} and {@link #ok()} from the
 * loop's own thread (several threads may share one budget; they may then lose an in-a-row count,
 * never a {@link #total()}); {@link #total()} from any thread.
 */
public final class ErrorBudget {
  /** At most one log line per this interval (10 s) and budget. */
  public static final long LOG_INTERVAL_NANOS = 10_000_000_000L;

  private final String what;
  private final int maxInARow;
  private final Logger log;
  private final AtomicLong total = new AtomicLong();
  private int inARow;
  private long lastLog = Long.MIN_VALUE;
  private long unlogged;

  /**
   * @param what names the loop in log lines ("outbound path of dctun-tun-0")
   * @param maxInARow errors in a row that make {@link #failed} return true
   */
  public ErrorBudget(String what, int maxInARow, Logger log) {
    if (maxInARow < 1) {
      throw new IllegalArgumentException("maxInARow must be >= 1, got " + maxInARow);
    }
    this.what = what;
    this.maxInARow = maxInARow;
    this.log = log;
  }

  /** A success: the next error starts a new row. Cheap enough for every packet. */
  public void ok() {
    if (inARow != 0) {
      inARow = 0;
    }
  }

  /**
   * Counts {@code e}, logs it if the interval allows, and returns true if it is the
   * {@code maxInARow}-th in a row (the loop should give up). Logs the exception's class and
   * message and, for the first one logged, its stack trace: the messages of this code base carry
   * no secrets.
   */
  public boolean failed(Throwable e, long nowNanos) {
    long n = total.incrementAndGet();
    int row = ++inARow;
    if (lastLog == Long.MIN_VALUE || nowNanos - lastLog >= LOG_INTERVAL_NANOS) {
      if (lastLog == Long.MIN_VALUE) {
        log.error("{}: {} ({} in all); the loop goes on", what, e.toString(), n, e);
      } else {
        log.error("{}: {} ({} in all, {} not logged since the last line); the loop goes on", what, e.toString(), n,
            unlogged);
      }
      lastLog = nowNanos;
      unlogged = 0;
    } else {
      unlogged++;
    }
    return row >= maxInARow;
  }

  /** Errors in the current row. */
  public int inARow() {
    return inARow;
  }

  /** Errors counted since the budget was made. */
  public long total() {
    return total.get();
  }

  public int maxInARow() {
    return maxInARow;
  }
}
