package io.dctun.appliance.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reading SnakeYAML nodes the way every part of the configuration does: each problem is
 * reported through {@link #error} with the node (for its line) and the field's path, and the
 * reader goes on, so that one pass finds every error. Shared by the gateway file, the
 * {@code firewall:} and the {@code ha:} sections.
 */
abstract class YamlReader {

  /** Records one error at {@code at}'s line; {@code field} is the path, e.g. peers[1].endpoint. */
  abstract void error(Node at, String field, String message);

  /**
   * The mapping's fields by name; reports unknown (with a "did you mean"), duplicate and
   * non-text keys. {@code prefix} is the path of the mapping with a trailing dot, or empty.
   */
  Map<String, NodeTuple> fields(MappingNode m, String prefix, Set<String> known) {
    Map<String, NodeTuple> out = new LinkedHashMap<>();
    for (NodeTuple t : m.getValue()) {
      Node k = t.getKeyNode();
      if (!(k instanceof ScalarNode) || ConfigLoader.isNull(k)) {
        error(k, prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1), "field names must be plain text");
        continue;
      }
      String name = ((ScalarNode) k).getValue();
      if (!known.contains(name)) {
        error(k, prefix + name, "unknown field" + ConfigLoader.suggestion(name, known));
        continue;
      }
      NodeTuple first = out.putIfAbsent(name, t);
      if (first != null) {
        error(k, prefix + name, "is given twice (first at line " + ConfigLoader.line(first.getKeyNode()) + ")");
      }
    }
    return out;
  }

  /** The field's value node, or null if absent or written as null (so the default applies). */
  static Node value(Map<String, NodeTuple> f, String name) {
    NodeTuple t = f.get(name);
    if (t == null || ConfigLoader.isNull(t.getValueNode())) {
      return null;
    }
    return t.getValueNode();
  }

  /** A single non-empty value, stripped; null (reported) otherwise. */
  String scalar(Node n, String field) {
    if (!(n instanceof ScalarNode)) {
      error(n, field, "must be a single value, not a " + (n instanceof SequenceNode ? "list" : "mapping"));
      return null;
    }
    if (ConfigLoader.isNull(n)) {
      error(n, field, "has no value");
      return null;
    }
    String s = ((ScalarNode) n).getValue().strip();
    if (s.isEmpty()) {
      error(n, field, "is empty");
      return null;
    }
    return s;
  }

  /** A whole number in {@code min..max}; null (reported) otherwise. */
  Integer integer(Node n, String field, int min, int max) {
    String s = scalar(n, field);
    if (s == null) {
      return null;
    }
    if (s.length() > 9 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      error(n, field, "'" + s + "' is not a whole number " + min + "-" + max);
      return null;
    }
    int v = Integer.parseInt(s);
    if (v < min || v > max) {
      error(n, field, v + " is outside " + min + "-" + max);
      return null;
    }
    return v;
  }

  /** {@code true} or {@code false}; null (reported) otherwise. */
  Boolean bool(Node n, String field) {
    String s = scalar(n, field);
    if (s == null) {
      return null;
    }
    if (s.equals("true")) {
      return true;
    }
    if (s.equals("false")) {
      return false;
    }
    error(n, field, "'" + s + "' is not true or false");
    return null;
  }

  /** The items of a list; null (absent) is the empty list, and a lone value is reported. */
  List<Node> list(Node n, String field) {
    if (n == null) {
      return List.of();
    }
    if (!(n instanceof SequenceNode)) {
      error(n, field, "must be a list, e.g. [" + (n instanceof ScalarNode ? ((ScalarNode) n).getValue() : "...") + "]");
      return List.of();
    }
    return ((SequenceNode) n).getValue();
  }
}
