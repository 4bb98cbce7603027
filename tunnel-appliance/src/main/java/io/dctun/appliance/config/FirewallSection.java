package io.dctun.appliance.config;

import io.dctun.firewall.Action;
import io.dctun.firewall.ConnState;
import io.dctun.firewall.Direction;
import io.dctun.firewall.FirewallOptions;
import io.dctun.firewall.Rule;
import io.dctun.firewall.RuleError;
import io.dctun.firewall.RuleSet;
import io.dctun.firewall.RuleSetException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads the {@code firewall:} section of a gateway configuration from SnakeYAML nodes, builds the
 * rule set with {@link RuleSet.Builder}, and reports every problem as a {@link ConfigError} with
 * file, line and field, the rule-set builder's {@link RuleError}s included (mapped back to the
 * line of the offending field, or list item, of the named rule).
 *
 * <pre>
 * firewall:
 *   max-flows: 262144            # optional, connection-table bound (1024-16777216)
 *   max-flows-per-peer: 65536    # optional, flows one peer may hold (1..max-flows); default
 *                                #   max-flows / min(peers, 4): beyond it the peer's new flows are
 *                                #   refused (PEER_SHARE_FULL), so it cannot fill the table for all
 *   rejects-per-second: 1000     # optional, RST / ICMP replies at most
 *   groups:                      # optional, group -> peer names
 *     prod: [prod-dc1]
 *   rules:                       # first match wins; nothing matched = drop
 *     - name: pg-replication     # required, unique: counters, logs, explain
 *       direction: in            # in (from the tunnel), out (into the tunnel), both (default)
 *       peer: prod-dc1           # or a list; group: NAME or a list
 *       source: [10.1.0.0/16]    # prefixes or addresses, IPv4 or IPv6; peer:NAME = that peer's
 *       destination: 10.2.5.10   #   allowed-ips (a host's fixed virtual IPs), group:NAME = its members'
 *       destination: [peer:laptop, group:ops]
 *       protocol: tcp            # tcp udp icmp icmpv6 any 0-255
 *       source-port: 1024-65535  # port, lo-hi, or a list of them (tcp/udp)
 *       destination-port: 5432
 *       icmp-type: 8             # icmp-code: N
 *       state: [new]             # new related invalid (default new, related)
 *       action: accept           # accept drop reject (required)
 *       log: true
 *       match: {module: time-window, from: "08:00", to: "18:00"}   # or a list of these
 * </pre>
 *
 * Stateless; called by {@link ConfigLoader} with that run's error list.
 */
public final class FirewallSection {
  static final Set<String> FIELDS = Set.of("groups", "rules", "max-flows", "max-flows-per-peer",
      "rejects-per-second");
  static final Set<String> RULE_FIELDS = Set.of("name", "description", "direction", "peer", "group",
      "source", "destination", "protocol", "source-port", "destination-port", "icmp-type", "icmp-code",
      "state", "action", "log", "match");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");

  private FirewallSection() {}

  /**
   * Parses the section whose key/value pair is {@code tuple} (null: the file has no firewall
   * section, so the result is empty), adding every problem to {@code errors}.
   *
   * @param peers the peers that parsed cleanly; rules and groups may name them (or their keys)
   */
  public static Optional<FirewallConfig> parse(Path file, NodeTuple tuple, List<PeerConfig> peers,
      List<ConfigError> errors) {
    if (tuple == null) {
      return Optional.empty();
    }
    return Optional.ofNullable(new Run(file, errors).section(tuple, peers));
  }

  /** One rule's nodes: where each field and list item is, to point errors at them. */
  private record RuleNodes(String label, int index, Node node, Map<String, NodeTuple> fields) {}

  private static final class Run extends YamlReader {
    final Path file;
    final List<ConfigError> errors;
    /** The peers by label and the groups (both kinds) by name, for peer:NAME and group:NAME addresses. */
    Map<String, PeerConfig> byLabel = Map.of();
    Map<String, List<String>> groups = Map.of();

    Run(Path file, List<ConfigError> errors) {
      this.file = file;
      this.errors = errors;
    }

    FirewallConfig section(NodeTuple tuple, List<PeerConfig> peers) {
      int before = errors.size();
      Node root = tuple.getValueNode();
      int line = ConfigLoader.line(tuple.getKeyNode());
      Map<String, NodeTuple> f = Map.of();
      if (ConfigLoader.isNull(root)) {
        // "firewall:" with nothing under it: present, so default deny, no rules.
      } else if (!(root instanceof MappingNode)) {
        error(root, "firewall", "must be a mapping (groups, rules, max-flows)");
        return null;
      } else {
        f = fields((MappingNode) root, "firewall.", FIELDS);
      }

      FirewallOptions options = FirewallOptions.DEFAULTS;
      Node n = value(f, "max-flows");
      if (n != null) {
        Integer v = integer(n, "firewall.max-flows", 1024, 1 << 24);
        if (v != null) options = options.withMaxFlows(v);
      }
      n = value(f, "max-flows-per-peer");
      if (n != null) {
        Integer v = integer(n, "firewall.max-flows-per-peer", 1, 1 << 24);
        if (v != null && v > options.maxFlows()) {
          error(n, "firewall.max-flows-per-peer", v + " is more than max-flows (" + options.maxFlows()
              + "): one peer could then fill the whole table; leave the field out for the default "
              + "share, max-flows / min(peers, 4)");
        } else if (v != null) {
          options = options.withMaxFlowsPerPeer(v);
        }
      }
      n = value(f, "rejects-per-second");
      if (n != null) {
        Integer v = integer(n, "firewall.rejects-per-second", 0, 1_000_000);
        if (v != null) options = options.withRejectsPerSecond(v);
      }

      Map<String, PeerConfig> byLabel = new LinkedHashMap<>();
      for (PeerConfig p : peers) {
        byLabel.put(p.label(), p);
      }
      Map<String, List<String>> groups = new LinkedHashMap<>();
      Map<String, List<String>> groupsOfPeer = new HashMap<>();
      Map<String, List<String>> peerGroups = new LinkedHashMap<>(); // from the peers' own groups: lists
      for (PeerConfig p : peers) {
        for (String g : p.groups()) {
          peerGroups.computeIfAbsent(g, k -> new ArrayList<>()).add(p.label());
          groupsOfPeer.computeIfAbsent(p.label(), k -> new ArrayList<>()).add(g);
        }
      }
      n = value(f, "groups");
      if (n != null && !(n instanceof MappingNode)) {
        error(n, "firewall.groups", "must be a mapping of group name to a list of peer names");
      } else if (n != null) {
        for (NodeTuple t : ((MappingNode) n).getValue()) {
          String g = scalar(t.getKeyNode(), "firewall.groups");
          if (g == null) continue;
          String at = "firewall.groups." + g;
          if (!NAME.matcher(g).matches()) {
            error(t.getKeyNode(), at, "'" + g + "' is not a group name (A-Z a-z 0-9 _ . -)");
            continue;
          }
          if (groups.containsKey(g)) {
            error(t.getKeyNode(), at, "is given twice");
            continue;
          }
          List<String> members = new ArrayList<>();
          List<Node> items = list(t.getValueNode(), at);
          for (int i = 0; i < items.size(); i++) {
            String p = scalar(items.get(i), at + "[" + i + "]");
            if (p == null) continue;
            if (!byLabel.containsKey(p)) {
              error(items.get(i), at + "[" + i + "]", "unknown peer '" + p + "' (peers: "
                  + String.join(", ", byLabel.keySet()) + ")");
              continue;
            }
            members.add(p);
            List<String> of = groupsOfPeer.computeIfAbsent(p, k -> new ArrayList<>());
            if (!of.contains(g)) of.add(g); // also listed in the peer's own groups:
          }
          if (items.isEmpty()) {
            error(t.getValueNode(), at, "has no peers");
          }
          groups.put(g, members);
        }
      }
      for (Map.Entry<String, List<String>> e : peerGroups.entrySet()) {
        List<String> members = groups.computeIfAbsent(e.getKey(), k -> new ArrayList<>());
        for (String p : e.getValue()) {
          if (!members.contains(p)) members.add(p);
        }
      }
      this.byLabel = byLabel;
      this.groups = groups;

      List<Rule> rules = new ArrayList<>();
      List<RuleNodes> nodes = new ArrayList<>();
      Map<String, Integer> ruleLines = new LinkedHashMap<>();
      n = value(f, "rules");
      List<Node> items = list(n, "firewall.rules");
      for (int i = 0; i < items.size(); i++) {
        RuleNodes rn = rule(items.get(i), i, rules, ruleLines);
        if (rn != null) {
          nodes.add(rn);
          ruleLines.putIfAbsent(rn.label, ConfigLoader.line(rn.node));
        }
      }
      // The builder checks the rules that are well-formed YAML, so one run reports both kinds.
      RuleSet.Builder b = RuleSet.builder();
      for (PeerConfig p : peers) {
        b.peer(p.label(), p.publicKey(), groupsOfPeer.getOrDefault(p.label(), List.of()).toArray(String[]::new));
      }
      b.rules(rules);
      try {
        RuleSet rs = b.build();
        if (errors.size() != before) {
          return null;
        }
        return new FirewallConfig(file, line, groups, ruleLines, rs, options);
      } catch (RuleSetException e) {
        for (RuleError re : e.errors()) {
          report(re, nodes, tuple.getKeyNode());
        }
        return null;
      }
    }

    /** One rule, added to {@code out} when it is well formed YAML (the builder checks the rest). */
    RuleNodes rule(Node node, int index, List<Rule> out, Map<String, Integer> seen) {
      String at = "firewall.rules[" + index + "]";
      if (!(node instanceof MappingNode)) {
        error(node, at, "must be a mapping (name, action, ...)");
        return null;
      }
      int before = errors.size();
      Map<String, NodeTuple> f = fields((MappingNode) node, at + ".", RULE_FIELDS);
      String name = null;
      Node n = value(f, "name");
      if (n == null) {
        error(node, at + ".name", "is required (it names the rule in counters, logs and explain)");
      } else {
        name = scalar(n, at + ".name");
        if (name != null && !NAME.matcher(name).matches()) {
          error(n, at + ".name", "'" + name + "' is not a rule name (1-63 characters of A-Z a-z 0-9 _ . -)");
          name = null;
        } else if (name != null && seen.containsKey(name)) {
          error(n, at + ".name", "'" + name + "' is already the name of the rule at line " + seen.get(name));
          name = null;
        }
      }
      String label = name != null ? name : "#" + index;
      String rat = at + " (" + label + ")";
      Rule r = Rule.named(name);

      n = value(f, "direction");
      if (n != null) {
        String d = scalar(n, rat + ".direction");
        if (d != null) {
          switch (d.toLowerCase(Locale.ROOT)) {
            case "in", "inbound" -> r.inbound();
            case "out", "outbound" -> r.outbound();
            case "both", "any" -> r.inbound().outbound();
            default -> error(n, rat + ".direction", "'" + d
                + "' is not a direction (in = from the tunnel, out = into the tunnel, both)");
          }
        }
      }
      for (String p : strings(value(f, "peer"), rat + ".peer")) r.peer(p);
      for (String g : strings(value(f, "group"), rat + ".group")) r.group(g);
      for (String s : addresses(value(f, "source"), rat + ".source")) r.source(s);
      for (String s : addresses(value(f, "destination"), rat + ".destination")) r.destination(s);
      n = value(f, "protocol");
      if (n != null) {
        String p = scalar(n, rat + ".protocol");
        if (p != null) r.protocol(p);
      }
      for (String s : strings(value(f, "source-port"), rat + ".source-port")) r.sourcePort(s);
      for (String s : strings(value(f, "destination-port"), rat + ".destination-port")) r.destinationPort(s);
      n = value(f, "icmp-type");
      if (n != null) {
        Integer v = integer(n, rat + ".icmp-type", 0, 255);
        if (v != null) r.icmpType(v);
      }
      n = value(f, "icmp-code");
      if (n != null) {
        Integer v = integer(n, rat + ".icmp-code", 0, 255);
        if (v != null) r.icmpCode(v);
      }
      n = value(f, "state");
      List<Node> stateNodes = n instanceof SequenceNode s ? s.getValue() : n == null ? List.of() : List.of(n);
      for (Node sn : stateNodes) {
        String s = scalar(sn, rat + ".state");
        if (s == null) continue;
        try {
          r.state(ConnState.valueOf(s.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          error(sn, rat + ".state", "'" + s + "' is not a state (new, related, invalid)");
        }
      }
      n = value(f, "action");
      if (n == null) {
        error(node, rat + ".action", "is required (accept, drop or reject)");
      } else {
        String a = scalar(n, rat + ".action");
        if (a != null) {
          try {
            r.action(Action.valueOf(a.toUpperCase(Locale.ROOT)));
          } catch (IllegalArgumentException e) {
            error(n, rat + ".action", "'" + a + "' is not an action (accept, drop or reject)");
          }
        }
      }
      n = value(f, "log");
      if (n != null) {
        String l = scalar(n, rat + ".log");
        if ("true".equalsIgnoreCase(l) || "yes".equalsIgnoreCase(l)) {
          r.log(true);
        } else if (l != null && !"false".equalsIgnoreCase(l) && !"no".equalsIgnoreCase(l)) {
          error(n, rat + ".log", "'" + l + "' is not true or false");
        }
      }
      n = value(f, "description");
      if (n != null) {
        scalar(n, rat + ".description");
      }
      n = value(f, "match");
      List<Node> matchNodes = n instanceof SequenceNode s ? s.getValue() : n == null ? List.of() : List.of(n);
      for (Node mn : matchNodes) {
        if (!(mn instanceof MappingNode m)) {
          error(mn, rat + ".match", "must be a mapping {module: NAME, parameter: value, ...}");
          continue;
        }
        String module = null;
        Map<String, String> params = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
          String k = scalar(t.getKeyNode(), rat + ".match");
          String v = scalar(t.getValueNode(), rat + ".match." + k);
          if (k == null || v == null) continue;
          if (k.equals("module")) {
            module = v;
          } else if (params.putIfAbsent(k, v) != null) {
            error(t.getKeyNode(), rat + ".match." + k, "is given twice");
          }
        }
        if (module == null) {
          error(mn, rat + ".match", "needs 'module: NAME' (a rule module on the class path)");
        } else {
          r.match(module, params);
        }
      }
      if (errors.size() != before) {
        return null;
      }
      out.add(r);
      return new RuleNodes(label, index, node, f);
    }

    /** Puts a builder error on the line of the field (or list item) it is about. */
    void report(RuleError re, List<RuleNodes> nodes, Node section) {
      RuleNodes rn = null;
      for (RuleNodes c : nodes) {
        if (c.label.equals(re.rule())) {
          rn = c;
        }
      }
      if (rn == null) {
        errors.add(new ConfigError(file, ConfigLoader.line(section), "firewall", re.toString()));
        return;
      }
      String field = re.field();
      String key = field.startsWith("match.") ? "match"
          : field.replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
      String path = "firewall.rules[" + rn.index + "] (" + rn.label + ")." + key;
      NodeTuple t = rn.fields.get(key);
      Node at = t == null ? rn.node : t.getKeyNode();
      if (t != null && t.getValueNode() instanceof SequenceNode s) {
        List<Node> items = s.getValue();
        for (int i = 0; i < items.size(); i++) {
          if (items.get(i) instanceof ScalarNode sc && re.message().contains("'" + sc.getValue().strip() + "'")) {
            at = sc;
            path += "[" + i + "]";
            break;
          }
        }
      } else if (t != null) {
        at = t.getValueNode();
      }
      errors.add(new ConfigError(file, ConfigLoader.line(at), path, "rule '" + rn.label + "': " + re.message()));
    }

    // ---------------------------------------------------------------- node helpers

    /**
     * {@link #strings} for source and destination, with {@code peer:NAME} replaced by that peer's
     * allowed IPs and {@code group:NAME} by its members' (resolved now, at load time); an unknown
     * name, or a peer that is routed nothing, is an error on its own line.
     */
    List<String> addresses(Node n, String field) {
      List<String> out = new ArrayList<>();
      if (n == null) {
        return out;
      }
      boolean seq = n instanceof SequenceNode;
      List<Node> items = n instanceof SequenceNode s ? s.getValue() : List.of(n);
      for (int i = 0; i < items.size(); i++) {
        String at = seq ? field + "[" + i + "]" : field;
        String v = scalar(items.get(i), at);
        if (v == null) continue;
        if (v.startsWith("peer:")) {
          String name = v.substring(5);
          PeerConfig p = byLabel.get(name);
          if (p == null) {
            error(items.get(i), at, "unknown peer '" + name + "' (peers: " + String.join(", ", byLabel.keySet()) + ")");
          } else if (p.allowedIps().isEmpty()) {
            error(items.get(i), at, "peer '" + name + "' has no allowed-ips, so it names no address");
          } else {
            p.allowedIps().forEach(a -> out.add(a.toString()));
          }
        } else if (v.startsWith("group:")) {
          String name = v.substring(6);
          List<String> members = groups.get(name);
          if (members == null) {
            error(items.get(i), at, "unknown group '" + name + "' (groups: " + String.join(", ", groups.keySet()) + ")");
            continue;
          }
          int before = out.size();
          for (String m : members) {
            PeerConfig p = byLabel.get(m);
            if (p != null) p.allowedIps().forEach(a -> out.add(a.toString()));
          }
          if (out.size() == before) {
            error(items.get(i), at, "group '" + name + "' has no member with allowed-ips, so it names no address");
          }
        } else {
          out.add(v);
        }
      }
      if (seq && items.isEmpty()) {
        error(n, field, "is an empty list; leave the field out to match anything");
      }
      return out;
    }

    /** A single value or a list of values; empty when absent. */
    List<String> strings(Node n, String field) {
      List<String> out = new ArrayList<>();
      if (n == null) {
        return out;
      }
      List<Node> items = n instanceof SequenceNode s ? s.getValue() : List.of(n);
      for (int i = 0; i < items.size(); i++) {
        String v = scalar(items.get(i), n instanceof SequenceNode ? field + "[" + i + "]" : field);
        if (v != null) out.add(v);
      }
      if (n instanceof SequenceNode && items.isEmpty()) {
        error(n, field, "is an empty list; leave the field out to match anything");
      }
      return out;
    }

    @Override
    void error(Node at, String field, String message) {
      errors.add(new ConfigError(file, ConfigLoader.line(at), field, message));
    }
  }

  /** Parses a direction as the CLI and configuration write it. */
  public static Direction direction(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "in", "inbound" -> Direction.INBOUND;
      case "out", "outbound" -> Direction.OUTBOUND;
      default -> throw new IllegalArgumentException("'" + s + "' is not a direction (in or out)");
    };
  }
}
