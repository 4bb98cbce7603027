package io.dctun.appliance.config;

import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A validated gateway configuration, as {@link ConfigLoader} returns it: the interface, this
 * gateway's identity and where it listens, and its peers. Immutable; the records do not re-check
 * cross-field rules (unique keys, disjoint allowed IPs), which the loader has already enforced.
 *
 * <p>Equality compares the private key by its file and public key, never by its secret bytes.
 * The firewall section is not compared (a compiled rule set has no value equality).
 *
 * @param interfaceName the TUN interface name, 1-15 characters of {@code [a-zA-Z0-9_.-]}
 * @param privateKeyFile the file the private key was read from, absolute
 * @param privateKey this gateway's static private key
 * @param listenPort UDP port to listen on; empty means dial out only (an ephemeral port)
 * @param listenAddress address to bind; empty means all addresses
 * @param addresses addresses the interface gets
 * @param mtu the interface MTU, 1280-9000
 * @param peers the peers, in file order
 * @param firewall the {@code firewall:} section; empty = no section, every packet accepted
 * @param ha the {@code ha:} section; empty = a single gateway, not one of a pair
 * @param mesh the {@code mesh:} section, or its defaults when a peer has role gateway or host;
 *     empty = no route sharing
 * @param routes the top-level {@code routes:} (static routes), in file order
 * @param uapi whether {@code dctun up} serves WireGuard's UAPI on {@code /var/run/wireguard/<interface>.sock}
 *     (default true, as wireguard-go always does), so the stock {@code wg} drives the gateway
 * @param listenTcp the port dctun peers may reach this gateway on over TCP ({@code listen-tcp}); empty = none
 * @param listenTls the port for WireGuard over TLS ({@code listen-tls}, e.g. 443); empty = none
 * @param metrics where Prometheus {@code /metrics} is served ({@code metrics: 127.0.0.1:9586}); empty = off
 */
public record GatewayConfig(
    String interfaceName,
    Path privateKeyFile,
    PrivateKey privateKey,
    OptionalInt listenPort,
    Optional<InetAddress> listenAddress,
    List<InterfaceAddress> addresses,
    int mtu,
    List<PeerConfig> peers,
    Optional<FirewallConfig> firewall,
    Optional<HaSection> ha,
    Optional<MeshConfig> mesh,
    List<StaticRoute> routes,
    boolean uapi,
    Optional<java.net.InetSocketAddress> metrics,
    OptionalInt listenTcp,
    OptionalInt listenTls) {

  public static final String DEFAULT_INTERFACE = "dctun0";
  public static final int DEFAULT_MTU = 1420;
  public static final int MIN_MTU = 1280;
  public static final int MAX_MTU = 9000;

  public GatewayConfig {
    Objects.requireNonNull(interfaceName, "interfaceName");
    Objects.requireNonNull(privateKeyFile, "privateKeyFile");
    Objects.requireNonNull(privateKey, "privateKey");
    Objects.requireNonNull(listenPort, "listenPort");
    Objects.requireNonNull(listenAddress, "listenAddress");
    addresses = List.copyOf(addresses);
    peers = List.copyOf(peers);
    Objects.requireNonNull(firewall, "firewall");
    Objects.requireNonNull(ha, "ha");
    Objects.requireNonNull(mesh, "mesh");
    routes = List.copyOf(routes);
    Objects.requireNonNull(metrics, "metrics");
    Objects.requireNonNull(listenTcp, "listenTcp");
    Objects.requireNonNull(listenTls, "listenTls");
  }

  /** A configuration that listens on UDP only. */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers,
      Optional<FirewallConfig> firewall, Optional<HaSection> ha, Optional<MeshConfig> mesh, List<StaticRoute> routes,
      boolean uapi, Optional<java.net.InetSocketAddress> metrics) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers, firewall, ha,
        mesh, routes, uapi, metrics, OptionalInt.empty(), OptionalInt.empty());
  }

  /** A configuration without metrics. */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers,
      Optional<FirewallConfig> firewall, Optional<HaSection> ha, Optional<MeshConfig> mesh, List<StaticRoute> routes,
      boolean uapi) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers, firewall, ha,
        mesh, routes, uapi, Optional.empty());
  }

  /** A configuration without route sharing or static routes. */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers,
      Optional<FirewallConfig> firewall, Optional<HaSection> ha) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers, firewall, ha,
        Optional.empty(), List.of(), true);
  }

  /** A configuration with route sharing or static routes and the UAPI socket on (the default). */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers,
      Optional<FirewallConfig> firewall, Optional<HaSection> ha, Optional<MeshConfig> mesh, List<StaticRoute> routes) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers, firewall, ha,
        mesh, routes, true);
  }

  /** A configuration without an HA section. */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers,
      Optional<FirewallConfig> firewall) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers, firewall,
        Optional.empty());
  }

  /** A configuration without a firewall section (accept all, as before the firewall existed). */
  public GatewayConfig(String interfaceName, Path privateKeyFile, PrivateKey privateKey, OptionalInt listenPort,
      Optional<InetAddress> listenAddress, List<InterfaceAddress> addresses, int mtu, List<PeerConfig> peers) {
    this(interfaceName, privateKeyFile, privateKey, listenPort, listenAddress, addresses, mtu, peers,
        Optional.empty(), Optional.empty());
  }

  /** This gateway's public key, as its peers list it. */
  public PublicKey publicKey() {
    return privateKey.publicKey();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof GatewayConfig)) {
      return false;
    }
    GatewayConfig c = (GatewayConfig) o;
    return c.interfaceName.equals(interfaceName)
        && c.privateKeyFile.equals(privateKeyFile)
        && c.publicKey().equals(publicKey())
        && c.listenPort.equals(listenPort)
        && c.listenAddress.equals(listenAddress)
        && c.addresses.equals(addresses)
        && c.mtu == mtu
        && c.peers.equals(peers)
        && c.ha.equals(ha)
        && c.mesh.equals(mesh)
        && c.routes.equals(routes)
        && c.uapi == uapi
        && c.metrics.equals(metrics)
        && c.listenTcp.equals(listenTcp)
        && c.listenTls.equals(listenTls);
  }

  @Override
  public int hashCode() {
    return Objects.hash(interfaceName, privateKeyFile, publicKey(), listenPort, listenAddress, addresses, mtu, peers,
        ha, mesh, routes);
  }

  @Override
  public String toString() {
    return "GatewayConfig[" + interfaceName + ", publicKey=" + publicKey() + ", privateKeyFile=" + privateKeyFile
        + ", listenPort=" + listenPort + ", listenAddress=" + listenAddress + ", addresses=" + addresses
        + ", mtu=" + mtu + ", peers=" + peers + (ha.isPresent() ? ", ha=" + ha.get() : "")
        + (mesh.isPresent() ? ", mesh=" + mesh.get() : "") + (routes.isEmpty() ? "" : ", routes=" + routes)
        + (uapi ? "" : ", uapi=false") + (metrics.isPresent() ? ", metrics=" + metrics.get() : "")
        + (listenTcp.isPresent() ? ", listenTcp=" + listenTcp.getAsInt() : "")
        + (listenTls.isPresent() ? ", listenTls=" + listenTls.getAsInt() : "") + "]";
  }
}
