package io.dctun.firewall.internal;

/**
 * A token bucket driven by the caller's clock (nanoseconds): {@code rate} tokens a second, at
 * most {@code burst} saved. Bounds log lines and reject replies.
 *
 * <p>Thread-safety: thread-safe (a monitor; it is only reached on the slow paths).
 */
public final class TokenBucket {
  private final double perNano;
  private final double burst;
  private double tokens;
  private long last = Long.MIN_VALUE;
  private long refused;

  public TokenBucket(double perSecond, double burst) {
    this.perNano = perSecond / 1e9;
    this.burst = burst;
    this.tokens = burst;
  }

  public synchronized boolean tryAcquire(long now) {
    if (last != Long.MIN_VALUE && now > last) {
      tokens = Math.min(burst, tokens + (now - last) * perNano);
    }
    if (last == Long.MIN_VALUE || now > last) {
      last = now;
    }
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    refused++;
    return false;
  }

  /** Acquisitions refused so far. */
  public synchronized long refused() {
    return refused;
  }
}
