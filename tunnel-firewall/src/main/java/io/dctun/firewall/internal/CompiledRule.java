package io.dctun.firewall.internal;

import io.dctun.firewall.Action;
import io.dctun.firewall.spi.PacketMatcher;
import java.util.Arrays;

/**
 * One rule in flat, primitive form: the complete per-rule test the classifier runs on its few
 * candidates. Prefixes are quads {@code (hi, lo, maskHi, maskLo)} per family (see {@link Pkt});
 * port ranges are {@code (lo, hi)} pairs; null arrays mean "any".
 *
 * <p>Thread-safety: immutable (matchers must be thread-safe themselves).
 */
public final class CompiledRule {
  public final String name;
  public final int index;
  public final Action action;
  public final boolean log;
  /** Bit per direction ordinal. */
  public final int directionMask;
  final int proto;
  final int[] peers;
  final long[] src4;
  final long[] src6;
  final long[] dst4;
  final long[] dst6;
  final int[] sports;
  final int[] dports;
  final int icmpType;
  final int icmpCode;
  /** Bit per ConnState ordinal. */
  final int stateMask;
  final PacketMatcher[] matchers;
  // The common shapes inline, so that testing a candidate touches one object, not five arrays.
  private final int peer0;
  private final boolean onePeer;
  private final long src4Net;
  private final long src4Mask;
  private final boolean oneSrc4;
  private final long dst4Net;
  private final long dst4Mask;
  private final boolean oneDst4;
  private final int dportLo;
  private final int dportHi;
  private final boolean oneDport;

  public CompiledRule(String name, int index, Action action, boolean log, int directionMask,
      int proto, int[] peers, long[] src4, long[] src6, long[] dst4, long[] dst6, int[] sports,
      int[] dports, int icmpType, int icmpCode, int stateMask, PacketMatcher[] matchers) {
    this.name = name;
    this.index = index;
    this.action = action;
    this.log = log;
    this.directionMask = directionMask;
    this.proto = proto;
    this.peers = peers == null ? null : sorted(peers);
    this.src4 = src4;
    this.src6 = src6;
    this.dst4 = dst4;
    this.dst6 = dst6;
    this.sports = sports;
    this.dports = dports;
    this.icmpType = icmpType;
    this.icmpCode = icmpCode;
    this.stateMask = stateMask;
    this.matchers = matchers == null || matchers.length == 0 ? null : matchers;
    this.onePeer = this.peers != null && this.peers.length == 1;
    this.peer0 = onePeer ? this.peers[0] : -1;
    this.oneSrc4 = src4 != null && src4.length == 4 && src6 == null;
    this.src4Net = oneSrc4 ? src4[0] : 0;
    this.src4Mask = oneSrc4 ? src4[2] : 0;
    this.oneDst4 = dst4 != null && dst4.length == 4 && dst6 == null;
    this.dst4Net = oneDst4 ? dst4[0] : 0;
    this.dst4Mask = oneDst4 ? dst4[2] : 0;
    this.oneDport = dports != null && dports.length == 2;
    this.dportLo = oneDport ? dports[0] : 0;
    this.dportHi = oneDport ? dports[1] : 0;
  }

  private static int[] sorted(int[] a) {
    int[] c = a.clone();
    Arrays.sort(c);
    return c;
  }

  boolean hasSourceConstraint() {
    return src4 != null || src6 != null;
  }

  boolean hasDestinationConstraint() {
    return dst4 != null || dst6 != null;
  }

  /** The full first-match test, field by field, cheapest first. Allocation-free. */
  public boolean matches(Pkt p) {
    if ((directionMask & (1 << p.dir.ordinal())) == 0
        || (stateMask & (1 << p.state)) == 0
        || (proto >= 0 && proto != p.proto)) {
      return false;
    }
    if (onePeer) {
      if (p.peer != peer0) {
        return false;
      }
    } else if (peers != null && (p.peer < 0 || Arrays.binarySearch(peers, p.peer) < 0)) {
      return false;
    }
    if (oneSrc4) {
      if (p.version != 4 || (p.srcHi & src4Mask) != src4Net) {
        return false;
      }
    } else if ((src4 != null || src6 != null)
        && !inPrefixes(p.version == 4 ? src4 : src6, p.srcHi, p.srcLo)) {
      return false;
    }
    if (oneDport) {
      if (p.dport < dportLo || p.dport > dportHi) {
        return false;
      }
    } else if (dports != null && !inRanges(dports, p.dport)) {
      return false;
    }
    if (oneDst4) {
      if (p.version != 4 || (p.dstHi & dst4Mask) != dst4Net) {
        return false;
      }
    } else if ((dst4 != null || dst6 != null)
        && !inPrefixes(p.version == 4 ? dst4 : dst6, p.dstHi, p.dstLo)) {
      return false;
    }
    if (sports != null && !inRanges(sports, p.sport)) {
      return false;
    }
    if (icmpType >= 0 && icmpType != p.icmpType) {
      return false;
    }
    if (icmpCode >= 0 && icmpCode != p.icmpCode) {
      return false;
    }
    if (matchers != null) {
      for (PacketMatcher m : matchers) {
        if (!m.matches(p)) {
          return false;
        }
      }
    }
    return true;
  }

  static boolean inPrefixes(long[] q, long hi, long lo) {
    if (q == null) {
      return false;
    }
    for (int i = 0; i < q.length; i += 4) {
      if (((hi & q[i + 2]) == q[i]) && ((lo & q[i + 3]) == q[i + 1])) {
        return true;
      }
    }
    return false;
  }

  static boolean inRanges(int[] r, int port) {
    if (port < 0) {
      return false;
    }
    for (int i = 0; i < r.length; i += 2) {
      if (port >= r[i] && port <= r[i + 1]) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return name + "#" + index;
  }
}
