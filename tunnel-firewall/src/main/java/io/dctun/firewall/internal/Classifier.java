package io.dctun.firewall.internal;

import io.dctun.core.route.AllowedIps;
import io.dctun.core.route.Prefix;
import io.dctun.firewall.Direction;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * First-match classifier of one direction: finds the lowest-numbered rule that matches a packet
 * without looking at the rules that cannot.
 *
 * <pre>
 *                      +-- peer index ----------> peerLists[peer]      (rules naming that peer)
 *   packet (Pkt) ------+-- source, LPM trie ----> srcLists[class]      (rules whose prefix holds it)
 *   one direction      +-- destination, trie ---> dstLists[class]
 *                      +-- dst port, int[65536] > portLists[class]     (elementary port intervals)
 *                               each dimension also has a wildcard list (rules not using it)
 *
 *   cost(d) = |list_d(packet)| + |wildcard_d|   -> pick the dimension with the smallest cost,
 *   merge its two sorted lists in rule order, run CompiledRule.matches on each: first true wins.
 * </pre>
 *
 * A rule matches only if it is in every dimension's candidates, so scanning any one dimension's
 * candidates in rule order and testing each rule completely yields exactly the first match of a
 * linear scan. Per packet: one array read for the peer, two IPv4 trie reads (at most three array
 * reads each), one port-table read, then the shortest candidate list. With rules that each name
 * a peer, a prefix or a port, that list holds the few rules about this packet's peer, hosts or
 * service, whatever the total: the cost tracks the number of rules that could match, not the
 * number of rules. The worst case (thousands of rules differing only in a field that is not
 * indexed, such as the source port or a custom matcher) degrades to a linear scan of them.
 *
 * <p>Prefix classes: the rule prefixes containing an address are exactly the ancestors of the
 * longest one, so the longest-prefix match names a class whose list holds every rule with a
 * prefix containing that node. Memory is the sum of list lengths: each rule appears once per
 * more-specific prefix (or port interval) inside its own, which is small for ordinary ACLs.
 *
 * <p>Thread-safety: immutable after construction; any number of threads may classify at once.
 */
public final class Classifier {
  private static final int[] EMPTY = new int[0];
  private static final int PORTS = 65536;
  /** Candidates few enough that another table lookup (a likely cache miss) would not pay. */
  private static final int GOOD_ENOUGH = 4;

  private final CompiledRule[] rules;
  private final int[][] peerLists;
  private final int[] peerWild;
  private final AllowedIps<int[]> srcTrie = new AllowedIps<>();
  private final int[][] srcLists;
  private final int[] srcWild;
  private final AllowedIps<int[]> dstTrie = new AllowedIps<>();
  private final int[][] dstLists;
  private final int[] dstWild;
  private final int[] portClass;
  private final int[][] portLists;
  private final int[] portWild;

  /** @param rules every rule in order (index = position); only those for {@code dir} are used */
  public Classifier(CompiledRule[] rules, Direction dir, int peerCount) {
    this.rules = rules;
    List<CompiledRule> mine = new ArrayList<>();
    for (CompiledRule r : rules) {
      if ((r.directionMask & (1 << dir.ordinal())) != 0) {
        mine.add(r);
      }
    }
    // Peer dimension.
    IntList[] pl = new IntList[peerCount];
    IntList pw = new IntList();
    for (int i = 0; i < peerCount; i++) {
      pl[i] = new IntList();
    }
    for (CompiledRule r : mine) {
      if (r.peers == null) {
        pw.add(r.index);
      } else {
        for (int p : r.peers) {
          pl[p].add(r.index);
        }
      }
    }
    peerLists = new int[peerCount][];
    for (int i = 0; i < peerCount; i++) {
      peerLists[i] = pl[i].toSortedUnique();
    }
    peerWild = pw.toSortedUnique();
    // Prefix dimensions.
    IntList sw = new IntList();
    IntList dw = new IntList();
    srcLists = buildPrefixDim(mine, true, srcTrie, sw);
    srcWild = sw.toSortedUnique();
    dstLists = buildPrefixDim(mine, false, dstTrie, dw);
    dstWild = dw.toSortedUnique();
    // Destination-port dimension: elementary intervals between range boundaries.
    TreeSet<Integer> cuts = new TreeSet<>();
    cuts.add(0);
    IntList ow = new IntList();
    for (CompiledRule r : mine) {
      if (r.dports == null) {
        ow.add(r.index);
        continue;
      }
      for (int i = 0; i < r.dports.length; i += 2) {
        cuts.add(r.dports[i]);
        if (r.dports[i + 1] + 1 < PORTS) {
          cuts.add(r.dports[i + 1] + 1);
        }
      }
    }
    portWild = ow.toSortedUnique();
    portClass = new int[PORTS];
    int[] starts = cuts.stream().mapToInt(Integer::intValue).toArray();
    for (int c = 0; c < starts.length; c++) {
      int end = c + 1 < starts.length ? starts[c + 1] : PORTS;
      Arrays.fill(portClass, starts[c], end, c);
    }
    IntList[] ol = new IntList[starts.length];
    for (int i = 0; i < ol.length; i++) {
      ol[i] = new IntList();
    }
    for (CompiledRule r : mine) {
      if (r.dports != null) {
        for (int i = 0; i < r.dports.length; i += 2) {
          for (int c = portClass[r.dports[i]]; c <= portClass[r.dports[i + 1]]; c++) {
            ol[c].add(r.index);
          }
        }
      }
    }
    portLists = new int[ol.length][];
    for (int i = 0; i < ol.length; i++) {
      portLists[i] = ol[i].toSortedUnique();
    }
  }

  private static int[][] buildPrefixDim(List<CompiledRule> mine, boolean source,
      AllowedIps<int[]> trie, IntList wild) {
    Map<Prefix, IntList> exact = new HashMap<>();
    LinkedHashSet<Prefix> distinct = new LinkedHashSet<>();
    for (CompiledRule r : mine) {
      long[] v4 = source ? r.src4 : r.dst4;
      long[] v6 = source ? r.src6 : r.dst6;
      if (v4 == null && v6 == null) {
        wild.add(r.index);
        continue;
      }
      for (long[] q : new long[][] {v4, v6}) {
        if (q == null) {
          continue;
        }
        for (int i = 0; i < q.length; i += 4) {
          Prefix p = toPrefix(q, i, q == v4);
          exact.computeIfAbsent(p, k -> new IntList()).add(r.index);
          distinct.add(p);
        }
      }
    }
    int[][] lists = new int[distinct.size()][];
    int id = 0;
    for (Prefix q : distinct) {
      IntList l = new IntList();
      byte[] a = q.address();
      for (int len = 0; len <= q.length(); len++) {
        IntList e = exact.get(Prefix.of(a, len));
        if (e != null) {
          l.addAll(e);
        }
      }
      lists[id] = l.toSortedUnique();
      trie.insert(q, lists[id]); // the list itself: one dependent load fewer per lookup
      id++;
    }
    return lists;
  }

  static Prefix toPrefix(long[] q, int i, boolean v4) {
    if (v4) {
      int a = (int) (q[i] >>> 32);
      byte[] b = {(byte) (a >>> 24), (byte) (a >>> 16), (byte) (a >>> 8), (byte) a};
      return Prefix.of(b, Long.bitCount(q[i + 2]));
    }
    byte[] b = new byte[16];
    for (int k = 0; k < 8; k++) {
      b[k] = (byte) (q[i] >>> (56 - 8 * k));
      b[8 + k] = (byte) (q[i + 1] >>> (56 - 8 * k));
    }
    return Prefix.of(b, Long.bitCount(q[i + 2]) + Long.bitCount(q[i + 3]));
  }

  /** Index of the first rule matching {@code p} (its direction, peer, state set), or -1. */
  public int firstMatch(Pkt p) {
    int[] best = p.peer >= 0 && p.peer < peerLists.length ? peerLists[p.peer] : EMPTY;
    int[] bestWild = peerWild;
    int cost = best.length + bestWild.length;
    if (cost == 0) {
      return -1;
    }
    // Dimensions in order of usual selectivity; stop looking once the candidates are few. The
    // source and port lookups are independent, so their cache misses overlap.
    if (cost > GOOD_ENOUGH) {
      int[] ls = lookup(srcTrie, p.version, p.buf, p.off + 8, p.srcHi);
      int[] lp = p.dport >= 0 ? portLists[portClass[p.dport]] : EMPTY;
      int cs = ls.length + srcWild.length;
      int cp = lp.length + portWild.length;
      if (cs < cost) {
        best = ls;
        bestWild = srcWild;
        cost = cs;
      }
      if (cp < cost) {
        best = lp;
        bestWild = portWild;
        cost = cp;
      }
    }
    if (cost > GOOD_ENOUGH) {
      int[] l = lookup(dstTrie, p.version, p.buf, p.off + 24, p.dstHi);
      if (l.length + dstWild.length < cost) {
        best = l;
        bestWild = dstWild;
      }
    }
    return scan(best, bestWild, p);
  }

  /** The candidate list of the longest rule prefix containing the address, or EMPTY. */
  private static int[] lookup(AllowedIps<int[]> trie, int version, byte[] buf, int v6At,
      long hi) {
    int[] c = version == 4 ? trie.lookupV4((int) (hi >>> 32)) : trie.lookup(buf, v6At, 16);
    return c == null ? EMPTY : c;
  }

  private int scan(int[] a, int[] w, Pkt p) {
    int i = 0;
    int j = 0;
    while (i < a.length || j < w.length) {
      int r;
      if (j >= w.length || (i < a.length && a[i] < w[j])) {
        r = a[i++];
      } else {
        r = w[j++];
      }
      if (rules[r].matches(p)) {
        return r;
      }
    }
    return -1;
  }

  /** Total entries in all candidate lists: the classifier's memory beyond the tries, in ints. */
  public long listEntries() {
    long n = peerWild.length + srcWild.length + dstWild.length + portWild.length;
    for (int[][] ls : new int[][][] {peerLists, srcLists, dstLists, portLists}) {
      for (int[] x : ls) {
        n += x.length;
      }
    }
    return n;
  }

  /** Growable int list for construction only. */
  static final class IntList {
    int[] a = new int[4];
    int n;

    void add(int v) {
      if (n == a.length) {
        a = Arrays.copyOf(a, n * 2);
      }
      a[n++] = v;
    }

    void addAll(IntList o) {
      for (int i = 0; i < o.n; i++) {
        add(o.a[i]);
      }
    }

    int[] toSortedUnique() {
      int[] c = Arrays.copyOf(a, n);
      Arrays.sort(c);
      int m = 0;
      for (int i = 0; i < c.length; i++) {
        if (m == 0 || c[m - 1] != c[i]) {
          c[m++] = c[i];
        }
      }
      return m == c.length ? c : Arrays.copyOf(c, m);
    }
  }
}
