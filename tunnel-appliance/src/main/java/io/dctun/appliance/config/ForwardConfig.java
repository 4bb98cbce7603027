package io.dctun.appliance.config;

import io.dctun.appliance.forward.ForwardInner;
import io.dctun.appliance.forward.ForwardKeys;
import io.dctun.appliance.forward.ForwardOuter;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * The configuration of {@code dctun forward}: reverse TCP forwards, read and checked whole
 * before anything runs; every error names the file, the line and the field. A file holds the
 * {@code outer:} side, the {@code inner:} side, or both (a test rig).
 *
 * <pre>
 * outer:                          # this side may be connected to (a DMZ host)
 *   listen: 198.18.0.1:2222       # where the inner side connects
 *   key-file: outer.key           # dctun forward genkey outer.key (0600)
 *   inner-key: ecdsa-sha2-nistp256 AAAA...   # the only client accepted
 *   bind: 198.18.0.1              # the address the forwarded ports listen on
 *   ports: [5432]                 # the ports the inner side may ask for
 *   heartbeat: 5s                 # optional; a session silent for 3 heartbeats is closed
 * inner:                          # this side may connect out only (an internal database)
 *   outer: 198.18.0.1:2222
 *   outer-key: ecdsa-sha2-nistp256 AAAA...   # the outer side's key, pinned
 *   key-file: inner.key
 *   bind: 198.18.0.1              # as the outer side's bind
 *   forwards:
 *     - {port: 5432, target: 198.18.30.5:5432}
 *   heartbeat: 5s
 * </pre>
 */
public record ForwardConfig(Optional<ForwardOuter.Config> outer, Optional<ForwardInner.Config> inner) {
  static final Set<String> TOP = Set.of("outer", "inner");
  static final Set<String> OUTER = Set.of("listen", "key-file", "inner-key", "bind", "ports", "heartbeat");
  static final Set<String> INNER = Set.of("outer", "outer-key", "key-file", "bind", "forwards", "heartbeat");
  static final Set<String> FORWARD = Set.of("port", "target");

  public static ForwardConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(List.of(new ConfigError(file, 0, "", "cannot be read: " + e.getMessage())));
    }
    Run r = new Run(file);
    ForwardConfig c = r.parse(text);
    if (!r.errors.isEmpty()) {
      List<ConfigError> sorted = new ArrayList<>(r.errors);
      sorted.sort(Comparator.comparingInt(ConfigError::line));
      throw new ConfigException(sorted);
    }
    return c;
  }

  private static final class Run extends YamlReader {
    final Path file;
    final Path dir;
    final List<ConfigError> errors = new ArrayList<>();

    Run(Path file) {
      this.file = file;
      Path parent = file.toAbsolutePath().getParent();
      this.dir = parent != null ? parent : file.toAbsolutePath();
    }

    @Override
    void error(Node at, String field, String message) {
      errors.add(new ConfigError(file, at == null ? 0 : ConfigLoader.line(at), field, message));
    }

    ForwardConfig parse(String yaml) {
      Node root;
      try {
        LoaderOptions options = new LoaderOptions();
        options.setAllowRecursiveKeys(false);
        options.setMaxAliasesForCollections(20);
        root = new Yaml(new SafeConstructor(options)).compose(new StringReader(yaml));
      } catch (MarkedYAMLException e) {
        errors.add(new ConfigError(file, e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1, "",
            "YAML syntax: " + e.getProblem()));
        return null;
      } catch (YAMLException e) {
        errors.add(new ConfigError(file, 0, "", "YAML: " + e.getMessage()));
        return null;
      }
      if (!(root instanceof MappingNode)) {
        errors.add(new ConfigError(file, 1, "", "must be a mapping with outer: and/or inner:"));
        return null;
      }
      Map<String, NodeTuple> f = fields((MappingNode) root, "", TOP);
      Node o = value(f, "outer");
      Node i = value(f, "inner");
      if (o == null && i == null) {
        errors.add(new ConfigError(file, 1, "", "has neither outer: nor inner:"));
        return null;
      }
      Optional<ForwardOuter.Config> outer = o == null ? Optional.empty() : Optional.ofNullable(outer(o));
      Optional<ForwardInner.Config> inner = i == null ? Optional.empty() : Optional.ofNullable(inner(i));
      return new ForwardConfig(outer, inner);
    }

    Map<String, NodeTuple> section(Node n, String name, Set<String> known) {
      if (!(n instanceof MappingNode)) {
        error(n, name, "must be a mapping");
        return null;
      }
      return fields((MappingNode) n, name + ".", known);
    }

    Node required(Map<String, NodeTuple> f, Node section, String name, String field) {
      Node n = value(f, name);
      if (n == null) {
        error(section, field + "." + name, "is required");
      }
      return n;
    }

    InetSocketAddress address(Node n, String field) {
      String s = n == null ? null : scalar(n, field);
      if (s == null) {
        return null;
      }
      try {
        Endpoint e = Endpoint.parse(s);
        return new InetSocketAddress(InterfaceAddress.parseLiteral(e.host()), e.port());
      } catch (IllegalArgumentException e) {
        error(n, field, "'" + s + "' is not ADDRESS:PORT with an IP address: " + e.getMessage());
        return null;
      }
    }

    InetAddress ip(Node n, String field) {
      String s = n == null ? null : scalar(n, field);
      if (s == null) {
        return null;
      }
      try {
        return InterfaceAddress.parseLiteral(s);
      } catch (IllegalArgumentException e) {
        error(n, field, "'" + s + "' is not an IP address");
        return null;
      }
    }

    KeyPair key(Node n, String field) {
      String s = n == null ? null : scalar(n, field);
      if (s == null) {
        return null;
      }
      try {
        return ForwardKeys.read(dir.resolve(s));
      } catch (IOException e) {
        error(n, field, e.getMessage());
        return null;
      }
    }

    PublicKey publicKey(Node n, String field) {
      String s = n == null ? null : scalar(n, field);
      if (s == null) {
        return null;
      }
      try {
        return ForwardKeys.parsePublic(s);
      } catch (IllegalArgumentException e) {
        error(n, field, e.getMessage());
        return null;
      }
    }

    Duration heartbeat(Map<String, NodeTuple> f, String field) {
      Node n = value(f, "heartbeat");
      if (n == null) {
        return Duration.ofSeconds(5);
      }
      String s = scalar(n, field);
      if (s == null) {
        return null;
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,6})(ms|s)?").matcher(s.strip());
      long ms = !m.matches() ? -1 : Long.parseLong(m.group(1)) * ("ms".equals(m.group(2)) ? 1 : 1000);
      if (ms < 100 || ms > 600_000) {
        error(n, field, "'" + s + "' is not a heartbeat between 100ms and 600s (e.g. 5s)");
        return null;
      }
      return Duration.ofMillis(ms);
    }

    ForwardOuter.Config outer(Node sec) {
      int before = errors.size();
      Map<String, NodeTuple> f = section(sec, "outer", OUTER);
      if (f == null) {
        return null;
      }
      InetSocketAddress listen = address(required(f, sec, "listen", "outer"), "outer.listen");
      KeyPair key = key(required(f, sec, "key-file", "outer"), "outer.key-file");
      PublicKey innerKey = publicKey(required(f, sec, "inner-key", "outer"), "outer.inner-key");
      InetAddress bind = ip(required(f, sec, "bind", "outer"), "outer.bind");
      Set<Integer> ports = new LinkedHashSet<>();
      Node pn = required(f, sec, "ports", "outer");
      List<Node> items = pn == null ? List.of() : list(pn, "outer.ports");
      for (int k = 0; k < items.size(); k++) {
        Integer p = integer(items.get(k), "outer.ports[" + k + "]", 1, 65535);
        if (p != null && !ports.add(p)) {
          error(items.get(k), "outer.ports[" + k + "]", "port " + p + " is listed twice");
        }
      }
      if (pn != null && items.isEmpty()) {
        error(pn, "outer.ports", "is empty: no port may be forwarded");
      }
      Duration hb = heartbeat(f, "outer.heartbeat");
      if (errors.size() != before) {
        return null;
      }
      return new ForwardOuter.Config(listen, key, innerKey, ports, bind, hb);
    }

    ForwardInner.Config inner(Node sec) {
      int before = errors.size();
      Map<String, NodeTuple> f = section(sec, "inner", INNER);
      if (f == null) {
        return null;
      }
      InetSocketAddress outer = address(required(f, sec, "outer", "inner"), "inner.outer");
      PublicKey outerKey = publicKey(required(f, sec, "outer-key", "inner"), "inner.outer-key");
      KeyPair key = key(required(f, sec, "key-file", "inner"), "inner.key-file");
      InetAddress bind = ip(required(f, sec, "bind", "inner"), "inner.bind");
      List<ForwardInner.Forward> forwards = new ArrayList<>();
      Node fn = required(f, sec, "forwards", "inner");
      List<Node> items = fn == null ? List.of() : list(fn, "inner.forwards");
      Set<Integer> seen = new LinkedHashSet<>();
      for (int k = 0; k < items.size(); k++) {
        String at = "inner.forwards[" + k + "]";
        Map<String, NodeTuple> ff = section(items.get(k), at, FORWARD);
        if (ff == null) {
          continue;
        }
        Node portNode = required(ff, items.get(k), "port", at);
        Integer port = portNode == null ? null : integer(portNode, at + ".port", 1, 65535);
        InetSocketAddress target = address(required(ff, items.get(k), "target", at), at + ".target");
        if (port != null && !seen.add(port)) {
          error(portNode, at + ".port", "port " + port + " is forwarded twice");
        } else if (port != null && target != null) {
          forwards.add(new ForwardInner.Forward(port, target));
        }
      }
      if (fn != null && items.isEmpty()) {
        error(fn, "inner.forwards", "is empty: nothing to forward");
      }
      Duration hb = heartbeat(f, "inner.heartbeat");
      if (errors.size() != before) {
        return null;
      }
      return new ForwardInner.Config(outer, outerKey, key, bind, forwards, hb);
    }
  }
}
