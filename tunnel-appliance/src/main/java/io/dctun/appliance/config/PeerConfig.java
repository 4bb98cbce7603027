package io.dctun.appliance.config;

import io.dctun.core.route.Prefix;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PublicKey;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One peer of a gateway: who it is, where to reach it, and which inner addresses it may send from
 * and is routed. Immutable.
 *
 * <p>Equality compares the preshared key by its file, not its bytes, so that comparing
 * configurations never compares secrets.
 *
 * @param name optional label for logs and the CLI; unique within a configuration when given
 * @param publicKey the peer's static public key
 * @param endpoint where to send the first handshake; empty if the peer always dials in
 * @param allowedIps inner prefixes routed to this peer and accepted from it
 * @param persistentKeepalive seconds between keepalives to hold a NAT mapping open; 0 means off
 * @param presharedKeyFile the file the preshared key was read from, absolute
 * @param presharedKey the preshared key; {@link PresharedKey#NONE} if there is none
 * @param endpoints every endpoint in preference order ({@code endpoints:}); empty, or one, when
 *     the peer has one ({@code endpoint:}) or none. {@code endpoint} is always the first of them.
 * @param role what the peer is: another site (the default), a gateway of this mesh, or a roaming host
 * @param groups the groups the peer belongs to ({@code groups: [ops, db]}), for firewall rules
 */
public record PeerConfig(
    Optional<String> name,
    PublicKey publicKey,
    Optional<Endpoint> endpoint,
    List<Prefix> allowedIps,
    int persistentKeepalive,
    Optional<Path> presharedKeyFile,
    PresharedKey presharedKey,
    List<Endpoint> endpoints,
    Role role,
    List<String> groups) {

  /** What a peer is to this gateway ({@code role:}). */
  public enum Role {
    /** Another site: its allowed IPs are routed to it, always (the behaviour without a role). */
    SITE,
    /**
     * Another dctun gateway of the same mesh: takes part in the control channel and exchanges
     * route-sharing announcements ({@code io.dctun.core.mesh}).
     */
    GATEWAY,
    /**
     * A remote host with a fixed virtual IP (its allowed IPs, each a /32 or /128) that may connect
     * to any gateway of the mesh: routed only where the mesh says it is connected.
     */
    HOST;

    /** {@code site}, {@code gateway}, {@code host}: as the configuration writes it. */
    public String text() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** A site peer in no group with at most one endpoint: the peer as it was before lists and roles. */
  public PeerConfig(Optional<String> name, PublicKey publicKey, Optional<Endpoint> endpoint, List<Prefix> allowedIps,
      int persistentKeepalive, Optional<Path> presharedKeyFile, PresharedKey presharedKey) {
    this(name, publicKey, endpoint, allowedIps, persistentKeepalive, presharedKeyFile, presharedKey,
        endpoint.map(List::of).orElse(List.of()), Role.SITE, List.of());
  }

  /** A site peer in no group with a list of endpoints. */
  public PeerConfig(Optional<String> name, PublicKey publicKey, Optional<Endpoint> endpoint, List<Prefix> allowedIps,
      int persistentKeepalive, Optional<Path> presharedKeyFile, PresharedKey presharedKey, List<Endpoint> endpoints) {
    this(name, publicKey, endpoint, allowedIps, persistentKeepalive, presharedKeyFile, presharedKey, endpoints,
        Role.SITE, List.of());
  }

  /** A peer with at most one endpoint, a role and groups. */
  public PeerConfig(Optional<String> name, PublicKey publicKey, Optional<Endpoint> endpoint, List<Prefix> allowedIps,
      int persistentKeepalive, Optional<Path> presharedKeyFile, PresharedKey presharedKey, Role role,
      List<String> groups) {
    this(name, publicKey, endpoint, allowedIps, persistentKeepalive, presharedKeyFile, presharedKey,
        endpoint.map(List::of).orElse(List.of()), role, groups);
  }

  public PeerConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(publicKey, "publicKey");
    Objects.requireNonNull(endpoint, "endpoint");
    allowedIps = List.copyOf(allowedIps);
    Objects.requireNonNull(presharedKeyFile, "presharedKeyFile");
    Objects.requireNonNull(presharedKey, "presharedKey");
    endpoints = List.copyOf(endpoints);
    if (!endpoint.equals(endpoints.stream().findFirst())) {
      throw new IllegalArgumentException("endpoint " + endpoint + " is not the first of endpoints " + endpoints);
    }
    Objects.requireNonNull(role, "role");
    groups = List.copyOf(groups);
    if (persistentKeepalive < 0 || persistentKeepalive > 65535) {
      throw new IllegalArgumentException("persistent-keepalive " + persistentKeepalive + " is outside 0-65535");
    }
  }

  /** The name if there is one, else the public key: how logs and the CLI refer to the peer. */
  public String label() {
    return name.orElseGet(publicKey::toBase64);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PeerConfig
        && ((PeerConfig) o).name.equals(name)
        && ((PeerConfig) o).publicKey.equals(publicKey)
        && ((PeerConfig) o).endpoints.equals(endpoints)
        && ((PeerConfig) o).allowedIps.equals(allowedIps)
        && ((PeerConfig) o).persistentKeepalive == persistentKeepalive
        && ((PeerConfig) o).presharedKeyFile.equals(presharedKeyFile)
        && ((PeerConfig) o).role == role
        && ((PeerConfig) o).groups.equals(groups);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, publicKey, endpoints, allowedIps, persistentKeepalive, presharedKeyFile, role, groups);
  }

  @Override
  public String toString() {
    return "PeerConfig[" + label() + (role == Role.SITE ? "" : ", role=" + role.text())
        + (groups.isEmpty() ? "" : ", groups=" + groups) + (endpoints.size() > 1 ? ", endpoints=" + endpoints : ", endpoint=" + endpoint.map(Endpoint::toString).orElse("none"))
        + ", allowedIps=" + allowedIps + ", persistentKeepalive=" + persistentKeepalive
        + ", presharedKeyFile=" + presharedKeyFile.map(Path::toString).orElse("none") + "]";
  }
}
