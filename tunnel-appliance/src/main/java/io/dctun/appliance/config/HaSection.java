package io.dctun.appliance.config;

import io.dctun.ha.PairConfig;
import io.dctun.ha.PairConfig.Side;
import io.dctun.ha.VrrpConfig;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * The {@code ha:} section of a gateway configuration: this box's half of a gateway pair, as the
 * library's {@link PairConfig} (a VRRP sync group whose public virtual address, the tunnel
 * endpoint, and private virtual address, the servers' next hop, move together), and the shell
 * commands run when the pair's state changes. {@link GatewayConfig#ha()} carries it.
 *
 * <pre>
 * listen-port: 51820             # required with ha; the tunnel binds public.vip:listen-port
 * ha:
 *   priority: 150                # 1-254; the higher one of the pair is master
 *   advert-interval: 1000        # ms, 10-40950, a multiple of 10 (VRRPv3 centiseconds)
 *   preempt: true                # optional, default true
 *   preempt-delay: 0             # ms, optional, default 0
 *   public:                      # the tunnel endpoint
 *     interface: eth0
 *     vrid: 51
 *     vip: 198.18.0.100/24
 *     unicast-peers: [198.18.0.12]   # optional; absent = multicast 224.0.0.18. Adverts go to
 *                                    # and are accepted only from these (VRRPv3 has no auth)
 *     unicast-ttl-check: true        # optional, default true, only with unicast-peers: adverts
 *                                    # must still arrive with TTL 255; false for routed peers
 *   private:                     # the servers' next hop
 *     interface: eth1
 *     vrid: 52
 *     vip: 198.18.20.1/24
 *     vip6: fe80::52:1/64        # optional: an IPv6 instance too (same VRID, multicast ff02::12,
 *                                # unsolicited neighbour advertisements); link-local is what
 *                                # RFC 5798 puts first, and what servers' IPv6 routes can point at
 *   track:                       # optional
 *     interfaces: [eth2]         # any of them down: FAULT (public and private interfaces always are)
 *     peer-handshake:            # no tunnel handshake with any peer for `within` s: priority - weight
 *       within: 200
 *       weight: 60
 *   state-sync: {local: 198.18.20.2:51900, peer: 198.18.20.3:51900, bandwidth: 1000000}   # optional
 *   notify: {master: CMD, backup: CMD, fault: CMD}                                       # optional
 * </pre>
 *
 * @param pair the pair as the tunnel-ha library runs it
 * @param notifyCommands shell commands run on becoming master, backup or fault (keys "master",
 *     "backup", "fault"; any may be absent)
 */
public record HaSection(PairConfig pair, Map<String, String> notifyCommands) {

  static final Set<String> NOTIFY_FIELDS = Set.of("master", "backup", "fault");
  static final Set<String> STATE_SYNC_FIELDS = Set.of("local", "peer", "bandwidth");
  static final Set<String> FIELDS = Set.of("priority", "advert-interval", "preempt", "preempt-delay", "public",
      "private", "track", "state-sync", "notify");
  static final Set<String> SIDE_FIELDS = Set.of("interface", "vrid", "vip", "vip6", "unicast-peers",
      "unicast-ttl-check");
  static final Set<String> TRACK_FIELDS = Set.of("interfaces", "peer-handshake");
  static final Set<String> HANDSHAKE_FIELDS = Set.of("within", "weight");

  public HaSection {
    Objects.requireNonNull(pair, "pair");
    notifyCommands = Map.copyOf(notifyCommands);
  }

  // ------------------------------------------------------------------ parsing

  /** Where parse errors go: ConfigLoader's collector (file, line, field, message). */
  @FunctionalInterface
  public interface Errors {
    void error(Node at, String field, String message);
  }

  /**
   * Checks the {@code ha:} node (null: absent, returns null). Reports every problem to {@code
   * errors}; returns null if there was any.
   */
  public static HaSection parse(Node node, Errors errors, boolean hasListenPort, boolean hasListenAddress) {
    if (node == null) {
      return null;
    }
    return new Parser(errors).section(node, hasListenPort, hasListenAddress);
  }

  private static final class Parser extends YamlReader {
    final Errors errors;
    int count;

    Parser(Errors errors) {
      this.errors = errors;
    }

    @Override
    void error(Node at, String field, String message) {
      count++;
      errors.error(at, field, message);
    }

    HaSection section(Node node, boolean hasListenPort, boolean hasListenAddress) {
      if (!(node instanceof MappingNode m)) {
        error(node, "ha", "must be a mapping (priority, advert-interval, public, private, ...)");
        return null;
      }
      Map<String, NodeTuple> f = fields(m, "ha.", FIELDS);
      if (!hasListenPort) {
        error(node, "ha", "needs listen-port: the tunnel listens on public.vip:listen-port");
      }
      if (hasListenAddress) {
        error(node, "ha", "listen-address must not be set with ha: the tunnel binds public.vip");
      }
      int priority = 100;
      Node n = value(f, "priority");
      if (n == null) {
        error(node, "ha.priority", "is required (1-254; the higher box of the pair is master)");
      } else {
        Integer p = integer(n, "ha.priority", 1, 254);
        if (p != null) priority = p;
      }
      int interval = 1000;
      n = value(f, "advert-interval");
      if (n != null) {
        Integer v = integer(n, "ha.advert-interval", 10, 40950);
        if (v != null && v % 10 != 0) {
          error(n, "ha.advert-interval", v + " ms is not a multiple of 10 ms (VRRPv3 counts centiseconds)");
        } else if (v != null) {
          interval = v;
        }
      }
      boolean preempt = true;
      n = value(f, "preempt");
      if (n != null) {
        Boolean b = bool(n, "ha.preempt");
        if (b != null) preempt = b;
      }
      Duration delay = Duration.ZERO;
      n = value(f, "preempt-delay");
      if (n != null) {
        Integer v = integer(n, "ha.preempt-delay", 0, 3_600_000);
        if (v != null) delay = Duration.ofMillis(v);
      }
      Side pub = side(f, node, "public", "dctun-public");
      Side priv = side(f, node, "private", "dctun-private");
      if (pub != null && priv != null) {
        if (pub.interfaceName().equals(priv.interfaceName()) && pub.vrid() == priv.vrid()) {
          error(value(f, "private"), "ha.private.vrid", "is the same VRID on the same interface as ha.public");
        }
        if (pub.vip().address().equals(priv.vip().address())) {
          error(value(f, "private"), "ha.private.vip", "is the same address as ha.public.vip");
        }
      }
      List<String> trackIfs = new ArrayList<>();
      int within = 0;
      int weight = 0;
      n = value(f, "track");
      if (n != null) {
        if (!(n instanceof MappingNode tm)) {
          error(n, "ha.track", "must be a mapping (interfaces, peer-handshake)");
        } else {
          Map<String, NodeTuple> t = fields(tm, "ha.track.", TRACK_FIELDS);
          List<Node> items = list(value(t, "interfaces"), "ha.track.interfaces");
          for (int i = 0; i < items.size(); i++) {
            String s = scalar(items.get(i), "ha.track.interfaces[" + i + "]");
            if (s != null && !s.matches("[a-zA-Z0-9_.-]{1,15}")) {
              error(items.get(i), "ha.track.interfaces[" + i + "]", "'" + s + "' is not an interface name");
            } else if (s != null && trackIfs.contains(s)) {
              error(items.get(i), "ha.track.interfaces[" + i + "]", s + " is listed twice");
            } else if (s != null) {
              trackIfs.add(s);
            }
          }
          Node h = value(t, "peer-handshake");
          if (h != null) {
            if (!(h instanceof MappingNode hm)) {
              error(h, "ha.track.peer-handshake", "must be a mapping (within: SECONDS, weight: N)");
            } else {
              Map<String, NodeTuple> hf = fields(hm, "ha.track.peer-handshake.", HANDSHAKE_FIELDS);
              Node w = value(hf, "within");
              if (w == null) {
                error(h, "ha.track.peer-handshake.within", "is required (seconds; WireGuard rekeys every 120 s "
                    + "under traffic, so 180 or more)");
              } else {
                Integer v = integer(w, "ha.track.peer-handshake.within", 1, 86400);
                if (v != null) within = v;
              }
              Node wt = value(hf, "weight");
              if (wt == null) {
                error(h, "ha.track.peer-handshake.weight", "is required (1-254, subtracted from priority)");
              } else {
                Integer v = integer(wt, "ha.track.peer-handshake.weight", 1, 254);
                if (v != null) weight = v;
              }
            }
          }
        }
      }
      PairConfig.Sync sync = null;
      n = value(f, "state-sync");
      if (n != null) {
        if (!(n instanceof MappingNode sm)) {
          error(n, "ha.state-sync", "must be a mapping (local, peer, bandwidth)");
        } else {
          Map<String, NodeTuple> sf = fields(sm, "ha.state-sync.", STATE_SYNC_FIELDS);
          java.net.InetSocketAddress local = socketAddress(value(sf, "local"), n, "ha.state-sync.local");
          java.net.InetSocketAddress peer = socketAddress(value(sf, "peer"), n, "ha.state-sync.peer");
          long bw = 1_000_000;
          Node b = value(sf, "bandwidth");
          if (b != null) {
            Integer v = integer(b, "ha.state-sync.bandwidth", 10_000, 1_000_000_000);
            if (v != null) bw = v;
          }
          if (local != null && peer != null) {
            sync = new PairConfig.Sync(local, peer, bw);
          }
        }
      }
      Map<String, String> notify = new java.util.LinkedHashMap<>();
      n = value(f, "notify");
      if (n != null) {
        if (!(n instanceof MappingNode nm)) {
          error(n, "ha.notify", "must be a mapping (master, backup, fault: shell commands)");
        } else {
          Map<String, NodeTuple> nf = fields(nm, "ha.notify.", NOTIFY_FIELDS);
          for (String k : List.of("master", "backup", "fault")) {
            Node c = value(nf, k);
            if (c != null) {
              String cmd = scalar(c, "ha.notify." + k);
              if (cmd != null && cmd.isBlank()) {
                error(c, "ha.notify." + k, "is empty");
              } else if (cmd != null) {
                notify.put(k, cmd);
              }
            }
          }
        }
      }
      if (count > 0 || pub == null || priv == null) {
        return null;
      }
      try {
        return new HaSection(new PairConfig(priority, interval, preempt, delay, pub, priv, trackIfs, within, weight,
            sync), notify);
      } catch (IllegalArgumentException e) {
        error(node, "ha", e.getMessage()); // every rule the library checks is checked above, with its line
        return null;
      }
    }

    /** An IPv4 literal with a port, e.g. 198.18.20.2:51900 (no names: no DNS at failover). */
    java.net.InetSocketAddress socketAddress(Node n, Node parent, String field) {
      if (n == null) {
        error(parent, field, "is required (ADDRESS:PORT on the private segment)");
        return null;
      }
      String t = scalar(n, field);
      if (t == null) {
        return null;
      }
      int colon = t.lastIndexOf(':');
      // A strict dotted quad: InetAddress.getByName would take 1.2.3 for 1.2.0.3 and send
      // 999.1.1.1 to the resolver.
      InetAddress a = colon < 1 ? null : literal(t.substring(0, colon));
      if (!(a instanceof Inet4Address)) {
        error(n, field, "'" + t + "' is not IPv4-ADDRESS:PORT");
        return null;
      }
      try {
        int port = Integer.parseInt(t.substring(colon + 1));
        if (port < 1 || port > 65535) {
          error(n, field, "port " + port + " is not in 1..65535");
          return null;
        }
        return new java.net.InetSocketAddress(a, port);
      } catch (NumberFormatException e) {
        error(n, field, "'" + t + "' is not IPv4-ADDRESS:PORT");
        return null;
      }
    }

    Side side(Map<String, NodeTuple> f, Node parent, String key, String instanceName) {
      String at = "ha." + key;
      Node n = value(f, key);
      if (n == null) {
        error(parent, at, "is required (interface, vrid, vip)");
        return null;
      }
      if (!(n instanceof MappingNode m)) {
        error(n, at, "must be a mapping (interface, vrid, vip, unicast-peers)");
        return null;
      }
      int before = count;
      Map<String, NodeTuple> s = fields(m, at + ".", SIDE_FIELDS);
      String ifName = null;
      Node v = value(s, "interface");
      if (v == null) {
        error(n, at + ".interface", "is required");
      } else {
        ifName = scalar(v, at + ".interface");
        if (ifName != null && !ifName.matches("[a-zA-Z0-9_.-]{1,15}")) {
          error(v, at + ".interface", "'" + ifName + "' is not an interface name");
        }
      }
      int vrid = 0;
      v = value(s, "vrid");
      if (v == null) {
        error(n, at + ".vrid", "is required (1-255, the same on both boxes of the pair)");
      } else {
        Integer x = integer(v, at + ".vrid", 1, 255);
        if (x != null) vrid = x;
      }
      VrrpConfig.Vip vip = null;
      v = value(s, "vip");
      if (v == null) {
        error(n, at + ".vip", "is required (an IPv4 address with prefix length, e.g. 198.18.0.100/24)");
      } else {
        String t = scalar(v, at + ".vip");
        if (t != null) {
          vip = cidr(v, at + ".vip", t, 4);
        }
      }
      VrrpConfig.Vip vip6 = null;
      v = value(s, "vip6");
      if (v != null) {
        String t = scalar(v, at + ".vip6");
        if (t != null && key.equals("public")) {
          error(v, at + ".vip6", "is not supported on the public side: the tunnel listens on one address, "
              + "public.vip (an IPv6 VRRP instance is for the private side's servers)");
        } else if (t != null) {
          vip6 = cidr(v, at + ".vip6", t, 6);
          if (vip6 != null && value(s, "unicast-peers") != null) {
            error(v, at + ".vip6", "cannot be combined with unicast-peers (IPv4): the IPv6 instance "
                + "multicasts to ff02::12");
          }
        }
      }
      List<Inet4Address> peers = new ArrayList<>();
      List<Node> items = list(value(s, "unicast-peers"), at + ".unicast-peers");
      for (int i = 0; i < items.size(); i++) {
        String field = at + ".unicast-peers[" + i + "]";
        String t = scalar(items.get(i), field);
        if (t == null) continue;
        InetAddress a = literal(t);
        if (!(a instanceof Inet4Address a4)) {
          error(items.get(i), field, "'" + t + "' is not an IPv4 address");
        } else if (peers.contains(a4)) {
          error(items.get(i), field, t + " is listed twice");
        } else {
          peers.add(a4);
        }
      }
      boolean ttlCheck = true;
      v = value(s, "unicast-ttl-check");
      if (v != null) {
        Boolean b = bool(v, at + ".unicast-ttl-check");
        if (b != null && value(s, "unicast-peers") == null) {
          error(v, at + ".unicast-ttl-check", "only applies with unicast-peers (multicast adverts always "
              + "need TTL 255)");
        } else if (b != null) {
          ttlCheck = b;
        }
      }
      if (count != before) {
        return null;
      }
      return new Side(instanceName, ifName, vrid, vip, vip6, peers, ttlCheck);
    }

    /** A VIP with its prefix length, of one family (4: vip, 6: vip6); null after an error. */
    VrrpConfig.Vip cidr(Node n, String field, String t, int family) {
      int slash = t.indexOf('/');
      if (slash < 0) {
        error(n, field, "'" + t + "' needs a prefix length, e.g. " + t + (family == 4 ? "/24" : "/64"));
        return null;
      }
      InetAddress a = literal(t.substring(0, slash));
      String len = t.substring(slash + 1);
      if (family == 4 && !(a instanceof Inet4Address)) {
        error(n, field, "'" + t + "' is not an IPv4 address (an IPv6 one goes in vip6)");
        return null;
      }
      if (family == 6 && !(a instanceof java.net.Inet6Address)) {
        error(n, field, "'" + t + "' is not an IPv6 address (IPv4 goes in vip)");
        return null;
      }
      int max = family == 4 ? 32 : 128;
      if (!len.matches("[0-9]{1,3}") || Integer.parseInt(len) > max) {
        error(n, field, "'" + t + "' has a prefix length outside 0-" + max);
        return null;
      }
      return new VrrpConfig.Vip(a, Integer.parseInt(len));
    }

    static InetAddress literal(String s) {
      try {
        return InterfaceAddress.parseLiteral(s);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
  }
}
