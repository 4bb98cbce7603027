package io.dctun.appliance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A gateway's status file (its {@code key value} lines, {@link Gateway#report}) for people: the HA
 * pair, the firewall's rules and connection-table fill, learned routes, the drops that happened,
 * the reloads and transports, each as a small table; and for scripts, one flat JSON object of every
 * key (numbers as numbers). The status holds no secret, so neither does this.
 */
final class StatusTables {
  private StatusTables() {}

  static String text(Map<String, String> status) {
    StringBuilder sb = new StringBuilder();
    Map<String, String> rest = new LinkedHashMap<>(status);

    // Peers as the gateway sees them, with the transport each is reached over (the UAPI's peer
    // table shows UDP endpoints only: wg cannot parse anything else).
    Map<String, String[]> peers = new LinkedHashMap<>();
    for (String k : new ArrayList<>(rest.keySet())) {
      if (!k.startsWith("peer.") || k.lastIndexOf('.') <= "peer.".length()) {
        continue;
      }
      String name = k.substring("peer.".length(), k.lastIndexOf('.'));
      String field = k.substring(k.lastIndexOf('.') + 1);
      int col = switch (field) {
        case "endpoint" -> 2;
        case "latest-handshake-unix" -> 3;
        case "rx-bytes" -> 4;
        case "tx-bytes" -> 5;
        case "allowed-ips" -> 6;
        default -> -1;
      };
      if (col < 0) {
        continue;
      }
      String[] row = peers.computeIfAbsent(name, n -> new String[] {n, "", "", "", "", "", ""});
      String v = rest.remove(k);
      row[col] = v;
      if (col == 2) {
        row[1] = v.startsWith("tcp://") ? "tcp" : v.startsWith("tls://") ? "tls" : "none".equals(v) ? "-" : "udp";
      }
      if (col == 3) {
        row[3] = "0".equals(v) ? "never" : java.time.Instant.ofEpochSecond(Long.parseLong(v)).toString();
      }
    }
    if (!peers.isEmpty()) {
      section(sb, "Peers", List.of("peer", "transport", "endpoint", "latest handshake", "rx bytes", "tx bytes",
          "allowed ips"), new ArrayList<>(peers.values()));
    }

    List<String[]> ha = take(rest, "ha.");
    if (!ha.isEmpty()) {
      section(sb, "HA pair", List.of("key", "value"), ha);
    }

    List<String[]> fw = new ArrayList<>();
    String flows = rest.remove("firewall.flows");
    String max = rest.remove("firewall.max-flows");
    if (rest.containsKey("firewall")) {
      fw.add(new String[] {"firewall", rest.remove("firewall")});
    }
    if (flows != null && max != null) {
      fw.add(new String[] {"connection table", flows + " of " + max + " flows (" + percent(flows, max) + ")"});
    }
    Map<String, String[]> rules = new TreeMap<>();
    for (String k : new ArrayList<>(rest.keySet())) {
      if (k.startsWith("firewall.rule.") && (k.endsWith(".packets") || k.endsWith(".bytes"))) {
        String name = k.substring("firewall.rule.".length(), k.lastIndexOf('.'));
        String[] row = rules.computeIfAbsent(name, n -> new String[] {n, "0", "0"});
        row[k.endsWith(".packets") ? 1 : 2] = rest.remove(k);
      }
    }
    fw.addAll(take(rest, "firewall."));
    if (!fw.isEmpty()) {
      section(sb, "Firewall", List.of("key", "value"), fw);
    }
    if (!rules.isEmpty()) {
      section(sb, "Firewall rules", List.of("rule", "packets", "bytes"), new ArrayList<>(rules.values()));
    }

    List<String[]> routes = new ArrayList<>();
    for (String k : new ArrayList<>(rest.keySet())) {
      if (k.startsWith("route.")) {
        String[] v = rest.remove(k).split(" ", 2);
        routes.add(new String[] {k.substring("route.".length()), v[0], v.length > 1 ? v[1] : ""});
      }
    }
    if (!routes.isEmpty()) {
      section(sb, "Learned and static routes", List.of("prefix", "via", "origin"), routes);
    }

    List<String[]> drops = new ArrayList<>();
    for (String k : new ArrayList<>(rest.keySet())) {
      if (k.startsWith("drop.")) {
        String v = rest.remove(k);
        if (!"0".equals(v)) {
          drops.add(new String[] {k.substring("drop.".length()), v});
        }
      }
    }
    if (status.containsKey("interface")) { // a gateway's (a forward's status has no drops)
      section(sb, "Drops (non-zero)", List.of("reason", "packets"), drops.isEmpty()
          ? List.<String[]>of(new String[] {"(none)", ""}) : drops);
    }

    List<String[]> outer = take(rest, "forward-outer.");
    if (!outer.isEmpty()) {
      section(sb, "Reverse forwards, outer side", List.of("key", "value"), outer);
    }
    List<String[]> inner = take(rest, "forward-inner.");
    if (!inner.isEmpty()) {
      section(sb, "Reverse forwards, inner side", List.of("key", "value"), inner);
    }
    for (String prefix : List.of("mesh.", "reload.", "transport.", "handshake.", "engine.", "uapi.")) {
      List<String[]> rows = take(rest, prefix);
      if (!rows.isEmpty()) {
        section(sb, prefix.substring(0, prefix.length() - 1), List.of("key", "value"), rows);
      }
    }
    rest.keySet().removeIf(k -> k.startsWith("peer.") || k.equals("peer")); // the peer table shows them
    List<String[]> other = new ArrayList<>();
    rest.forEach((k, v) -> other.add(new String[] {k, v}));
    if (!other.isEmpty()) {
      section(sb, "Gateway", List.of("key", "value"), other);
    }
    return sb.toString();
  }

  /**
   * Every key, flat, in the file's order; a value that is a whole number is a JSON number, a key
   * that repeats ({@code peer}) an array of strings.
   */
  static String json(Map<String, String> status) {
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, String> e : status.entrySet()) {
      sb.append(first ? "" : ",").append(StatusCommand.quote(e.getKey())).append(':');
      first = false;
      String v = e.getValue();
      if (v.indexOf('\n') >= 0) { // a repeated key ("peer"): an array of its values
        sb.append('[');
        String[] vs = v.split("\n");
        for (int i = 0; i < vs.length; i++) {
          sb.append(i == 0 ? "" : ",").append(StatusCommand.quote(vs[i]));
        }
        sb.append(']');
        continue;
      }
      sb.append(v.matches("-?(0|[1-9][0-9]{0,17})") ? v : StatusCommand.quote(v));
    }
    return sb.append('}').toString();
  }

  private static List<String[]> take(Map<String, String> rest, String prefix) {
    List<String[]> rows = new ArrayList<>();
    for (String k : new ArrayList<>(rest.keySet())) {
      if (k.startsWith(prefix)) {
        rows.add(new String[] {k.substring(prefix.length()), rest.remove(k)});
      }
    }
    return rows;
  }

  private static String percent(String part, String whole) {
    try {
      long p = Long.parseLong(part);
      long w = Long.parseLong(whole);
      return w == 0 ? "-" : String.format("%.1f %%", 100.0 * p / w);
    } catch (NumberFormatException e) {
      return "-";
    }
  }

  /** A titled table with aligned columns. */
  private static void section(StringBuilder sb, String title, List<String> head, List<String[]> rows) {
    int[] w = new int[head.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = head.get(i).length();
    }
    for (String[] r : rows) {
      for (int i = 0; i < w.length && i < r.length; i++) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    sb.append('\n').append(title).append('\n');
    line(sb, head.toArray(String[]::new), w);
    String[] rule = new String[w.length];
    for (int i = 0; i < w.length; i++) {
      rule[i] = "-".repeat(w[i]);
    }
    line(sb, rule, w);
    for (String[] r : rows) {
      line(sb, r, w);
    }
  }

  private static void line(StringBuilder sb, String[] cells, int[] w) {
    StringBuilder l = new StringBuilder("  ");
    for (int i = 0; i < w.length; i++) {
      String c = i < cells.length ? cells[i] : "";
      l.append(c);
      if (i < w.length - 1) {
        l.append(" ".repeat(w[i] - c.length() + 2));
      }
    }
    sb.append(l.toString().stripTrailing()).append('\n');
  }
}
