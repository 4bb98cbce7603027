package io.dctun.appliance.config;

import io.dctun.core.route.Prefix;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Writes a {@link GatewayConfig} as the YAML that {@link ConfigLoader} reads, fields in the
 * documented order and defaults left out. Key files are referred to by path, never inlined.
 * Stateless and thread-safe.
 */
public final class ConfigWriter {
  private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./+=-]+");

  private ConfigWriter() {}

  /**
   * The YAML text of {@code cfg}; key file paths inside {@code configDir} (the directory the YAML
   * will live in) are written relative to it, others absolute.
   */
  public static String toYaml(GatewayConfig cfg, Path configDir) {
    StringBuilder y = new StringBuilder();
    Path dir = configDir.toAbsolutePath().normalize();
    if (!cfg.interfaceName().equals(GatewayConfig.DEFAULT_INTERFACE)) {
      y.append("interface: ").append(quote(cfg.interfaceName())).append('\n');
    }
    y.append("# public key: ").append(cfg.publicKey()).append('\n');
    y.append("private-key-file: ").append(quote(path(cfg.privateKeyFile(), dir))).append('\n');
    cfg.listenPort().ifPresent(p -> y.append("listen-port: ").append(p).append('\n'));
    cfg.listenAddress().ifPresent(a -> y.append("listen-address: ").append(quote(InterfaceAddress.format(a))).append('\n'));
    if (!cfg.addresses().isEmpty()) {
      y.append("addresses: ").append(flow(cfg.addresses())).append('\n');
    }
    if (cfg.mtu() != GatewayConfig.DEFAULT_MTU) {
      y.append("mtu: ").append(cfg.mtu()).append('\n');
    }
    if (!cfg.uapi()) {
      y.append("uapi: false\n");
    }
    if (cfg.peers().isEmpty()) {
      y.append("peers: []\n");
      return y.toString();
    }
    y.append("peers:\n");
    for (PeerConfig p : cfg.peers()) {
      String lead = "  - ";
      if (p.name().isPresent()) {
        y.append(lead).append("name: ").append(quote(p.name().get())).append('\n');
        lead = "    ";
      }
      y.append(lead).append("public-key: ").append(quote(p.publicKey().toBase64())).append('\n');
      if (p.endpoints().size() > 1) {
        y.append("    endpoints: [");
        for (int i = 0; i < p.endpoints().size(); i++) {
          y.append(i == 0 ? "" : ", ").append(quote(p.endpoints().get(i).toString()));
        }
        y.append("]\n");
      } else {
        p.endpoint().ifPresent(e -> y.append("    endpoint: ").append(quote(e.toString())).append('\n'));
      }
      y.append("    allowed-ips: ").append(flow(p.allowedIps())).append('\n');
      if (p.persistentKeepalive() != 0) {
        y.append("    persistent-keepalive: ").append(p.persistentKeepalive()).append('\n');
      }
      p.presharedKeyFile().ifPresent(f -> y.append("    preshared-key-file: ").append(quote(path(f, dir))).append('\n'));
      if (p.role() != PeerConfig.Role.SITE) {
        y.append("    role: ").append(p.role().text()).append('\n');
      }
      if (!p.groups().isEmpty()) {
        y.append("    groups: ").append(flow(p.groups())).append('\n');
      }
    }
    cfg.listenTcp().ifPresent(p -> y.append("listen-tcp: ").append(p).append('\n'));
    cfg.listenTls().ifPresent(p -> y.append("listen-tls: ").append(p).append('\n'));
    cfg.metrics().ifPresent(m -> y.append("metrics: ").append(quote(
        (m.getAddress() instanceof java.net.Inet6Address ? "[" + m.getAddress().getHostAddress() + "]"
            : m.getAddress().getHostAddress()) + ":" + m.getPort())).append('\n'));
    if (!cfg.routes().isEmpty()) {
      y.append("routes:\n");
      for (StaticRoute r : cfg.routes()) {
        y.append("  - {prefix: ").append(quote(r.prefix().toString())).append(", via: ").append(quote(r.via()))
            .append("}\n");
      }
    }
    // The mesh section only when it is not what the loader would assume anyway.
    cfg.mesh().filter(m -> !m.equals(MeshConfig.DEFAULTS)).ifPresent(m -> y.append("mesh:\n  mode: ")
        .append(m.mode().name().toLowerCase(java.util.Locale.ROOT)).append("\n  lease: ").append(m.leaseMillis())
        .append("ms\n").append(m.etcdEndpoints().isEmpty() ? "" : "  etcd-endpoints: " + flow(m.etcdEndpoints())
            + "\n  name: " + quote(m.name()) + "\n" + etcdSecurity(m.etcdSecurity(), dir)));
    return y.toString();
  }

  private static String etcdSecurity(io.dctun.core.mesh.etcd.EtcdSecurity s, Path dir) {
    StringBuilder b = new StringBuilder();
    if (s.caFile() != null) b.append("  etcd-ca-file: ").append(quote(path(s.caFile(), dir))).append('\n');
    if (s.certFile() != null) b.append("  etcd-cert-file: ").append(quote(path(s.certFile(), dir))).append('\n');
    if (s.keyFile() != null) b.append("  etcd-key-file: ").append(quote(path(s.keyFile(), dir))).append('\n');
    if (s.user() != null) b.append("  etcd-user: ").append(quote(s.user())).append('\n');
    if (s.passwordFile() != null) b.append("  etcd-password-file: ").append(quote(path(s.passwordFile(), dir))).append('\n');
    return b.toString();
  }

  private static String flow(List<?> items) {
    return items.stream()
        .map(o -> o instanceof Prefix || o instanceof InterfaceAddress ? quote(o.toString()) : quote(String.valueOf(o)))
        .collect(Collectors.joining(", ", "[", "]"));
  }

  private static String path(Path file, Path dir) {
    Path abs = file.toAbsolutePath().normalize();
    return abs.startsWith(dir) ? dir.relativize(abs).toString() : abs.toString();
  }

  /** Plain when unambiguous, else double-quoted; CIDRs with ':' are always quoted. */
  static String quote(String s) {
    if (PLAIN.matcher(s).matches() && !s.startsWith("-") && !s.chars().allMatch(Character::isDigit)) {
      return s;
    }
    StringBuilder q = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        q.append('\\').append(c);
      } else if (c < 0x20) {
        q.append(String.format("\\x%02x", (int) c));
      } else {
        q.append(c);
      }
    }
    return q.append('"').toString();
  }
}
