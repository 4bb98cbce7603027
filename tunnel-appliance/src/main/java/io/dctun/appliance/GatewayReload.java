package io.dctun.appliance;

import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.PeerConfig;
import io.dctun.appliance.config.StaticRoute;
import io.dctun.core.route.Prefix;
import io.dctun.crypto.PublicKey;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a reload of the configuration file changes in a running gateway, worked out before anything
 * is touched: the difference between the file it runs and the new one. Pure: no I/O, no device.
 *
 * <p>A reload changes peers (added, removed, changed: allowed IPs, endpoints, keepalive,
 * preshared key, name, groups), static routes, the firewall rules and the connection table's
 * size ({@code max-flows}, resized in place). Everything else (the
 * interface, its addresses and MTU, the key, the listening sockets, the HA pair, route sharing,
 * metrics, the UAPI socket, and peers of role gateway or host, which route sharing holds) takes
 * effect only at the next start: a file that changes any of it is refused whole, naming each such
 * field, so nothing is half-applied and nothing silently waits for a restart.
 */
final class GatewayReload {
  private GatewayReload() {}

  /** The difference, or why the new file cannot be applied while running. */
  record Plan(
      List<String> needRestart,
      List<PeerConfig> removed,
      List<PeerConfig> added,
      List<PeerConfig> changed,
      List<StaticRoute> routesRemoved,
      List<StaticRoute> routesAdded,
      boolean firewallChanged) { // firewall: the rules are swapped (a gateway that has a firewall)

    /** Whether the new file can be applied now. */
    boolean applicable() {
      return needRestart.isEmpty();
    }

    /** Whether it changes anything. */
    boolean empty() {
      return removed.isEmpty() && added.isEmpty() && changed.isEmpty() && routesRemoved.isEmpty()
          && routesAdded.isEmpty();
    }

    /** One line for the log: names and prefixes, never a key's secret. */
    String describe() {
      if (!applicable()) {
        return "needs a restart: " + String.join("; ", needRestart);
      }
      if (empty()) {
        return firewallChanged ? "no peer or route changed; firewall rules swapped" : "no change";
      }
      List<String> parts = new ArrayList<>();
      for (PeerConfig p : added) {
        parts.add("add peer " + p.label() + " " + p.allowedIps());
      }
      for (PeerConfig p : changed) {
        parts.add("change peer " + p.label() + " " + p.allowedIps());
      }
      for (PeerConfig p : removed) {
        parts.add("remove peer " + p.label());
      }
      for (StaticRoute r : routesAdded) {
        parts.add("add route " + r.prefix() + " via " + r.via());
      }
      for (StaticRoute r : routesRemoved) {
        parts.add("remove route " + r.prefix() + " via " + r.via());
      }
      if (firewallChanged) {
        parts.add("firewall rules swapped");
      }
      return String.join("; ", parts);
    }
  }

  /** The plan that takes a gateway running {@code running} to {@code next}. */
  static Plan plan(GatewayConfig running, GatewayConfig next) {
    List<String> restart = new ArrayList<>();
    check(restart, "interface", running.interfaceName(), next.interfaceName());
    if (!running.publicKey().equals(next.publicKey())) {
      restart.add("private-key-file (a different key)");
    }
    check(restart, "listen-port", running.listenPort(), next.listenPort());
    check(restart, "listen-address", running.listenAddress(), next.listenAddress());
    check(restart, "listen-tcp", running.listenTcp(), next.listenTcp());
    check(restart, "listen-tls", running.listenTls(), next.listenTls());
    check(restart, "addresses", running.addresses(), next.addresses());
    check(restart, "mtu", running.mtu(), next.mtu());
    check(restart, "ha", running.ha(), next.ha());
    check(restart, "mesh", running.mesh(), next.mesh());
    check(restart, "metrics", running.metrics(), next.metrics());
    check(restart, "uapi", running.uapi(), next.uapi());
    if (running.firewall().isPresent() != next.firewall().isPresent()) {
      restart.add(running.firewall().isPresent() ? "firewall (the section is gone)" : "firewall (a new section)");
    }
    // The carriers a gateway has were chosen at start from its peers' endpoints.
    for (String carrier : List.of("tcp", "tls")) {
      if (Gateway.dials(next, carrier) && !Gateway.dials(running, carrier) && !listens(running, carrier)) {
        restart.add("peers: the first endpoint over " + carrier + " (the " + carrier + " transport starts with "
            + "the gateway)");
      }
    }

    Map<PublicKey, PeerConfig> before = byKey(running.peers());
    Map<PublicKey, PeerConfig> after = byKey(next.peers());
    List<PeerConfig> removed = new ArrayList<>();
    List<PeerConfig> added = new ArrayList<>();
    List<PeerConfig> changed = new ArrayList<>();
    for (PeerConfig p : before.values()) {
      if (!after.containsKey(p.publicKey())) {
        removed.add(p);
        meshRole(restart, p, "removed");
      }
    }
    for (PeerConfig p : after.values()) {
      PeerConfig old = before.get(p.publicKey());
      if (old == null) {
        added.add(p);
        meshRole(restart, p, "added");
      } else if (!same(old, p)) {
        changed.add(p);
        if (old.role() != p.role()) {
          restart.add("peer " + p.label() + ": role " + old.role().text() + " -> " + p.role().text()
              + " (route sharing holds its gateways and hosts from the start)");
        }
      }
    }

    Set<StaticRoute> routesBefore = new LinkedHashSet<>(running.routes());
    Set<StaticRoute> routesAfter = new LinkedHashSet<>(next.routes());
    List<StaticRoute> routesRemoved = new ArrayList<>();
    List<StaticRoute> routesAdded = new ArrayList<>();
    for (StaticRoute r : routesBefore) {
      if (!routesAfter.contains(r)) {
        routesRemoved.add(r);
      }
    }
    for (StaticRoute r : routesAfter) {
      if (!routesBefore.contains(r)) {
        routesAdded.add(r);
      }
    }
    // The rules are compiled again from the new file and swapped in whole, changed or not: peer
    // names and groups resolve to keys anew, and flows are re-checked on their next packet.
    return new Plan(List.copyOf(restart), removed, added, changed, routesRemoved, routesAdded,
        next.firewall().isPresent());
  }

  private static boolean listens(GatewayConfig c, String carrier) {
    return carrier.equals("tcp") ? c.listenTcp().isPresent() : c.listenTls().isPresent();
  }

  private static void meshRole(List<String> restart, PeerConfig p, String what) {
    if (p.role() != PeerConfig.Role.SITE) {
      restart.add("peer " + p.label() + " (role " + p.role().text() + ") " + what
          + " (route sharing holds its gateways and hosts from the start)");
    }
  }

  private static void check(List<String> restart, String field, Object was, Object now) {
    if (!Objects.equals(was, now)) {
      restart.add(field);
    }
  }

  private static Map<PublicKey, PeerConfig> byKey(List<PeerConfig> peers) {
    Map<PublicKey, PeerConfig> m = new LinkedHashMap<>();
    for (PeerConfig p : peers) {
      m.put(p.publicKey(), p);
    }
    return m;
  }

  /** Field by field; the preshared keys compared in constant time. */
  static boolean same(PeerConfig a, PeerConfig b) {
    return a.name().equals(b.name())
        && a.endpoints().equals(b.endpoints())
        && a.allowedIps().equals(b.allowedIps())
        && a.persistentKeepalive() == b.persistentKeepalive()
        && a.role() == b.role()
        && a.groups().equals(b.groups())
        && samePsk(a.presharedKey(), b.presharedKey());
  }

  /** Whether the device already runs {@code want} for that peer (as after a {@code wg set}, maybe not). */
  static boolean sameOnDevice(io.dctun.core.session.PeerConfig had, io.dctun.core.session.PeerConfig want) {
    return had.name().equals(want.name())
        && had.allowedIps().equals(want.allowedIps())
        && had.endpoints().equals(want.endpoints())
        && had.persistentKeepaliveSeconds() == want.persistentKeepaliveSeconds()
        && had.dctun() == want.dctun()
        && had.roaming() == want.roaming()
        && samePsk(had.presharedKey(), want.presharedKey());
  }

  /** In constant time: a preshared key is a secret. */
  private static boolean samePsk(io.dctun.crypto.PresharedKey a, io.dctun.crypto.PresharedKey b) {
    return MessageDigest.isEqual(a.toBase64().getBytes(StandardCharsets.US_ASCII),
        b.toBase64().getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * The prefixes the kernel routes into the tunnel for {@code c}: every peer's allowed IPs and the
   * static routes, less the interface's own networks (the address gave the kernel those) and /0.
   */
  static Set<Prefix> kernelRoutes(GatewayConfig c) {
    Set<Prefix> onLink = new LinkedHashSet<>();
    for (io.dctun.appliance.config.InterfaceAddress a : c.addresses()) {
      onLink.add(new io.dctun.tun.TunnelInterface.Address(a.address(), a.length()).network());
    }
    Set<Prefix> routes = new LinkedHashSet<>();
    for (PeerConfig p : c.peers()) {
      routes.addAll(p.allowedIps());
    }
    for (StaticRoute r : c.routes()) {
      routes.add(r.prefix());
    }
    routes.removeIf(p -> p.length() == 0 || onLink.contains(p));
    return routes;
  }
}
