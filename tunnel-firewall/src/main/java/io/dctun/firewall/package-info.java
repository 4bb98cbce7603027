/**
 * The dctun firewall: default deny in both directions, a compiled first-match classifier, and
 * connection tracking, implementing core's {@link io.dctun.core.session.PacketFilter}.
 *
 * <p>Building one from configuration (what the appliance does):
 *
 * <pre>{@code
 * RuleSet rules = RuleSet.builder()
 *     .peer("prod-dc1", prodKey, "prod")               // name, key, groups
 *     .peer("staging-dc2", stagingKey, "staging")
 *     .rule(Rule.named("pg-replication").inbound().peer("prod-dc1")
 *         .source("10.1.0.0/16").destination("10.2.5.10")
 *         .protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
 *     .rule(Rule.named("no-telnet").protocol("tcp").destinationPort("23")
 *         .action(Action.REJECT).log(true))
 *     .build();                                         // throws RuleSetException (all errors)
 * Firewall fw = new Firewall(rules, FirewallOptions.DEFAULTS.withMaxFlows(1 << 20));
 * device.setFilter(fw);
 * fw.reload(builderFromNewConfig);                     // atomic; refused whole on any error
 * fw.explain(Direction.INBOUND, "prod-dc1", "tcp 10.1.0.5:40000 -> 10.2.5.10:5432", now);
 * }</pre>
 *
 * <p>Where things are:
 *
 * <pre>
 *  Rule (text fields) --RuleSet.Builder: validate all, collect RuleErrors--> RuleSet
 *      RuleSet = peers (name, key, groups) + CompiledRule[] + Classifier per direction
 *  Firewall = volatile RuleSet + version, ConnTrack (bounded, striped), counters, budgets
 *  spi.RuleModule (ServiceLoader) -> spi.PacketMatcher, evaluated after built-in fields
 * </pre>
 *
 * The classifier's structure is drawn in {@link io.dctun.firewall.internal.Classifier}, the
 * connection table's in {@link io.dctun.firewall.internal.ConnTrack}, the packet path in
 * {@link io.dctun.firewall.Firewall}, and the reject replies in
 * {@link io.dctun.firewall.internal.Rejects}.
 */
package io.dctun.firewall;
