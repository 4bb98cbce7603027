package io.dctun.firewall.spi;

import java.util.Map;

/**
 * A custom rule match that configuration uses like a built-in field. Modules are found with
 * {@link java.util.ServiceLoader} (or passed to {@code RuleSet.Builder.modules}); a rule names
 * the module and gives it string parameters, and the rule-set builder asks the module for a
 * {@link PacketMatcher}. A rule with several matchers matches only if all of them do.
 *
 * <p>A complete module, matching packets whose TCP/UDP destination port is even:
 *
 * <pre>{@code
 * package com.example.fw;
 *
 * public final class EvenPortModule implements RuleModule {
 *   public String name() { return "even-port"; }
 *
 *   public PacketMatcher create(Map<String, String> params) {
 *     boolean even = Boolean.parseBoolean(params.getOrDefault("even", "true"));
 *     if (params.keySet().stream().anyMatch(k -> !k.equals("even"))) {
 *       throw new IllegalArgumentException("unknown parameter; only 'even' is allowed");
 *     }
 *     return p -> p.destinationPort() >= 0 && ((p.destinationPort() & 1) == 0) == even;
 *   }
 * }
 * }</pre>
 *
 * registered in {@code META-INF/services/io.dctun.firewall.spi.RuleModule} with the line
 * {@code com.example.fw.EvenPortModule}, and used from a rule:
 *
 * <pre>{@code
 * Rule.named("even-only").inbound().protocol("tcp").match("even-port", Map.of("even", "true"))
 *     .action(Action.ACCEPT)
 * }</pre>
 *
 * <p>Implementations need a public no-argument constructor; {@link #create} is called while a
 * rule set is built (not on the packet path) and reports bad parameters by throwing
 * {@link IllegalArgumentException} with a message naming the parameter: the builder records it
 * against the rule and the field {@code match.<name>}.
 */
public interface RuleModule {
  /** The name rules use to refer to this module; unique among loaded modules. */
  String name();

  /** A matcher for one rule's parameters. */
  PacketMatcher create(Map<String, String> params);
}
