package io.dctun.firewall;

import io.dctun.core.Clock;

/**
 * Sizing and rate limits of a {@link Firewall}. Immutable; {@code with*} return copies.
 *
 * @param maxFlows hard bound on tracked connections (the arrays are allocated up front)
 * @param maxFlowsPerPeer flows one peer may hold (1..maxFlows), or {@link #AUTO_PER_PEER} (0):
 *     the whole table with one peer, {@code maxFlows / n} with n = 2 or 3 peers, {@code
 *     maxFlows / 4} with four or more (recomputed when a rule set with another peer count is
 *     installed). See {@link Firewall} for who loses when a peer reaches it.
 * @param rejectsPerSecond reject replies (RST / ICMP) sent at most, beyond which REJECT drops
 * @param logLinesPerSecond log lines at most (rule {@code log} and, at DEBUG, default drops)
 * @param clock only for {@link io.dctun.firewall.spi.PacketView#wallClockNanos()} of custom
 *     matchers; packet times come from the caller
 */
public record FirewallOptions(int maxFlows, int maxFlowsPerPeer, double rejectsPerSecond,
    double logLinesPerSecond, Clock clock) {
  /** {@code maxFlowsPerPeer}: derived from {@code maxFlows} and the number of peers. */
  public static final int AUTO_PER_PEER = 0;
  /** Peers among which the automatic share divides the table, at most. */
  public static final int AUTO_SHARE_DIVISOR = 4;

  public static final FirewallOptions DEFAULTS =
      new FirewallOptions(1 << 18, AUTO_PER_PEER, 1000, 10, Clock.SYSTEM);

  public FirewallOptions {
    if (maxFlowsPerPeer < 0) {
      throw new IllegalArgumentException("maxFlowsPerPeer must be >= 0 (0 = automatic), got "
          + maxFlowsPerPeer);
    }
  }

  /** The legacy shape, with the automatic per-peer share. */
  public FirewallOptions(int maxFlows, double rejectsPerSecond, double logLinesPerSecond,
      Clock clock) {
    this(maxFlows, AUTO_PER_PEER, rejectsPerSecond, logLinesPerSecond, clock);
  }

  public FirewallOptions withMaxFlows(int n) {
    return new FirewallOptions(n, maxFlowsPerPeer, rejectsPerSecond, logLinesPerSecond, clock);
  }

  /** Flows one peer may hold; {@link #AUTO_PER_PEER} for the automatic share. */
  public FirewallOptions withMaxFlowsPerPeer(int n) {
    return new FirewallOptions(maxFlows, n, rejectsPerSecond, logLinesPerSecond, clock);
  }

  public FirewallOptions withRejectsPerSecond(double r) {
    return new FirewallOptions(maxFlows, maxFlowsPerPeer, r, logLinesPerSecond, clock);
  }

  public FirewallOptions withClock(Clock c) {
    return new FirewallOptions(maxFlows, maxFlowsPerPeer, rejectsPerSecond, logLinesPerSecond, c);
  }

  /**
   * The share in force for a rule set of {@code peers} peers: {@code maxFlowsPerPeer} (at most
   * the table), or the automatic one described above.
   */
  public int perPeerLimit(int peers) {
    if (maxFlowsPerPeer != AUTO_PER_PEER) {
      return Math.min(maxFlowsPerPeer, maxFlows);
    }
    return Math.max(1, maxFlows / Math.max(1, Math.min(peers, AUTO_SHARE_DIVISOR)));
  }
}
