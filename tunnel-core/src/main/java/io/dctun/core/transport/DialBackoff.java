package io.dctun.core.transport;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * When a stream transport may dial an endpoint again after a failed dial: 100 ms, doubling to
 * 10 s, with jitter (the delay is 7/8 to 9/8 of the step) so that many gateways that lost the same
 * peer do not redial it in lockstep. A successful connection forgets the endpoint.
 *
 * <p>Thread-safety: safe for concurrent use.
 */
public final class DialBackoff {
  static final long MIN_NANOS = 100_000_000L;
  static final long MAX_NANOS = 10_000_000_000L;

  private final LongSupplier nanoTime;
  private final Map<Endpoint, long[]> state = new ConcurrentHashMap<>(); // {until, step}

  public DialBackoff(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** Whether {@code ep} may be dialled now. */
  public boolean mayDial(Endpoint ep) {
    long[] b = state.get(ep);
    if (b == null) {
      return true;
    }
    synchronized (b) {
      return nanoTime.getAsLong() - b[0] >= 0;
    }
  }

  /** A dial to {@code ep} failed: wait the next step before trying again. */
  public void failed(Endpoint ep) {
    long[] b = state.computeIfAbsent(ep, k -> new long[] {0, MIN_NANOS / 2});
    synchronized (b) {
      b[1] = Math.min(MAX_NANOS, b[1] * 2);
      long jitter = ThreadLocalRandom.current().nextLong(b[1] / 4 + 1);
      b[0] = nanoTime.getAsLong() + b[1] - b[1] / 8 + jitter;
    }
  }

  /** A connection to {@code ep} was made: the next failure starts from the first step again. */
  public void connected(Endpoint ep) {
    state.remove(ep);
  }
}
