package io.dctun.appliance.config;

import io.dctun.core.route.Prefix;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads a gateway configuration from YAML and checks all of it before anything runs.
 *
 * <p>The file is composed into SnakeYAML's node tree, never into Java objects, so that every value
 * keeps its line: each error names the file, the line and the field. Checking does not stop at the
 * first error; the caller gets them all, in file order. Key files are read through {@link
 * KeyFiles}, permission checks included, and paths in the file are relative to its directory.
 *
 * <pre>
 * interface: dctun0            # optional, default dctun0
 * private-key-file: gw.key     # required
 * listen-port: 51820           # optional; absent = dial out only
 * listen-address: 192.0.2.10   # optional; absent = all addresses
 * addresses: [10.10.0.1/24]
 * mtu: 1420                    # optional, 1280-9000
 * uapi: true                   # optional, default true: wg show/set via /var/run/wireguard/IFACE.sock
 * metrics: 127.0.0.1:9586      # optional, default off: Prometheus /metrics on this address and port
 * listen-tcp: 8080             # optional: WireGuard over TCP for dctun peers (endpoint tcp://host:8080)
 * listen-tls: 443              # optional: the same inside TLS, for networks that pass only HTTPS
 * peers:
 *   - name: dc2                # optional, unique
 *     public-key: BASE64
 *     endpoint: gw.dc2.example.net:51820   # or endpoints: [a:51820, b:51820], in preference order
 *     allowed-ips: [10.20.0.0/16]
 *     persistent-keepalive: 25
 *     preshared-key-file: dc2.psk
 *     role: site               # optional: site (default), gateway (a dctun gateway of this mesh),
 *                              #   host (a roaming host: allowed-ips are its /32 or /128 virtual IPs)
 *     groups: [ops, db]        # optional, for firewall rules (group: ops, source: group:ops)
 * mesh:                        # optional: route sharing between gateways, see MeshConfig
 *   mode: mesh
 *   lease: 15s
 * routes:                      # optional static routes, see StaticRoute
 *   - {prefix: 198.18.99.0/24, via: dc2}
 * </pre>
 *
 * Stateless and thread-safe.
 */
public final class ConfigLoader {
  static final Set<String> TOP_FIELDS = Set.of(
      "interface", "private-key-file", "listen-port", "listen-address", "addresses", "mtu", "peers", "uapi", "metrics", "listen-tcp", "listen-tls",
      "ha", // ha: see HaSection
      "firewall", // firewall: see FirewallSection
      "mesh", "routes"); // see MeshConfig, StaticRoute
  static final Set<String> PEER_FIELDS = Set.of(
      "name", "public-key", "endpoint", "endpoints", "allowed-ips", "persistent-keepalive", "preshared-key-file", "role",
      "groups");
  static final Set<String> MESH_FIELDS = Set.of("mode", "lease", "etcd-endpoints", "name", "etcd-ca-file",
      "etcd-cert-file", "etcd-key-file", "etcd-user", "etcd-password-file");
  static final Set<String> ROUTE_FIELDS = Set.of("prefix", "via");
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,9})(ms|s|m)?");

  private static final Pattern INTERFACE_NAME = Pattern.compile("[a-zA-Z0-9_.-]{1,15}");
  private static final Pattern PEER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
  private static final int MAX_FILE_CHARS = 4 << 20;

  private ConfigLoader() {}

  /** Reads and checks {@code file}. */
  public static GatewayConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(List.of(new ConfigError(file, 0, "", "does not exist")));
    } catch (CharacterCodingException e) {
      throw new ConfigException(List.of(new ConfigError(file, 0, "", "is not UTF-8 text")));
    } catch (IOException e) {
      throw new ConfigException(List.of(new ConfigError(file, 0, "", "cannot be read: " + e)));
    }
    return parse(file, text);
  }

  /**
   * Checks {@code yaml} as though it were the content of {@code file}: errors name that file and
   * relative key paths resolve against its directory.
   */
  public static GatewayConfig parse(Path file, String yaml) throws ConfigException {
    Run run = new Run(file);
    GatewayConfig cfg = run.parse(yaml);
    if (!run.errors.isEmpty()) {
      List<ConfigError> sorted = new ArrayList<>(run.errors);
      sorted.sort(Comparator.comparingInt(ConfigError::line)); // stable: same-line errors keep their order
      throw new ConfigException(sorted);
    }
    return cfg;
  }

  /** One pass over one file: the errors found so far. */
  private static final class Run extends YamlReader {
    final Path file;
    final Path dir;
    final List<ConfigError> errors = new ArrayList<>();

    Run(Path file) {
      this.file = file;
      Path parent = file.toAbsolutePath().getParent();
      this.dir = parent != null ? parent : file.toAbsolutePath();
    }

    GatewayConfig parse(String yaml) {
      if (yaml.length() > MAX_FILE_CHARS) {
        errors.add(new ConfigError(file, 0, "", "is too large for a configuration (" + yaml.length() + " characters)"));
        return null;
      }
      Node root;
      try {
        LoaderOptions options = new LoaderOptions();
        options.setAllowRecursiveKeys(false);
        options.setMaxAliasesForCollections(20);
        root = new Yaml(new SafeConstructor(options)).compose(new StringReader(yaml));
      } catch (MarkedYAMLException e) {
        Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
        String what = e.getProblem() != null ? e.getProblem() : e.getMessage();
        errors.add(new ConfigError(file, mark != null ? mark.getLine() + 1 : 0, "", "YAML syntax: " + what));
        return null;
      } catch (YAMLException e) {
        errors.add(new ConfigError(file, 0, "", "YAML: " + e.getMessage()));
        return null;
      }
      if (root == null || isNull(root)) {
        errors.add(new ConfigError(file, 1, "", "is empty; it needs at least private-key-file"));
        return null;
      }
      if (!(root instanceof MappingNode)) {
        error(root, "", "must be a mapping of field: value at the top level");
        return null;
      }
      return gateway((MappingNode) root);
    }

    GatewayConfig gateway(MappingNode root) {
      Map<String, NodeTuple> f = fields(root, "", TOP_FIELDS);

      String ifName = GatewayConfig.DEFAULT_INTERFACE;
      Node n = value(f, "interface");
      if (n != null) {
        String s = scalar(n, "interface");
        if (s != null && !INTERFACE_NAME.matcher(s).matches()) {
          error(n, "interface", "'" + s + "' is not an interface name (1-15 characters of a-z A-Z 0-9 _ . -)");
        } else if (s != null && (s.equals(".") || s.equals(".."))) {
          error(n, "interface", "'" + s + "' is not an interface name");
        } else if (s != null) {
          ifName = s;
        }
      }

      Path keyFile = null;
      PrivateKey key = null;
      n = value(f, "private-key-file");
      if (n == null) {
        error(root, "private-key-file", "is required (a file holding the output of `dctun genkey`)");
      } else {
        String s = scalar(n, "private-key-file");
        if (s != null) {
          keyFile = dir.resolve(s).normalize();
          try {
            key = KeyFiles.readPrivateKey(keyFile);
          } catch (KeyFiles.KeyFileException e) {
            error(n, "private-key-file", e.getMessage());
          }
        }
      }

      OptionalInt listenPort = OptionalInt.empty();
      n = value(f, "listen-port");
      if (n != null) {
        Integer p = integer(n, "listen-port", 1, 65535);
        if (p != null) listenPort = OptionalInt.of(p);
      }

      Optional<InetAddress> listenAddress = Optional.empty();
      n = value(f, "listen-address");
      if (n != null) {
        String s = scalar(n, "listen-address");
        if (s != null) {
          try {
            listenAddress = Optional.of(InterfaceAddress.parseLiteral(s));
          } catch (IllegalArgumentException e) {
            error(n, "listen-address", "'" + s + "' is not an IP address (host names are not accepted here)");
          }
          if (value(f, "listen-port") == null) {
            error(n, "listen-address", "is set but listen-port is not; a gateway that only dials out binds no address");
          }
        }
      }

      List<InterfaceAddress> addresses = new ArrayList<>();
      Map<InterfaceAddress, Integer> seenAddr = new HashMap<>();
      List<Node> items = list(value(f, "addresses"), "addresses");
      for (int i = 0; i < items.size(); i++) {
        String field = "addresses[" + i + "]";
        String s = scalar(items.get(i), field);
        if (s == null) continue;
        try {
          InterfaceAddress a = InterfaceAddress.parse(s);
          Integer first = seenAddr.putIfAbsent(a, line(items.get(i)));
          if (first != null) {
            error(items.get(i), field, a + " is listed twice (first at line " + first + ")");
          } else {
            addresses.add(a);
          }
        } catch (IllegalArgumentException e) {
          error(items.get(i), field, e.getMessage());
        }
      }

      int mtu = GatewayConfig.DEFAULT_MTU;
      n = value(f, "mtu");
      if (n != null) {
        Integer m = integer(n, "mtu", GatewayConfig.MIN_MTU, GatewayConfig.MAX_MTU);
        if (m != null) mtu = m;
      }

      boolean uapi = true;
      n = value(f, "uapi");
      if (n != null) {
        Boolean b = bool(n, "uapi");
        if (b != null) uapi = b;
      }

      OptionalInt listenTcp = OptionalInt.empty();
      n = value(f, "listen-tcp");
      if (n != null) {
        Integer p = integer(n, "listen-tcp", 1, 65535);
        if (p != null) listenTcp = OptionalInt.of(p);
      }
      OptionalInt listenTls = OptionalInt.empty();
      n = value(f, "listen-tls");
      if (n != null) {
        Integer p = integer(n, "listen-tls", 1, 65535);
        if (p != null) listenTls = OptionalInt.of(p);
        if (p != null && listenTcp.isPresent() && listenTcp.getAsInt() == p) {
          error(n, "listen-tls", "port " + p + " is already listen-tcp's");
        }
      }

      Optional<java.net.InetSocketAddress> metrics = Optional.empty();
      n = value(f, "metrics");
      if (n != null) {
        String s = scalar(n, "metrics");
        if (s != null) {
          try {
            Endpoint e = Endpoint.parse(s);
            metrics = Optional.of(new java.net.InetSocketAddress(InterfaceAddress.parseLiteral(e.host()), e.port()));
          } catch (IllegalArgumentException e) {
            error(n, "metrics", "'" + s + "' is not ADDRESS:PORT with an IP address (e.g. 127.0.0.1:9586): "
                + e.getMessage());
          }
        }
      }

      List<PeerConfig> peers = new ArrayList<>();
      Map<String, Integer> names = new HashMap<>();
      Map<PublicKey, Integer> keys = new HashMap<>();
      Map<Prefix, String> routes = new HashMap<>();
      List<Node> peerNodes = list(value(f, "peers"), "peers");
      for (int i = 0; i < peerNodes.size(); i++) {
        PeerConfig p = peer(peerNodes.get(i), "peers[" + i + "]", key, listenPort.isPresent(), names, keys, routes);
        if (p != null) peers.add(p);
      }

      List<StaticRoute> staticRoutes = staticRoutes(value(f, "routes"), peers, names.keySet(), routes);
      Optional<MeshConfig> mesh = mesh(f.get("mesh"), peers);

      Optional<FirewallConfig> firewall = FirewallSection.parse(file, f.get("firewall"), peers, errors);
      HaSection ha = HaSection.parse(value(f, "ha"), this::error, listenPort.isPresent(), listenAddress.isPresent());

      if (!errors.isEmpty()) {
        return null;
      }
      return new GatewayConfig(ifName, keyFile, key, listenPort, listenAddress, addresses, mtu, peers, firewall,
          Optional.ofNullable(ha), mesh, staticRoutes, uapi, metrics, listenTcp,
          listenTls);
    }

    /**
     * The {@code mesh:} section; its defaults when absent but a peer is a gateway or host; empty
     * when there is neither (no route sharing).
     */
    Optional<MeshConfig> mesh(NodeTuple tuple, List<PeerConfig> peers) {
      boolean meshPeers = peers.stream().anyMatch(p -> p.role() != PeerConfig.Role.SITE);
      if (tuple == null) {
        return meshPeers ? Optional.of(MeshConfig.DEFAULTS) : Optional.empty();
      }
      Node root = tuple.getValueNode();
      if (isNull(root)) {
        return Optional.of(MeshConfig.DEFAULTS);
      }
      if (!(root instanceof MappingNode)) {
        error(root, "mesh", "must be a mapping (mode, lease)");
        return Optional.empty();
      }
      Map<String, NodeTuple> f = fields((MappingNode) root, "mesh.", MESH_FIELDS);
      MeshConfig.Mode mode = MeshConfig.Mode.MESH;
      Node n = value(f, "mode");
      Node modeNode = n;
      if (n != null) {
        String s = scalar(n, "mesh.mode");
        if ("etcd".equals(s)) {
          mode = MeshConfig.Mode.ETCD;
        } else if (s != null && !s.equals("mesh")) {
          error(n, "mesh.mode", "'" + s + "' is not a mode (mesh or etcd)");
        }
      }
      int lease = io.dctun.core.mesh.HostDirectory.DEFAULT_LEASE_MILLIS;
      n = value(f, "lease");
      if (n != null) {
        Integer ms = millis(n, "mesh.lease", MeshConfig.MIN_LEASE_MILLIS, MeshConfig.MAX_LEASE_MILLIS);
        if (ms != null) lease = ms;
        if (ms != null && mode == MeshConfig.Mode.ETCD && ms < 2000) {
          error(n, "mesh.lease", ms + " ms is below etcd's shortest lease (2s)");
        }
      }
      List<java.net.URI> etcd = new ArrayList<>();
      String scheme = null;
      n = value(f, "etcd-endpoints");
      if (n != null && mode != MeshConfig.Mode.ETCD) {
        error(n, "mesh.etcd-endpoints", "only with mode: etcd");
      }
      List<Node> eItems = list(n, "mesh.etcd-endpoints");
      for (int i = 0; i < eItems.size(); i++) {
        String field = "mesh.etcd-endpoints[" + i + "]";
        String s = scalar(eItems.get(i), field);
        if (s == null) continue;
        try {
          java.net.URI u = new java.net.URI(s);
          if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null
              || u.getPort() < 1 || u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/")) {
            error(eItems.get(i), field, "'" + s + "' is not an etcd client URL like https://198.18.40.1:2379 "
                + "(http or https, a host and a port)");
          } else if (scheme != null && !scheme.equals(u.getScheme())) {
            error(eItems.get(i), field, "'" + s + "' is " + u.getScheme() + ":// but the first endpoint is " + scheme
                + "://; use one for all");
          } else {
            scheme = u.getScheme();
            etcd.add(u);
          }
        } catch (java.net.URISyntaxException e) {
          error(eItems.get(i), field, "'" + s + "' is not a URL: " + e.getReason());
        }
      }
      if (mode == MeshConfig.Mode.ETCD && eItems.isEmpty()) {
        error(modeNode, "mesh.etcd-endpoints", "is required with mode: etcd (etcd's client URLs)");
      }
      String name = MeshConfig.DEFAULT_NAME;
      n = value(f, "name");
      if (n != null) {
        String s = scalar(n, "mesh.name");
        if (s != null && !PEER_NAME.matcher(s).matches()) {
          error(n, "mesh.name", "'" + s + "' is not a mesh name (A-Z a-z 0-9 _ . -)");
        } else if (s != null) {
          name = s;
        }
      }
      io.dctun.core.mesh.etcd.EtcdSecurity security = etcdSecurity(f, mode, "https".equals(scheme));
      if (!meshPeers) {
        error(tuple.getKeyNode(), "mesh", "is set but no peer has role gateway or host: there is nothing to share");
      }
      if (mode == MeshConfig.Mode.ETCD && etcd.isEmpty() || security == null) {
        return Optional.empty(); // errors reported above
      }
      return Optional.of(new MeshConfig(mode, lease, etcd, name, security));
    }

    /**
     * TLS files and the etcd user of the mesh section, each file checked now (exists, parses, key
     * and password file mode 0600, key matches certificate); null after an error.
     */
    io.dctun.core.mesh.etcd.EtcdSecurity etcdSecurity(Map<String, NodeTuple> f, MeshConfig.Mode mode, boolean https) {
      int before = errors.size();
      Map<String, Path> files = new HashMap<>();
      Map<String, Node> nodes = new HashMap<>();
      for (String k : List.of("etcd-ca-file", "etcd-cert-file", "etcd-key-file", "etcd-user", "etcd-password-file")) {
        Node n = value(f, k);
        if (n == null) {
          continue;
        }
        String s = scalar(n, "mesh." + k);
        if (s == null) {
          continue;
        }
        nodes.put(k, n);
        if (mode != MeshConfig.Mode.ETCD) {
          error(n, "mesh." + k, "only with mode: etcd");
        } else if (k.endsWith("-file")) {
          files.put(k, dir.resolve(s).normalize());
          if (!https && !k.equals("etcd-password-file")) {
            error(n, "mesh." + k, "needs https:// etcd-endpoints (TLS); they are http://");
          }
        } else if (s.isEmpty() || s.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
          error(n, "mesh." + k, "'" + s + "' is not an etcd user name");
        }
      }
      if (mode != MeshConfig.Mode.ETCD) {
        return errors.size() > before ? null : io.dctun.core.mesh.etcd.EtcdSecurity.NONE;
      }
      pair(nodes, "etcd-cert-file", "etcd-key-file", "a client certificate needs its key");
      pair(nodes, "etcd-user", "etcd-password-file", "etcd authentication needs both the user and the password file");
      if (errors.size() > before) {
        return null;
      }
      Path ca = files.get("etcd-ca-file");
      Path cert = files.get("etcd-cert-file");
      Path key = files.get("etcd-key-file");
      Path pw = files.get("etcd-password-file");
      String user = nodes.containsKey("etcd-user") ? scalar(nodes.get("etcd-user"), "mesh.etcd-user") : null;
      try {
        if (ca != null) io.dctun.core.mesh.etcd.PemFiles.readCertificates(ca);
      } catch (IOException e) {
        error(nodes.get("etcd-ca-file"), "mesh.etcd-ca-file", e.getMessage());
      }
      if (cert != null) {
        try {
          io.dctun.core.mesh.etcd.PemFiles.readCertificates(cert);
        } catch (IOException e) {
          error(nodes.get("etcd-cert-file"), "mesh.etcd-cert-file", e.getMessage());
        }
        try {
          io.dctun.core.mesh.etcd.PemFiles.readPrivateKey(key);
        } catch (IOException e) {
          error(nodes.get("etcd-key-file"), "mesh.etcd-key-file", e.getMessage());
        }
      }
      io.dctun.core.mesh.etcd.EtcdSecurity security = new io.dctun.core.mesh.etcd.EtcdSecurity(ca, cert, key, user, pw);
      if (errors.size() == before && security.hasTlsFiles()) {
        try {
          security.sslContext(); // the key must be the certificate's
        } catch (IOException e) {
          error(nodes.get(cert != null ? "etcd-key-file" : "etcd-ca-file"),
              cert != null ? "mesh.etcd-key-file" : "mesh.etcd-ca-file", e.getMessage());
        }
      }
      if (pw != null) {
        try {
          security.checkPasswordFile();
        } catch (IOException e) {
          error(nodes.get("etcd-password-file"), "mesh.etcd-password-file", e.getMessage());
        }
      }
      return errors.size() > before ? null : security;
    }

    private void pair(Map<String, Node> nodes, String a, String b, String why) {
      if (nodes.containsKey(a) != nodes.containsKey(b)) {
        String missing = nodes.containsKey(a) ? b : a;
        String present = nodes.containsKey(a) ? a : b;
        error(nodes.get(present), "mesh." + missing, "is required with " + present + " (" + why + ")");
      }
    }

    /** 500ms, 15s, 2m, or a bare number of seconds, in milliseconds within [min, max]. */
    Integer millis(Node n, String field, int min, int max) {
      String s = scalar(n, field);
      if (s == null) {
        return null;
      }
      java.util.regex.Matcher m = DURATION.matcher(s.strip());
      if (!m.matches()) {
        error(n, field, "'" + s + "' is not a duration (e.g. 500ms, 15s, 1m)");
        return null;
      }
      long v = Long.parseLong(m.group(1));
      String unit = m.group(2) == null ? "s" : m.group(2);
      long ms = switch (unit) {
        case "ms" -> v;
        case "m" -> v * 60_000;
        default -> v * 1_000;
      };
      if (ms < min || ms > max) {
        error(n, field, s + " is outside " + min + " ms - " + max / 1000 + " s");
        return null;
      }
      return (int) ms;
    }

    /**
     * The top-level {@code routes:}. A prefix already routed (a peer's allowed IPs or an earlier
     * route) is an error naming where; {@code via} must name a site or gateway peer.
     */
    List<StaticRoute> staticRoutes(Node node, List<PeerConfig> peers, Set<String> allNames,
        Map<Prefix, String> routes) {
      List<StaticRoute> out = new ArrayList<>();
      List<Node> items = list(node, "routes");
      Map<String, PeerConfig> byName = new HashMap<>();
      for (PeerConfig p : peers) {
        p.name().ifPresent(nm -> byName.put(nm, p));
      }
      for (int i = 0; i < items.size(); i++) {
        String at = "routes[" + i + "]";
        Node item = items.get(i);
        if (!(item instanceof MappingNode)) {
          error(item, at, "must be a mapping {prefix: 198.18.99.0/24, via: PEER-NAME}");
          continue;
        }
        Map<String, NodeTuple> f = fields((MappingNode) item, at + ".", ROUTE_FIELDS);
        Prefix prefix = null;
        Node pn = value(f, "prefix");
        if (pn == null) {
          error(item, at + ".prefix", "is required");
        } else {
          String s = scalar(pn, at + ".prefix");
          if (s != null) {
            try {
              Prefix p = Prefix.parse(s);
              if (!hasNoHostBits(s, p)) {
                error(pn, at + ".prefix", "'" + s + "' has host bits set; did you mean " + p + "?");
              } else {
                prefix = p;
              }
            } catch (IllegalArgumentException e) {
              error(pn, at + ".prefix", e.getMessage());
            }
          }
        }
        String via = null;
        Node vn = value(f, "via");
        if (vn == null) {
          error(item, at + ".via", "is required (the name of the peer to route through)");
        } else {
          String s = scalar(vn, at + ".via");
          PeerConfig p = s == null ? null : byName.get(s);
          if (s != null && p == null && allNames.contains(s)) {
            // that peer has errors of its own, already reported
          } else if (s != null && p == null) {
            error(vn, at + ".via", "unknown peer '" + s + "' (peers: "
                + String.join(", ", new java.util.TreeSet<>(allNames)) + ")");
          } else if (p != null && p.role() == PeerConfig.Role.HOST) {
            error(vn, at + ".via", "peer '" + s + "' is a roaming host; routes go via a site or gateway peer");
          } else {
            via = s;
          }
        }
        if (prefix == null || via == null) {
          continue;
        }
        String first = routes.putIfAbsent(prefix, "routes[" + i + "] (line " + line(pn) + ")");
        if (first != null) {
          error(pn, at + ".prefix", prefix + " is already routed to " + first);
          continue;
        }
        out.add(new StaticRoute(prefix, via));
      }
      return out;
    }

    PeerConfig peer(Node node, String at, PrivateKey own, boolean listening,
        Map<String, Integer> names, Map<PublicKey, Integer> keys, Map<Prefix, String> routes) {
      if (!(node instanceof MappingNode)) {
        error(node, at, "must be a mapping (public-key, allowed-ips, ...)");
        return null;
      }
      int errorsBefore = errors.size();
      Map<String, NodeTuple> f = fields((MappingNode) node, at + ".", PEER_FIELDS);

      Optional<String> name = Optional.empty();
      Node n = value(f, "name");
      if (n != null) {
        String s = scalar(n, at + ".name");
        if (s != null && !PEER_NAME.matcher(s).matches()) {
          error(n, at + ".name", "'" + s + "' is not a peer name (1-63 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit)");
        } else if (s != null) {
          Integer first = names.putIfAbsent(s, line(n));
          if (first != null) {
            error(n, at + ".name", "'" + s + "' is already the name of the peer at line " + first);
          }
          name = Optional.of(s);
        }
      }
      String label = name.map(s -> "'" + s + "'").orElse("at line " + line(node));

      PublicKey pub = null;
      n = value(f, "public-key");
      if (n == null) {
        error(node, at + ".public-key", "is required");
      } else {
        String s = scalar(n, at + ".public-key");
        if (s != null) {
          try {
            PublicKey k = PublicKey.fromBase64(s);
            if (k.isLowOrder()) {
              // The key is not repeated: the line names it.
              error(n, at + ".public-key", "is a low-order point of Curve25519 (X25519 with it gives no shared secret,"
                  + " so no handshake could ever complete): not a real public key; use the peer's 'wg pubkey' output");
            } else {
              pub = k;
              Integer first = keys.putIfAbsent(pub, line(n));
              if (first != null) {
                error(n, at + ".public-key", "is the same key as the peer at line " + first);
              }
              if (own != null && pub.equals(own.publicKey())) {
                error(n, at + ".public-key", "is this gateway's own public key");
              }
            }
          } catch (IllegalArgumentException e) {
            error(n, at + ".public-key", e.getMessage());
          }
        }
      }

      Optional<Endpoint> endpoint = Optional.empty();
      n = value(f, "endpoint");
      if (n != null) {
        String s = scalar(n, at + ".endpoint");
        if (s != null) {
          try {
            endpoint = Optional.of(Endpoint.parse(s));
          } catch (IllegalArgumentException e) {
            error(n, at + ".endpoint", e.getMessage());
          }
        }
      }
      List<Endpoint> endpoints = endpoints(f, n != null, at);
      if (n == null && value(f, "endpoints") == null && !listening) {
        error(node, at, "has no endpoint and this gateway has no listen-port: neither side could start a handshake");
      }
      if (!endpoints.isEmpty()) {
        endpoint = Optional.of(endpoints.get(0));
      }

      List<Prefix> allowed = new ArrayList<>();
      n = value(f, "allowed-ips");
      if (n == null) {
        error(node, at + ".allowed-ips", "is required (write [] for a peer that is routed nothing)");
      }
      List<Node> items = list(n, at + ".allowed-ips");
      for (int i = 0; i < items.size(); i++) {
        String field = at + ".allowed-ips[" + i + "]";
        Node item = items.get(i);
        String s = scalar(item, field);
        if (s == null) continue;
        Prefix p;
        try {
          p = Prefix.parse(s);
        } catch (IllegalArgumentException e) {
          error(item, field, e.getMessage());
          continue;
        }
        if (!hasNoHostBits(s, p)) {
          error(item, field, "'" + s + "' has host bits set; did you mean " + p + "?");
          continue;
        }
        String here = "peer " + label + " (line " + line(item) + ")";
        String first = routes.putIfAbsent(p, here);
        if (first != null) {
          error(item, field, p + " is already routed to " + first);
          continue;
        }
        allowed.add(p);
      }

      int keepalive = 0;
      n = value(f, "persistent-keepalive");
      if (n != null) {
        Integer k = integer(n, at + ".persistent-keepalive", 0, 65535);
        if (k != null) keepalive = k;
      }

      Optional<Path> pskFile = Optional.empty();
      PresharedKey psk = PresharedKey.NONE;
      n = value(f, "preshared-key-file");
      if (n != null) {
        String s = scalar(n, at + ".preshared-key-file");
        if (s != null) {
          Path p = dir.resolve(s).normalize();
          pskFile = Optional.of(p);
          try {
            psk = KeyFiles.readPresharedKey(p);
          } catch (KeyFiles.KeyFileException e) {
            error(n, at + ".preshared-key-file", e.getMessage());
          }
        }
      }

      PeerConfig.Role role = PeerConfig.Role.SITE;
      n = value(f, "role");
      if (n != null) {
        String s = scalar(n, at + ".role");
        if (s != null) {
          switch (s) {
            case "site" -> role = PeerConfig.Role.SITE;
            case "gateway" -> role = PeerConfig.Role.GATEWAY;
            case "host" -> role = PeerConfig.Role.HOST;
            default -> error(n, at + ".role", "'" + s
                + "' is not a role (site, gateway = a dctun gateway of this mesh, host = a roaming host)");
          }
        }
      }
      if (role == PeerConfig.Role.HOST && errors.size() == errorsBefore) {
        Node an = value(f, "allowed-ips");
        if (an != null && allowed.isEmpty()) {
          error(an, at + ".allowed-ips", "a host needs its fixed virtual IP here (a /32 or /128)");
        }
        List<Node> aItems = an instanceof org.yaml.snakeyaml.nodes.SequenceNode sq ? sq.getValue() : List.of();
        for (int i = 0; i < allowed.size(); i++) {
          Prefix p = allowed.get(i);
          if (p.length() != p.address().length * 8) {
            Node item = i < aItems.size() ? aItems.get(i) : an;
            error(item, at + ".allowed-ips[" + i + "]", p + " is a network; a host's allowed-ips are its own "
                + "addresses (/32 or /128): route a network with role site or a static route");
          }
        }
      }
      List<String> groups = new ArrayList<>();
      n = value(f, "groups");
      List<Node> gItems = list(n, at + ".groups");
      for (int i = 0; i < gItems.size(); i++) {
        String g = scalar(gItems.get(i), at + ".groups[" + i + "]");
        if (g == null) continue;
        if (!PEER_NAME.matcher(g).matches()) {
          error(gItems.get(i), at + ".groups[" + i + "]", "'" + g + "' is not a group name (A-Z a-z 0-9 _ . -)");
        } else if (groups.contains(g)) {
          error(gItems.get(i), at + ".groups[" + i + "]", "'" + g + "' is listed twice");
        } else {
          groups.add(g);
        }
      }

      if (errors.size() != errorsBefore || pub == null) {
        return null;
      }
      return new PeerConfig(name, pub, endpoint, allowed, keepalive, pskFile, psk,
          endpoints.isEmpty() ? endpoint.map(List::of).orElse(List.of()) : endpoints, role, groups);
    }

    /**
     * {@code endpoints: [host:port, ...]}, a peer reached at any of several addresses, best first
     * (io.dctun.core.session.EndpointSet chooses among them); refused beside {@code endpoint:}.
     * Empty if the field is absent.
     */
    private List<Endpoint> endpoints(Map<String, NodeTuple> f, boolean hasSingle, String at) {
      Node n = value(f, "endpoints");
      if (n == null) {
        return List.of();
      }
      if (hasSingle) {
        error(n, at + ".endpoints", "write either endpoint: or endpoints:, not both");
        return List.of();
      }
      List<Node> items = list(n, at + ".endpoints");
      List<Endpoint> out = new ArrayList<>();
      Map<Endpoint, Integer> seen = new HashMap<>();
      for (int i = 0; i < items.size(); i++) {
        String field = at + ".endpoints[" + i + "]";
        String s = scalar(items.get(i), field);
        if (s == null) continue;
        try {
          Endpoint e = Endpoint.parse(s);
          Integer first = seen.putIfAbsent(e, line(items.get(i)));
          if (first != null) {
            error(items.get(i), field, "'" + s + "' is listed twice (first at line " + first + ")");
            continue;
          }
          out.add(e);
        } catch (IllegalArgumentException e) {
          error(items.get(i), field, e.getMessage());
        }
      }
      if (items.isEmpty()) {
        error(n, at + ".endpoints", "is empty (leave it out for a peer that dials in)");
      } else if (items.size() > io.dctun.core.session.EndpointSet.MAX_ENDPOINTS) {
        error(n, at + ".endpoints", "lists " + items.size() + " endpoints; at most " + io.dctun.core.session.EndpointSet.MAX_ENDPOINTS);
        return List.of();
      }
      return out;
    }

    @Override
    void error(Node at, String field, String message) {
      errors.add(new ConfigError(file, line(at), field, message));
    }
  }

  /**
   * Whether {@code text} had no host bits past its length. Compares addresses rather than using
   * {@code Prefix.isCanonical()}, which misreports IPv6 bytes of 0x80 and above (sign extension).
   */
  public static boolean hasNoHostBits(String text, Prefix p) {
    int slash = text.indexOf('/');
    return slash < 0 || java.util.Arrays.equals(Prefix.parse(text.substring(0, slash)).address(), p.address());
  }

  static boolean isNull(Node n) {
    return n instanceof ScalarNode && n.getTag().equals(Tag.NULL);
  }

  static int line(Node n) {
    return n.getStartMark() == null ? 0 : n.getStartMark().getLine() + 1;
  }

  /** "; did you mean 'allowed-ips'?" for a near miss (typo, snake_case, camelCase), else "". */
  static String suggestion(String name, Set<String> known) {
    String folded = name.replaceAll("([a-z])([A-Z])", "$1-$2").replace('_', '-').toLowerCase(Locale.ROOT);
    String best = null;
    int bestDistance = 3;
    for (String k : known) {
      int d = k.equals(folded) ? 0 : distance(folded, k);
      if (d < bestDistance || (d == bestDistance && best != null && k.compareTo(best) < 0)) {
        best = k;
        bestDistance = d;
      }
    }
    return best == null ? "" : "; did you mean '" + best + "'?";
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
