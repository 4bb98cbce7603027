package io.dctun.firewall;

import io.dctun.core.packet.IpPacket;
import io.dctun.core.route.Prefix;
import io.dctun.crypto.PublicKey;
import io.dctun.firewall.internal.Classifier;
import io.dctun.firewall.internal.CompiledRule;
import io.dctun.firewall.internal.Pkt;
import io.dctun.firewall.spi.PacketMatcher;
import io.dctun.firewall.spi.RuleModule;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A validated, compiled, immutable rule set: the peers it knows (name, key, groups), its rules in
 * first-match order, and one {@link Classifier} per direction. Build with {@link #builder()};
 * install into a {@link Firewall} (atomically replacing the previous set).
 *
 * <p>Thread-safety: immutable except for the per-rule counters, which are atomic.
 */
public final class RuleSet {
  final CompiledRule[] rules;
  private final Classifier inbound;
  private final Classifier outbound;
  private final Map<PublicKey, Integer> peerIndex;
  private final Map<String, Integer> peerByName;
  private final String[] peerNames;
  /** Per rule: packets, bytes, last hit. */
  final AtomicLongArray counters;

  private RuleSet(CompiledRule[] rules, Map<PublicKey, Integer> peerIndex,
      Map<String, Integer> peerByName, String[] peerNames) {
    this.rules = rules;
    this.peerIndex = peerIndex;
    this.peerByName = peerByName;
    this.peerNames = peerNames;
    this.inbound = new Classifier(rules, Direction.INBOUND, peerNames.length);
    this.outbound = new Classifier(rules, Direction.OUTBOUND, peerNames.length);
    this.counters = new AtomicLongArray(rules.length * 3);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** How many peers the rule set knows (their indexes are 0..peerCount-1). */
  public int peerCount() {
    return peerNames.length;
  }

  public int size() {
    return rules.length;
  }

  public List<String> ruleNames() {
    List<String> n = new ArrayList<>(rules.length);
    for (CompiledRule r : rules) {
      n.add(r.name);
    }
    return n;
  }

  /** The index of a peer by key, or -1 if the rule set does not know it. */
  int peerIndex(PublicKey key) {
    if (key == null) {
      return -1;
    }
    Integer i = peerIndex.get(key);
    return i == null ? -1 : i;
  }

  /** {@link #peerIndex(PublicKey)} through the thread's identity cache in {@code p}. */
  int peerIndex(PublicKey key, Pkt p) {
    if (key == null) {
      return -1;
    }
    if (p.peerCacheOwner != this) {
      java.util.Arrays.fill(p.peerCacheKey, null);
      p.peerCacheOwner = this;
    }
    int slot = System.identityHashCode(key) & (Pkt.PEER_CACHE - 1);
    if (p.peerCacheKey[slot] == key) {
      return p.peerCacheIndex[slot];
    }
    int i = peerIndex(key);
    p.peerCacheKey[slot] = key;
    p.peerCacheIndex[slot] = i;
    return i;
  }

  /** A peer by configured name or base64 key; -1 if unknown. */
  int peerIndex(String nameOrKey) {
    Integer i = peerByName.get(nameOrKey);
    if (i != null) {
      return i;
    }
    try {
      return peerIndex(PublicKey.fromBase64(nameOrKey));
    } catch (RuntimeException e) {
      return -1;
    }
  }

  String peerName(int index) {
    return index < 0 ? null : peerNames[index];
  }

  /** First matching rule for the parsed packet (direction, peer and state set), or -1. */
  int firstMatch(Pkt p) {
    return (p.dir == Direction.INBOUND ? inbound : outbound).firstMatch(p);
  }

  /** Plain linear first match: the reference the compiled classifier must agree with. */
  int firstMatchLinear(Pkt p) {
    for (CompiledRule r : rules) {
      if (r.matches(p)) {
        return r.index;
      }
    }
    return -1;
  }

  void count(int rule, int bytes, long now) {
    counters.incrementAndGet(rule * 3);
    counters.addAndGet(rule * 3 + 1, bytes);
    counters.lazySet(rule * 3 + 2, now);
  }

  /** Starts this set's counters from those of same-named rules in {@code old} (on reload). */
  void inheritCounters(RuleSet old) {
    Map<String, Integer> byName = new HashMap<>();
    for (CompiledRule r : old.rules) {
      byName.put(r.name, r.index);
    }
    for (CompiledRule r : rules) {
      Integer o = byName.get(r.name);
      if (o != null) {
        for (int k = 0; k < 3; k++) {
          counters.set(r.index * 3 + k, old.counters.get(o * 3 + k));
        }
      }
    }
  }

  /** Counters of every rule, in rule order. */
  public List<RuleStats> stats() {
    List<RuleStats> out = new ArrayList<>(rules.length);
    for (int i = 0; i < rules.length; i++) {
      out.add(new RuleStats(rules[i].name, counters.get(i * 3), counters.get(i * 3 + 1),
          counters.get(i * 3 + 2)));
    }
    return out;
  }

  /** Memory of the candidate lists, in ints (both directions); for sizing reports. */
  public long classifierListEntries() {
    return inbound.listEntries() + outbound.listEntries();
  }

  /**
   * Collects peers, rules and modules, validates everything, and compiles. Errors are collected
   * across all rules and thrown together.
   *
   * <p>Thread-safety: not thread-safe.
   */
  public static final class Builder {
    private record PeerDef(String name, PublicKey key, List<String> groups) {}

    private final Map<String, PeerDef> peers = new LinkedHashMap<>();
    private final List<Rule> rules = new ArrayList<>();
    private Map<String, RuleModule> modules;
    /** Why rule modules on the class path failed to load, for the error of a rule that names one. */
    private final List<String> moduleFailures = new ArrayList<>();
    private final List<RuleError> early = new ArrayList<>();

    private Builder() {}

    /** A peer the rules may name; {@code groups} are the groups it belongs to. */
    public Builder peer(String name, PublicKey key, String... groups) {
      if (peers.containsKey(name)) {
        early.add(new RuleError("peer " + name, "name", "duplicate peer name"));
      }
      peers.put(name, new PeerDef(name, key, List.of(groups)));
      return this;
    }

    public Builder rule(Rule r) {
      rules.add(r);
      return this;
    }

    public Builder rules(List<Rule> rs) {
      rules.addAll(rs);
      return this;
    }

    /** Custom rule modules to use instead of those {@link ServiceLoader} finds. */
    public Builder modules(Iterable<? extends RuleModule> ms) {
      modules = new HashMap<>();
      for (RuleModule m : ms) {
        modules.put(m.name(), m);
      }
      return this;
    }

    /** The modules on the class path, by name ({@link ServiceLoader}); those that fail to load are left out. */
    public static Map<String, RuleModule> discoverModules() {
      return discoverModules(new ArrayList<>());
    }

    /** The most broken providers one discovery reports before it gives up on the rest. */
    private static final int MAX_MODULE_FAILURES = 20;

    /**
     * As {@link #discoverModules()}, adding to {@code failures} why each provider that could not
     * be loaded failed. An operator's module jar is input: a services file naming a missing class,
     * a class built for a newer JDK or a constructor that throws must come out as a configuration
     * error naming it, not as an Error out of the loader.
     */
    static Map<String, RuleModule> discoverModules(List<String> failures) {
      Map<String, RuleModule> m = new HashMap<>();
      Iterator<RuleModule> it = ServiceLoader.load(RuleModule.class).iterator();
      while (failures.size() < MAX_MODULE_FAILURES) {
        try {
          if (!it.hasNext()) {
            break;
          }
          RuleModule r = it.next();
          m.putIfAbsent(r.name(), r);
        } catch (ServiceConfigurationError | LinkageError | RuntimeException e) {
          Throwable cause = e.getCause();
          failures.add(e.getClass().getSimpleName() + ": " + e.getMessage()
              + (cause != null ? " (" + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")" : ""));
        }
      }
      return m;
    }

    /**
     * Validates and compiles.
     *
     * @throws RuleSetException with every error found, each naming rule and field
     */
    public RuleSet build() throws RuleSetException {
      List<RuleError> errors = new ArrayList<>(early);
      if (modules == null) {
        modules = discoverModules(moduleFailures);
      }
      // Peers and groups.
      String[] names = peers.keySet().toArray(new String[0]);
      Map<PublicKey, Integer> byKey = new HashMap<>();
      Map<String, Integer> byName = new HashMap<>();
      Map<String, List<Integer>> groups = new HashMap<>();
      for (int i = 0; i < names.length; i++) {
        PeerDef d = peers.get(names[i]);
        byName.put(d.name, i);
        if (d.key == null || byKey.put(d.key, i) != null) {
          errors.add(new RuleError("peer " + d.name, "key",
              d.key == null ? "missing public key" : "key used by another peer"));
        }
        for (String g : d.groups) {
          groups.computeIfAbsent(g, k -> new ArrayList<>()).add(i);
        }
      }
      Set<String> seen = new HashSet<>();
      CompiledRule[] out = new CompiledRule[rules.size()];
      for (int i = 0; i < rules.size(); i++) {
        Rule r = rules.get(i);
        String label = r.name == null || r.name.isBlank() ? "#" + i : r.name;
        List<RuleError> errs = new ArrayList<>();
        if (r.name == null || r.name.isBlank()) {
          errs.add(new RuleError(label, "name", "every rule needs a name"));
        } else if (!seen.add(r.name)) {
          errs.add(new RuleError(label, "name", "duplicate rule name"));
        }
        out[i] = compile(r, i, label, byName, byKey, groups, errs);
        errors.addAll(errs);
      }
      if (!errors.isEmpty()) {
        throw new RuleSetException(errors);
      }
      return new RuleSet(out, Map.copyOf(byKey), Map.copyOf(byName), names);
    }

    private CompiledRule compile(Rule r, int index, String label, Map<String, Integer> byName,
        Map<PublicKey, Integer> byKey, Map<String, List<Integer>> groups, List<RuleError> errs) {
      if (r.action == null) {
        errs.add(new RuleError(label, "action", "missing (accept, drop or reject)"));
      }
      int dirMask = 0;
      for (Direction d : r.effectiveDirections()) {
        dirMask |= 1 << d.ordinal();
      }
      // Peers and groups.
      int[] peerIdx = null;
      if (!r.peers.isEmpty() || !r.groups.isEmpty()) {
        TreeSet<Integer> set = new TreeSet<>();
        for (String p : r.peers) {
          Integer k = byName.get(p);
          if (k == null) {
            try {
              k = byKey.get(PublicKey.fromBase64(p));
            } catch (RuntimeException e) {
              k = null;
            }
          }
          if (k == null) {
            errs.add(new RuleError(label, "peer", "unknown peer '" + p + "'"));
          } else {
            set.add(k);
          }
        }
        for (String g : r.groups) {
          List<Integer> members = groups.get(g);
          if (members == null) {
            errs.add(new RuleError(label, "group", "unknown group '" + g + "' (no peer is in it)"));
          } else {
            set.addAll(members);
          }
        }
        peerIdx = set.stream().mapToInt(Integer::intValue).toArray();
      }
      long[][] src = prefixes(r.sources, "source", label, errs);
      long[][] dst = prefixes(r.destinations, "destination", label, errs);
      int proto = -1;
      if (r.protocol != null) {
        proto = parseProtocol(r.protocol);
        if (proto == -2) {
          errs.add(new RuleError(label, "protocol", "unknown protocol '" + r.protocol
              + "' (tcp, udp, icmp, icmpv6, any or 0..255)"));
        }
      }
      boolean ports = proto == IpPacket.PROTO_TCP || proto == IpPacket.PROTO_UDP;
      int[] sports = ranges(r.sourcePorts, "sourcePort", label, errs);
      int[] dports = ranges(r.destinationPorts, "destinationPort", label, errs);
      if ((sports != null || dports != null) && !ports && proto != -2) {
        errs.add(new RuleError(label, sports != null ? "sourcePort" : "destinationPort",
            "ports need protocol tcp or udp"));
      }
      boolean icmp = proto == IpPacket.PROTO_ICMP || proto == IpPacket.PROTO_ICMPV6;
      int type = -1;
      int code = -1;
      if (r.icmpType != null) {
        type = r.icmpType;
        if (type < 0 || type > 255) {
          errs.add(new RuleError(label, "icmpType", "must be 0..255, got " + type));
        } else if (!icmp) {
          errs.add(new RuleError(label, "icmpType", "needs protocol icmp or icmpv6"));
        }
      }
      if (r.icmpCode != null) {
        code = r.icmpCode;
        if (code < 0 || code > 255) {
          errs.add(new RuleError(label, "icmpCode", "must be 0..255, got " + code));
        } else if (!icmp) {
          errs.add(new RuleError(label, "icmpCode", "needs protocol icmp or icmpv6"));
        }
      }
      int stateMask = (1 << ConnState.NEW.ordinal()) | (1 << ConnState.RELATED.ordinal());
      if (!r.states.isEmpty()) {
        stateMask = 0;
        for (ConnState s : r.states) {
          if (s == ConnState.ESTABLISHED) {
            errs.add(new RuleError(label, "state", "established packets never reach the rules"
                + " (they pass with their flow); use new, related or invalid"));
          }
          stateMask |= 1 << s.ordinal();
        }
      }
      List<PacketMatcher> ms = new ArrayList<>();
      for (Map.Entry<String, Map<String, String>> e : r.matchers.entrySet()) {
        RuleModule m = modules.get(e.getKey());
        if (m == null) {
          errs.add(new RuleError(label, "match." + e.getKey(), "no rule module named '"
              + e.getKey() + "' (loaded: " + new TreeSet<>(modules.keySet()) + ")"
              + (moduleFailures.isEmpty() ? "" : "; failed to load: " + String.join("; ", moduleFailures))));
          continue;
        }
        try {
          PacketMatcher pm = m.create(Map.copyOf(e.getValue()));
          if (pm == null) {
            throw new IllegalArgumentException("module returned no matcher");
          }
          ms.add(pm);
        } catch (RuntimeException ex) {
          errs.add(new RuleError(label, "match." + e.getKey(), String.valueOf(ex.getMessage())));
        }
      }
      if (!errs.isEmpty()) {
        return null;
      }
      return new CompiledRule(r.name, index, r.action, r.log, dirMask, proto, peerIdx,
          src[0], src[1], dst[0], dst[1], sports, dports, type, code, stateMask,
          ms.toArray(new PacketMatcher[0]));
    }

    /** {v4 quads, v6 quads}, each null when absent; both null when the list is empty. */
    private static long[][] prefixes(List<String> texts, String field, String label,
        List<RuleError> errs) {
      if (texts.isEmpty()) {
        return new long[2][];
      }
      List<Long> v4 = new ArrayList<>();
      List<Long> v6 = new ArrayList<>();
      for (String t : texts) {
        Prefix p;
        try {
          p = Prefix.parse(t);
        } catch (IllegalArgumentException e) {
          errs.add(new RuleError(label, field, e.getMessage()));
          continue;
        }
        byte[] a = p.address();
        int len = p.length();
        long hi = 0;
        long lo = 0;
        if (p.isIpv4()) {
          for (byte b : a) {
            hi = (hi << 8) | (b & 0xFF);
          }
          hi <<= 32;
          long m = len == 0 ? 0 : -1L << (64 - len);
          Collections4.add(v4, hi, 0, m, 0);
        } else {
          for (int k = 0; k < 8; k++) {
            hi = (hi << 8) | (a[k] & 0xFF);
            lo = (lo << 8) | (a[8 + k] & 0xFF);
          }
          long mh = len >= 64 ? -1L : len == 0 ? 0 : -1L << (64 - len);
          long ml = len <= 64 ? 0 : len == 128 ? -1L : -1L << (128 - len);
          Collections4.add(v6, hi, lo, mh, ml);
        }
      }
      return new long[][] {
          v4.isEmpty() ? null : v4.stream().mapToLong(Long::longValue).toArray(),
          v6.isEmpty() ? null : v6.stream().mapToLong(Long::longValue).toArray()};
    }

    private static final class Collections4 {
      static void add(List<Long> l, long a, long b, long c, long d) {
        l.add(a);
        l.add(b);
        l.add(c);
        l.add(d);
      }
    }

    private static int[] ranges(List<String> texts, String field, String label,
        List<RuleError> errs) {
      if (texts.isEmpty()) {
        return null;
      }
      int[] out = new int[texts.size() * 2];
      int n = 0;
      for (String t : texts) {
        String s = t == null ? "" : t.trim();
        int dash = s.indexOf('-');
        int lo = parsePort(dash < 0 ? s : s.substring(0, dash));
        int hi = dash < 0 ? lo : parsePort(s.substring(dash + 1));
        if (lo < 0 || hi < 0 || lo > hi) {
          errs.add(new RuleError(label, field, "invalid port or range '" + t
              + "' (0..65535 or lo-hi with lo <= hi)"));
          continue;
        }
        out[n++] = lo;
        out[n++] = hi;
      }
      return Arrays.copyOf(out, n);
    }

    private static int parsePort(String s) {
      s = s.trim();
      if (s.isEmpty() || s.length() > 5) {
        return -1;
      }
      int v = 0;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c < '0' || c > '9') {
          return -1;
        }
        v = v * 10 + (c - '0');
      }
      return v <= 65535 ? v : -1;
    }

    /** -1 any, 0..255, or -2 unknown. */
    static int parseProtocol(String p) {
      switch (p.trim().toLowerCase(Locale.ROOT)) {
        case "any":
          return -1;
        case "tcp":
          return IpPacket.PROTO_TCP;
        case "udp":
          return IpPacket.PROTO_UDP;
        case "icmp":
          return IpPacket.PROTO_ICMP;
        case "icmpv6":
        case "ipv6-icmp":
          return IpPacket.PROTO_ICMPV6;
        default:
          try {
            int v = Integer.parseInt(p.trim());
            return v >= 0 && v <= 255 ? v : -2;
          } catch (NumberFormatException e) {
            return -2;
          }
      }
    }
  }
}
