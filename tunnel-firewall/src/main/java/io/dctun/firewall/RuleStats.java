package io.dctun.firewall;

/**
 * Counters of one rule: packets and bytes it decided (for ACCEPT rules also the later packets of
 * the flows it admitted), and the {@code now} of the last hit (0 if never).
 */
public record RuleStats(String rule, long packets, long bytes, long lastHitNanos) {}
