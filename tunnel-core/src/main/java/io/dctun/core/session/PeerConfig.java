package io.dctun.core.session;

import io.dctun.core.route.Prefix;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PublicKey;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;

/**
 * What a device needs to know about one peer: its static key, optional preshared key, where to
 * reach it (null if it only dials in; or several endpoints in preference order), the inner prefixes it may use, and the persistent keepalive
 * interval (0 = off), and whether it is a dctun peer (it then takes part in the {@linkplain
 * io.dctun.core.control.ControlFrame control channel}; a stock WireGuard peer never gets a control
 * message). Immutable.
 */
public final class PeerConfig {
  private final String name;
  private final PublicKey publicKey;
  private final PresharedKey presharedKey;
  private final Endpoint endpoint;
  private final List<Endpoint> endpoints;
  private final List<Prefix> allowedIps;
  private final int persistentKeepaliveSeconds;
  private final boolean dctun;
  private final boolean roaming;

  /** A stock WireGuard peer (no control channel). */
  public PeerConfig(String name, PublicKey publicKey, PresharedKey presharedKey, Endpoint endpoint,
      List<Prefix> allowedIps, int persistentKeepaliveSeconds) {
    this(name, publicKey, presharedKey, endpoint, allowedIps, persistentKeepaliveSeconds, false);
  }

  public PeerConfig(String name, PublicKey publicKey, PresharedKey presharedKey, Endpoint endpoint,
      List<Prefix> allowedIps, int persistentKeepaliveSeconds, boolean dctun) {
    this(name, publicKey, presharedKey, endpoint, allowedIps, persistentKeepaliveSeconds, dctun, false);
  }

  /**
   * @param roaming a remote host that may be connected to any gateway of a mesh: its allowed IPs
   *     are its own (checked on what it sends) but are routed to it only while it is connected
   *     here; where it is otherwise is the route-sharing protocol's to say ({@code io.dctun.core.mesh})
   */
  public PeerConfig(String name, PublicKey publicKey, PresharedKey presharedKey, Endpoint endpoint,
      List<Prefix> allowedIps, int persistentKeepaliveSeconds, boolean dctun, boolean roaming) {
    this(name, publicKey, presharedKey, endpoint == null ? List.of() : List.of(endpoint), allowedIps,
        persistentKeepaliveSeconds, dctun, roaming);
  }

  private PeerConfig(String name, PublicKey publicKey, PresharedKey presharedKey, List<Endpoint> endpoints,
      List<Prefix> allowedIps, int persistentKeepaliveSeconds, boolean dctun, boolean roaming) {
    this.name = name == null ? publicKey.toBase64().substring(0, 8) : name;
    this.publicKey = Objects.requireNonNull(publicKey, "publicKey");
    this.presharedKey = presharedKey == null ? PresharedKey.NONE : presharedKey;
    this.endpoints = List.copyOf(endpoints);
    if (this.endpoints.size() > EndpointSet.MAX_ENDPOINTS) {
      throw new IllegalArgumentException("peer " + this.name + ": at most " + EndpointSet.MAX_ENDPOINTS
          + " endpoints, got " + this.endpoints.size());
    }
    if (new java.util.HashSet<>(this.endpoints).size() != this.endpoints.size()) {
      throw new IllegalArgumentException("peer " + this.name + ": an endpoint is listed twice: " + this.endpoints);
    }
    this.endpoint = this.endpoints.isEmpty() ? null : this.endpoints.get(0);
    this.allowedIps = List.copyOf(allowedIps);
    if (persistentKeepaliveSeconds < 0 || persistentKeepaliveSeconds > 65535) {
      throw new IllegalArgumentException("persistent keepalive must be 0..65535 s, got " + persistentKeepaliveSeconds);
    }
    this.persistentKeepaliveSeconds = persistentKeepaliveSeconds;
    this.dctun = dctun;
    this.roaming = roaming;
    if (dctun && roaming) {
      throw new IllegalArgumentException("peer " + this.name + ": a dctun gateway is not a roaming host");
    }
  }

  /** A peer reached over UDP at {@code endpoint} (null: it only dials in), with the given allowed IPs. */
  public static PeerConfig of(PublicKey key, InetSocketAddress endpoint, String... allowedIps) {
    return new PeerConfig(null, key, null, UdpEndpoint.ofNullable(endpoint), java.util.Arrays.stream(allowedIps).map(Prefix::parse).toList(), 0);
  }

  /** A peer reached at {@code endpoint} over whatever carries it (null: it only dials in). */
  public static PeerConfig of(PublicKey key, Endpoint endpoint, String... allowedIps) {
    return new PeerConfig(null, key, null, endpoint, java.util.Arrays.stream(allowedIps).map(Prefix::parse).toList(), 0);
  }

  public String name() {
    return name;
  }

  public PublicKey publicKey() {
    return publicKey;
  }

  public PresharedKey presharedKey() {
    return presharedKey;
  }

  /** The first (most preferred) configured endpoint, or null if the peer only dials in. */
  public Endpoint endpoint() {
    return endpoint;
  }

  /**
   * Every configured endpoint in preference order (empty: it only dials in). With two or more
   * the peer's endpoint is chosen among them ({@link EndpointSet}) instead of roaming.
   */
  public List<Endpoint> endpoints() {
    return endpoints;
  }

  /** The same peer reached at any of {@code eps}, most preferred first. */
  public PeerConfig withEndpoints(List<? extends Endpoint> eps) {
    return new PeerConfig(name, publicKey, presharedKey, List.copyOf(eps), allowedIps, persistentKeepaliveSeconds, dctun, roaming);
  }

  public List<Prefix> allowedIps() {
    return allowedIps;
  }

  public int persistentKeepaliveSeconds() {
    return persistentKeepaliveSeconds;
  }

  /** Whether the peer runs dctun and takes control messages. */
  public boolean dctun() {
    return dctun;
  }

  public PeerConfig withPersistentKeepalive(int seconds) {
    return new PeerConfig(name, publicKey, presharedKey, endpoints, allowedIps, seconds, dctun, roaming);
  }

  public PeerConfig withPresharedKey(PresharedKey psk) {
    return new PeerConfig(name, publicKey, psk, endpoints, allowedIps, persistentKeepaliveSeconds, dctun, roaming);
  }

  /** The same peer with other allowed IPs (every other field kept). */
  public PeerConfig withAllowedIps(List<Prefix> prefixes) {
    return new PeerConfig(name, publicKey, presharedKey, endpoints, prefixes, persistentKeepaliveSeconds, dctun, roaming);
  }

  /** The same peer configured with another endpoint (null: it only dials in). */
  public PeerConfig withEndpoint(Endpoint ep) {
    return new PeerConfig(name, publicKey, presharedKey, ep, allowedIps, persistentKeepaliveSeconds, dctun, roaming);
  }

  public PeerConfig withName(String n) {
    return new PeerConfig(n, publicKey, presharedKey, endpoints, allowedIps, persistentKeepaliveSeconds, dctun, roaming);
  }

  /** Whether the peer is a remote host that roams between the gateways of a mesh. */
  public boolean roaming() {
    return roaming;
  }

  public PeerConfig withRoaming(boolean isRoaming) {
    return withRoles(dctun, isRoaming);
  }

  public PeerConfig withDctun(boolean isDctun) {
    return withRoles(isDctun, roaming);
  }

  private PeerConfig withRoles(boolean isDctun, boolean isRoaming) {
    return new PeerConfig(name, publicKey, presharedKey, endpoints, allowedIps, persistentKeepaliveSeconds, isDctun, isRoaming);
  }

  @Override
  public String toString() {
    return "Peer[" + name + " " + publicKey + " endpoint" + (endpoints.size() > 1 ? "s=" + endpoints : "=" + endpoint) + " allowed=" + allowedIps + (dctun ? " dctun" : "") + (roaming ? " roaming" : "") + "]";
  }
}
