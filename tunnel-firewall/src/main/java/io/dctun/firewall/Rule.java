package io.dctun.firewall;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One rule as configuration writes it: text values, validated and compiled by
 * {@link RuleSet.Builder#build()} which reports every bad field with the rule's name. Unset
 * fields match anything. Fluent and mutable; the builder copies what it needs.
 *
 * <pre>{@code
 * Rule.named("pg-replication").inbound().peer("prod-dc1").source("10.1.0.0/16")
 *     .destination("10.2.5.10/32").protocol("tcp").destinationPort("5432").action(Action.ACCEPT)
 * }</pre>
 *
 * <p>Thread-safety: not thread-safe; build on one thread.
 */
public final class Rule {
  final String name;
  final EnumSet<Direction> directions = EnumSet.noneOf(Direction.class);
  final List<String> peers = new ArrayList<>();
  final List<String> groups = new ArrayList<>();
  final List<String> sources = new ArrayList<>();
  final List<String> destinations = new ArrayList<>();
  String protocol;
  final List<String> sourcePorts = new ArrayList<>();
  final List<String> destinationPorts = new ArrayList<>();
  Integer icmpType;
  Integer icmpCode;
  final EnumSet<ConnState> states = EnumSet.noneOf(ConnState.class);
  Action action;
  boolean log;
  final Map<String, Map<String, String>> matchers = new LinkedHashMap<>();

  private Rule(String name) {
    this.name = name;
  }

  /** A new rule; the name identifies it in errors, counters, logs and explanations. */
  public static Rule named(String name) {
    return new Rule(name);
  }

  public String name() {
    return name;
  }

  /** Packets from the tunnel toward the local network. Neither direction set means both. */
  public Rule inbound() {
    directions.add(Direction.INBOUND);
    return this;
  }

  /** Packets from the local network into the tunnel. */
  public Rule outbound() {
    directions.add(Direction.OUTBOUND);
    return this;
  }

  public Rule direction(Direction d) {
    directions.add(d);
    return this;
  }

  /** A peer by configured name or by base64 public key; repeatable (any of them). */
  public Rule peer(String nameOrKey) {
    peers.add(nameOrKey);
    return this;
  }

  /** A group of peers; repeatable. Peers and groups together: the peer is in any of them. */
  public Rule group(String group) {
    groups.add(group);
    return this;
  }

  /** A source prefix in CIDR form (IPv4 or IPv6), or a bare address; repeatable (any of them). */
  public Rule source(String... prefixes) {
    Collections.addAll(sources, prefixes);
    return this;
  }

  public Rule destination(String... prefixes) {
    Collections.addAll(destinations, prefixes);
    return this;
  }

  /** {@code tcp}, {@code udp}, {@code icmp}, {@code icmpv6}, {@code any} or a number 0..255. */
  public Rule protocol(String p) {
    protocol = p;
    return this;
  }

  /** A port {@code "5432"} or range {@code "1024-65535"}; repeatable. Needs tcp or udp. */
  public Rule sourcePort(String... ports) {
    Collections.addAll(sourcePorts, ports);
    return this;
  }

  public Rule destinationPort(String... ports) {
    Collections.addAll(destinationPorts, ports);
    return this;
  }

  /** ICMP/ICMPv6 type 0..255; needs protocol icmp or icmpv6. */
  public Rule icmpType(int type) {
    icmpType = type;
    return this;
  }

  public Rule icmpCode(int code) {
    icmpCode = code;
    return this;
  }

  /**
   * Connection states this rule applies to. Unset means NEW and RELATED. Packets of
   * ESTABLISHED flows never reach the rules (see {@link Firewall}), so ESTABLISHED here has no
   * effect and is reported as an error.
   */
  public Rule state(ConnState... s) {
    Collections.addAll(states, s);
    return this;
  }

  public Rule action(Action a) {
    action = a;
    return this;
  }

  /** Log packets this rule decides (rate-limited). */
  public Rule log(boolean on) {
    log = on;
    return this;
  }

  /** A custom matcher from a {@link io.dctun.firewall.spi.RuleModule} by its name. */
  public Rule match(String module, Map<String, String> params) {
    matchers.put(module, new LinkedHashMap<>(params));
    return this;
  }

  Set<Direction> effectiveDirections() {
    return directions.isEmpty() ? EnumSet.allOf(Direction.class) : directions;
  }

  @Override
  public String toString() {
    return "Rule[" + name + "]";
  }
}
