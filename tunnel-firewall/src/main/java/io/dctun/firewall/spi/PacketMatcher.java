package io.dctun.firewall.spi;

/**
 * One configured instance of a custom match, created by a {@link RuleModule} for one rule.
 *
 * <p>Called on the classification path, from several threads at once: it must be thread-safe,
 * should not allocate, and must not keep the {@link PacketView}. It is evaluated only after all
 * built-in fields of its rule matched.
 */
@FunctionalInterface
public interface PacketMatcher {
  boolean matches(PacketView packet);
}
