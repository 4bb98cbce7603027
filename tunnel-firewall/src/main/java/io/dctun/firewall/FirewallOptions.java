package io.dctun.firewall;

import io.dctun.core.Clock;

/**
 * Sizing and rate limits of a {@link Firewall}. Immutable; {@code with*} return copies.
 *
 * @param maxFlows hard bound on tracked connections (the arrays are allocated up front)
 * @param rejectsPerSecond reject replies (RST / ICMP) sent at most, beyond which REJECT drops
 * @param logLinesPerSecond log lines at most (rule {@code log} and, at DEBUG, default drops)
 * @param clock only for {@link io.dctun.firewall.spi.PacketView#wallClockNanos()} of custom
 *     matchers; packet times come from the caller
 */
public record FirewallOptions(int maxFlows, double rejectsPerSecond, double logLinesPerSecond,
    Clock clock) {
  public static final FirewallOptions DEFAULTS =
      new FirewallOptions(1 << 18, 1000, 10, Clock.SYSTEM);

  public FirewallOptions withMaxFlows(int n) {
    return new FirewallOptions(n, rejectsPerSecond, logLinesPerSecond, clock);
  }

  public FirewallOptions withRejectsPerSecond(double r) {
    return new FirewallOptions(maxFlows, r, logLinesPerSecond, clock);
  }

  public FirewallOptions withClock(Clock c) {
    return new FirewallOptions(maxFlows, rejectsPerSecond, logLinesPerSecond, c);
  }
}
