package io.dctun.core.session;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One counter per {@link DropReason}, and a log line per reason at most once every ten seconds so
 * that a flood of bad packets cannot flood the log. Lock-free and allocation-free when counting.
 */
public final class DropCounters {
  private static final Logger LOG = LoggerFactory.getLogger(DropCounters.class);
  private static final long LOG_INTERVAL_NANOS = 10_000_000_000L;

  private final AtomicLongArray counts = new AtomicLongArray(DropReason.values().length);
  private final AtomicLongArray lastLogged = new AtomicLongArray(DropReason.values().length);
  private final AtomicLongArray loggedCount = new AtomicLongArray(DropReason.values().length);
  private final String owner;

  public DropCounters(String owner) {
    this.owner = owner;
    for (int i = 0; i < lastLogged.length(); i++) {
      lastLogged.set(i, Long.MIN_VALUE);
    }
  }

  /** Counts one drop; logs it if this reason has not been logged in the last ten seconds. */
  public void drop(DropReason reason, long nowNanos, Object detail) {
    int i = reason.ordinal();
    long total = counts.incrementAndGet(i);
    long last = lastLogged.get(i);
    if ((last == Long.MIN_VALUE || nowNanos - last >= LOG_INTERVAL_NANOS) && lastLogged.compareAndSet(i, last, nowNanos)) {
      long since = total - loggedCount.getAndSet(i, total);
      if (LOG.isInfoEnabled()) {
        LOG.info("{}: dropped {} ({}), {} since last report, {} in all", owner, reason, detail, since, total);
      }
    }
  }

  public long count(DropReason reason) {
    return counts.get(reason.ordinal());
  }

  /** One counter per reason, named as the enum constant. */
  public void report(io.dctun.core.status.StatusSink s) {
    for (DropReason r : DropReason.values()) {
      s.counter(r.name(), count(r));
    }
  }

  public long total() {
    long t = 0;
    for (int i = 0; i < counts.length(); i++) {
      t += counts.get(i);
    }
    return t;
  }

  /**
   * The owner, the total and each non-zero reason in enum order, for a program that prints what it
   * reads: {@code DropCounters[device AbCdEfGh: 3 dropped: BAD_MAC1=1, NO_ROUTE=2]}. Counts only;
   * the details a drop was logged with (addresses, peer names) are not kept.
   */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("DropCounters[").append(owner).append(": ");
    long total = 0;
    StringBuilder reasons = new StringBuilder();
    for (DropReason r : DropReason.values()) {
      long c = counts.get(r.ordinal());
      if (c != 0) {
        total += c;
        reasons.append(reasons.length() == 0 ? ": " : ", ").append(r.name()).append('=').append(c);
      }
    }
    return b.append(total == 0 ? "none" : Long.toString(total)).append(" dropped").append(reasons).append(']').toString();
  }

  /** The non-zero counters, for status output. */
  public Map<DropReason, Long> snapshot() {
    Map<DropReason, Long> m = new EnumMap<>(DropReason.class);
    for (DropReason r : DropReason.values()) {
      long c = counts.get(r.ordinal());
      if (c != 0) {
        m.put(r, c);
      }
    }
    return m;
  }
}
