package io.dctun.firewall.internal;

import io.dctun.core.packet.IpPacket;
import io.dctun.firewall.Direction;

/**
 * Connection tracking: a bounded table of flows in primitive arrays, sans-I/O (time is passed
 * in as nanoseconds; nothing runs in the background; {@link #expire} sweeps when called).
 *
 * <pre>
 * flow key (5 longs): the two endpoints in canonical order, lower (address, port) first, so
 * both directions of a flow hash to the same slot with one lookup:
 *   k0,k1 = endpoint A address (IPv6 hi/lo; IPv4 in top 32 bits of k0, k1 = 0)
 *   k2,k3 = endpoint B address
 *   meta  = portA:16 | portB:16 | proto:8 | v6:1 | peer+1:23     (echo: id as both ports)
 * per slot: 5 longs key + 1 long expiry + 3 ints (state word, rules version, rule index)
 *         = 60 bytes; capacity keeps load in (3/8, 3/4], so 80..160 bytes per allowed flow
 *         (120 with the defaults).
 * state word: kind:4 | A-is-originator:1 | assured:1 | origin-direction:1 | finA:1 | finB:1 |
 *             used:1 (bit 31)
 * </pre>
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones), split into
 * segments (at least {@value #MIN_SEGMENTS}, about {@value #FLOWS_PER_SEGMENT} flows each, so
 * no array is large enough for G1 to waste a "humongous" region on it), each guarded by its own
 * monitor (striped locking): the TUN thread and the UDP thread contend only when their packets
 * hash to the same segment, and a lookup holds a lock for a few dozen nanoseconds. Each segment
 * holds at most {@code ceil(maxFlows / segments)} flows: the arrays are allocated once, so memory
 * is fixed whatever arrives. "Table full" is therefore per segment, which spreads evenly.
 *
 * <p>When a segment is full, a new flow first reclaims expired slots, then evicts the oldest
 * <em>unassured</em> flow among the next {@value #EVICT_SCAN} slots (TCP before the handshake
 * completed, UDP/ICMP never answered; like Linux's early_drop). Assured flows are never evicted:
 * if none can go, the new flow is refused. A flood of spoofed SYNs thus recycles its own slots.
 *
 * <p>TCP follows a reduced nf_conntrack state machine (no window tracking): SYN -&gt; SYN_SENT,
 * SYN+ACK from the responder -&gt; SYN_RECV, ACK from the originator -&gt; ESTABLISHED (assured),
 * FIN -&gt; FIN_WAIT, second FIN -&gt; LAST_ACK, then ACK -&gt; TIME_WAIT, RST -&gt; CLOSE. Timeouts
 * are Linux's defaults. A segment out of step (e.g. an ACK answering no SYN) is INVALID.
 */
public final class ConnTrack {
  /** Fewest lock stripes; more for big tables so that each array stays small. */
  public static final int MIN_SEGMENTS = 64;
  /** Flows per segment aimed at: arrays of at most ~160 KB, never "humongous" for G1. */
  static final int FLOWS_PER_SEGMENT = 2048;
  static final int EVICT_SCAN = 64;

  // kinds
  public static final int SYN_SENT = 1;
  public static final int SYN_RECV = 2;
  public static final int ESTABLISHED = 3;
  public static final int FIN_WAIT = 4;
  public static final int LAST_ACK = 5;
  public static final int TIME_WAIT = 6;
  public static final int CLOSE = 7;
  public static final int UDP_UNREPLIED = 8;
  public static final int UDP_REPLIED = 9;
  public static final int ICMP = 10;
  public static final int OTHER_UNREPLIED = 11;
  public static final int OTHER_REPLIED = 12;

  private static final long S = 1_000_000_000L;
  /** Linux nf_conntrack defaults (tcp_timeout_*, udp_timeout[_stream], icmp, generic). */
  static final long[] TIMEOUT = {
      0, 120 * S, 60 * S, 432_000 * S, 120 * S, 30 * S, 120 * S, 10 * S,
      30 * S, 120 * S, 30 * S, 600 * S, 600 * S};

  static final int KIND_MASK = 0xF;
  static final int A_ORIG = 1 << 4;
  static final int ASSURED = 1 << 5;
  static final int ORIGIN_OUTBOUND = 1 << 6;
  static final int FIN_A = 1 << 7;
  static final int FIN_B = 1 << 8;
  /** Changed since last exported for replication (only assured flows are exported). */
  static final int DIRTY = 1 << 9;
  static final int USED = 1 << 31;
  /** Rules version of imported flows: never current, so the first packet re-checks them locally. */
  public static final int IMPORTED_VERSION = Integer.MIN_VALUE;

  /** Results of {@link #track}: the low byte; the admitting rule index + 1 sits above it. */
  public static final int MISS = 0;
  public static final int PASS = 1;
  public static final int INVALID = 2;
  public static final int REVOKED = 3;

  /** Re-checks a flow admitted by an older rule set; {@code orig} is the originator's view. */
  public interface Recheck {
    /** The index of the rule that still accepts the flow, or -1 to revoke it. */
    int recheck(Pkt orig);
  }

  private static final class Segment {
    final long[] key;
    final long[] expires;
    final int[] st;
    final int[] ver;
    final int[] rule;
    final int mask;
    final int limit;
    int count;
    int cursor;

    Segment(int capacity, int limit) {
      key = new long[capacity * 5];
      expires = new long[capacity];
      st = new int[capacity];
      ver = new int[capacity];
      rule = new int[capacity];
      mask = capacity - 1;
      this.limit = limit;
    }
  }

  private final Segment[] segs;
  private final int segShift;
  private final int maxFlows;
  private final long bytes;

  public ConnTrack(int maxFlows) {
    if (maxFlows < MIN_SEGMENTS) {
      throw new IllegalArgumentException("maxFlows must be >= " + MIN_SEGMENTS + ", got "
          + maxFlows);
    }
    this.maxFlows = maxFlows;
    int segments = MIN_SEGMENTS;
    while (segments < (1 << 16) && (long) segments * FLOWS_PER_SEGMENT < maxFlows) {
      segments <<= 1;
    }
    segs = new Segment[segments];
    segShift = 64 - Integer.numberOfTrailingZeros(segments);
    int limit = (maxFlows + segments - 1) / segments;
    int cap = Integer.highestOneBit(limit);
    if (cap < limit) {
      cap <<= 1;
    }
    if (limit > cap / 4 * 3) {
      cap <<= 1;
    }
    for (int i = 0; i < segments; i++) {
      segs[i] = new Segment(cap, limit);
    }
    bytes = (long) segments * cap * (5 * 8 + 8 + 3 * 4);
  }

  /** Bytes held by the flow arrays (fixed at construction). */
  public long tableBytes() {
    return bytes;
  }

  public int maxFlows() {
    return maxFlows;
  }

  // ------------------------------------------------------------------ keys

  /** Whether the packet's source is endpoint A (sorts first). */
  private static boolean srcIsA(Pkt p) {
    int c = Long.compareUnsigned(p.srcHi, p.dstHi);
    if (c == 0) {
      c = Long.compareUnsigned(p.srcLo, p.dstLo);
    }
    if (c == 0) {
      c = Integer.compare(portOf(p, true), portOf(p, false));
    }
    return c <= 0;
  }

  private static int portOf(Pkt p, boolean src) {
    if (p.sport < 0) {
      return p.isEcho() ? p.echoId() : 0;
    }
    return src ? p.sport : p.dport;
  }

  private static long meta(Pkt p, boolean aIsSrc) {
    int pa = portOf(p, aIsSrc);
    int pb = portOf(p, !aIsSrc);
    return ((long) pa << 48) | ((long) pb << 32) | ((long) (p.proto & 0xFF) << 24)
        | (p.version == 6 ? 1L << 23 : 0) | ((p.peer + 1) & 0x7FFFFF);
  }

  private static long hash(long k0, long k1, long k2, long k3, long m) {
    long h = m * 0x9E3779B97F4A7C15L;
    h = (h ^ k0) * 0xC2B2AE3D27D4EB4FL;
    h = (h ^ k1) * 0x9E3779B97F4A7C15L;
    h = (h ^ k2) * 0xC2B2AE3D27D4EB4FL;
    h = (h ^ k3) * 0x9E3779B97F4A7C15L;
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    return h ^ (h >>> 32);
  }

  private static int find(Segment s, long h, long k0, long k1, long k2, long k3, long m) {
    int i = (int) h & s.mask;
    while (true) {
      if (s.st[i] == 0) {
        return -1;
      }
      int b = i * 5;
      long[] k = s.key;
      if (k[b] == k0 && k[b + 1] == k1 && k[b + 2] == k2 && k[b + 3] == k3 && k[b + 4] == m) {
        return i;
      }
      i = (i + 1) & s.mask;
    }
  }

  private static void removeAt(Segment s, int i) {
    int j = i;
    while (true) {
      j = (j + 1) & s.mask;
      if (s.st[j] == 0) {
        break;
      }
      int b = j * 5;
      int home = (int) hash(s.key[b], s.key[b + 1], s.key[b + 2], s.key[b + 3], s.key[b + 4])
          & s.mask;
      boolean stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) {
        continue;
      }
      System.arraycopy(s.key, b, s.key, i * 5, 5);
      s.expires[i] = s.expires[j];
      s.st[i] = s.st[j];
      s.ver[i] = s.ver[j];
      s.rule[i] = s.rule[j];
      i = j;
    }
    s.st[i] = 0;
    s.count--;
  }

  // ------------------------------------------------------------------ operations

  /**
   * Looks the packet up and advances its flow. Returns {@link #MISS} (no flow, or a closed TCP
   * flow that a new SYN reopens), {@link #PASS}, {@link #INVALID} (flow exists, packet out of
   * step) or {@link #REVOKED} (flow admitted by an older rule set that no longer allows it; the
   * flow is gone), with {@code (ruleIndex + 1) << 8} added for PASS.
   */
  public int track(Pkt p, int rulesVersion, Recheck recheck, Pkt scratch) {
    boolean aSrc = srcIsA(p);
    long k0 = aSrc ? p.srcHi : p.dstHi;
    long k1 = aSrc ? p.srcLo : p.dstLo;
    long k2 = aSrc ? p.dstHi : p.srcHi;
    long k3 = aSrc ? p.dstLo : p.srcLo;
    long m = meta(p, aSrc);
    long h = hash(k0, k1, k2, k3, m);
    Segment s = segs[(int) (h >>> segShift)];
    synchronized (s) {
      int i = find(s, h, k0, k1, k2, k3, m);
      if (i < 0) {
        return MISS;
      }
      long now = p.now;
      int w = s.st[i];
      if (now - s.expires[i] >= 0) {
        removeAt(s, i);
        return MISS;
      }
      boolean fromOrig = ((w & A_ORIG) != 0) == aSrc;
      if (s.ver[i] != rulesVersion) {
        scratch.copyFrom(p);
        if (!fromOrig) {
          scratch.swap();
        }
        scratch.tcpFlags = IpPacket.TCP_SYN;
        scratch.state = 0; // NEW
        int r = recheck.recheck(scratch);
        if (r < 0) {
          removeAt(s, i);
          return REVOKED;
        }
        s.ver[i] = rulesVersion;
        s.rule[i] = r;
      }
      int kind = w & KIND_MASK;
      int next = kind;
      if (p.proto == IpPacket.PROTO_TCP) {
        int f = p.tcpFlags;
        boolean syn = (f & IpPacket.TCP_SYN) != 0;
        boolean ack = (f & IpPacket.TCP_ACK) != 0;
        boolean fin = (f & IpPacket.TCP_FIN) != 0;
        if ((f & IpPacket.TCP_RST) != 0) {
          next = CLOSE;
        } else {
          switch (kind) {
            case SYN_SENT:
              if (fromOrig && syn && !ack) {
                next = SYN_SENT;
              } else if (!fromOrig && syn && ack) {
                next = SYN_RECV;
              } else {
                return INVALID;
              }
              break;
            case SYN_RECV:
              if (fromOrig && ack && !syn) {
                next = ESTABLISHED;
                w |= ASSURED;
              } else if (!(syn && (ack != fromOrig))) {
                return INVALID; // only retransmitted SYN / SYN+ACK besides the final ACK
              }
              break;
            case ESTABLISHED:
            case FIN_WAIT:
              if (syn) {
                return INVALID;
              }
              if (fin) {
                w |= aSrc ? FIN_A : FIN_B;
                next = (w & (FIN_A | FIN_B)) == (FIN_A | FIN_B) ? LAST_ACK : FIN_WAIT;
              }
              break;
            case LAST_ACK:
              if (ack && !fin && !syn) {
                next = TIME_WAIT;
              }
              break;
            default: // TIME_WAIT, CLOSE
              if (fromOrig && syn && !ack) {
                removeAt(s, i);
                return MISS; // port reuse: a new connection
              }
              break;
          }
        }
      } else if (!fromOrig) {
        if (kind == UDP_UNREPLIED) {
          next = UDP_REPLIED;
          w |= ASSURED;
        } else if (kind == OTHER_UNREPLIED) {
          next = OTHER_REPLIED;
          w |= ASSURED;
        }
      }
      int nw = (w & ~KIND_MASK) | next;
      if ((nw & ~DIRTY) != (s.st[i] & ~DIRTY)) {
        nw |= DIRTY; // state moved on: the twin should learn it
      }
      s.st[i] = nw;
      s.expires[i] = now + TIMEOUT[next];
      return PASS | ((s.rule[i] + 1) << 8);
    }
  }

  /**
   * Starts tracking the flow of an accepted NEW packet. Returns false when its segment is full
   * of flows that may not be evicted.
   */
  public boolean insert(Pkt p, int rulesVersion, int rule) {
    boolean aSrc = srcIsA(p);
    long k0 = aSrc ? p.srcHi : p.dstHi;
    long k1 = aSrc ? p.srcLo : p.dstLo;
    long k2 = aSrc ? p.dstHi : p.srcHi;
    long k3 = aSrc ? p.dstLo : p.srcLo;
    long m = meta(p, aSrc);
    long h = hash(k0, k1, k2, k3, m);
    int kind;
    if (p.proto == IpPacket.PROTO_TCP) {
      kind = SYN_SENT;
    } else if (p.proto == IpPacket.PROTO_UDP) {
      kind = UDP_UNREPLIED;
    } else if (p.isEcho()) {
      kind = ICMP;
    } else {
      kind = OTHER_UNREPLIED;
    }
    int w = USED | DIRTY | kind | (aSrc ? A_ORIG : 0)
        | (p.dir == Direction.OUTBOUND ? ORIGIN_OUTBOUND : 0);
    Segment s = segs[(int) (h >>> segShift)];
    synchronized (s) {
      int i = findOrClaim(s, h, k0, k1, k2, k3, m, p.now);
      if (i < 0) {
        return false;
      }
      s.st[i] = w;
      s.ver[i] = rulesVersion;
      s.rule[i] = rule;
      s.expires[i] = p.now + TIMEOUT[kind];
      return true;
    }
  }

  /**
   * The flow's slot: its existing one, or a free one claimed for it (key written, state word
   * still 0 for the caller to fill), making room first if the segment is full. -1 if no room
   * can be made. Caller holds the segment's lock.
   */
  private static int findOrClaim(Segment s, long h, long k0, long k1, long k2, long k3, long m, long now) {
    int i = find(s, h, k0, k1, k2, k3, m);
    if (i >= 0) {
      return i;
    }
    if (s.count >= s.limit && !makeRoom(s, now)) {
      return -1;
    }
    i = (int) h & s.mask;
    while (s.st[i] != 0) {
      i = (i + 1) & s.mask;
    }
    s.count++;
    int b = i * 5;
    s.key[b] = k0;
    s.key[b + 1] = k1;
    s.key[b + 2] = k2;
    s.key[b + 3] = k3;
    s.key[b + 4] = m;
    return i;
  }

  /** Frees at least one slot: expired flows first, else the oldest unassured one nearby. */
  private static boolean makeRoom(Segment s, long now) {
    int victim = -1;
    long oldest = Long.MAX_VALUE;
    boolean freed = false;
    for (int n = 0; n < EVICT_SCAN; n++) {
      int i = s.cursor;
      s.cursor = (i + 1) & s.mask;
      int w = s.st[i];
      if (w == 0) {
        continue;
      }
      if (now - s.expires[i] >= 0) {
        removeAt(s, i);
        s.cursor = i; // backward shift may have moved a live entry here
        freed = true;
        victim = -1;
        continue;
      }
      // Unassured flows all started with the same timeout class: earliest expiry ~ oldest.
      if (!freed && (w & ASSURED) == 0 && s.expires[i] - oldest < 0) {
        oldest = s.expires[i];
        victim = i;
      }
    }
    if (freed) {
      return true;
    }
    if (victim < 0) {
      // Nothing nearby: one full pass for any unassured flow (rare: table full of assured).
      for (int i = 0; i <= s.mask; i++) {
        if (s.st[i] != 0 && (s.st[i] & ASSURED) == 0) {
          victim = i;
          break;
        }
      }
      if (victim < 0) {
        return false;
      }
    }
    removeAt(s, victim);
    return true;
  }

  /** Whether a live flow exists for the packet's tuple (either direction); no state change. */
  public boolean exists(Pkt p) {
    return peek(p) >= 0;
  }

  /**
   * The state word of the packet's flow (without the used bit), or -1 if none (or expired). No state change: for
   * explain and for ICMP errors.
   */
  public int peek(Pkt p) {
    boolean aSrc = srcIsA(p);
    long k0 = aSrc ? p.srcHi : p.dstHi;
    long k1 = aSrc ? p.srcLo : p.dstLo;
    long k2 = aSrc ? p.dstHi : p.srcHi;
    long k3 = aSrc ? p.dstLo : p.srcLo;
    long m = meta(p, aSrc);
    long h = hash(k0, k1, k2, k3, m);
    Segment s = segs[(int) (h >>> segShift)];
    synchronized (s) {
      int i = find(s, h, k0, k1, k2, k3, m);
      if (i < 0 || p.now - s.expires[i] >= 0) {
        return -1;
      }
      return s.st[i] & ~USED;
    }
  }

  // ------------------------------------------------------------------ replication

  private int exportSegment;
  private int exportSlot;

  /**
   * Hands at most {@code max} assured flows that changed since they were last exported to
   * {@code sink}, and clears their changed mark. Resumes where the previous call stopped, so a
   * bounded budget per call still reaches every segment. Returns how many were exported.
   */
  public synchronized int exportChanged(long now, io.dctun.firewall.FlowSink sink, int max) {
    int n = 0;
    for (int visited = 0; visited <= segs.length && n < max; visited++) {
      Segment s = segs[exportSegment];
      synchronized (s) {
        for (int i = exportSlot; i <= s.mask && n < max; i++) {
          int w = s.st[i];
          exportSlot = i + 1;
          if (w == 0 || (w & DIRTY) == 0 || (w & ASSURED) == 0 || now - s.expires[i] >= 0) {
            continue;
          }
          int b = i * 5;
          sink.flow(s.key[b], s.key[b + 1], s.key[b + 2], s.key[b + 3], s.key[b + 4], w & ~(USED | DIRTY),
              s.expires[i] - now);
          s.st[i] = w & ~DIRTY;
          n++;
        }
        if (exportSlot > s.mask) {
          exportSlot = 0;
          exportSegment = (exportSegment + 1) % segs.length;
        }
      }
    }
    return n;
  }

  /** Marks every flow changed, so the next exports send the whole table (a new twin appeared). */
  public void markAllChanged() {
    for (Segment s : segs) {
      synchronized (s) {
        for (int i = 0; i <= s.mask; i++) {
          if (s.st[i] != 0) {
            s.st[i] |= DIRTY;
          }
        }
      }
    }
  }

  /**
   * Installs or refreshes a flow exported by the HA twin. It is marked with
   * {@link #IMPORTED_VERSION}, so its first packet here is re-checked against this box's rules.
   * Returns false if the flow's segment is full of flows that may not be evicted.
   */
  public boolean importFlow(long k0, long k1, long k2, long k3, long m, int state, long remainingNanos, long now) {
    int kind = state & KIND_MASK;
    if (kind == 0 || kind >= TIMEOUT.length || remainingNanos <= 0) {
      return false;
    }
    long h = hash(k0, k1, k2, k3, m);
    Segment s = segs[(int) (h >>> segShift)];
    synchronized (s) {
      int i = findOrClaim(s, h, k0, k1, k2, k3, m, now);
      if (i < 0) {
        return false;
      }
      if (s.st[i] == 0) { // newly claimed
        s.ver[i] = IMPORTED_VERSION;
        s.rule[i] = -1;
      }
      s.st[i] = USED | (state & ~(USED | DIRTY));
      s.expires[i] = now + Math.min(remainingNanos, TIMEOUT[kind]);
      return true;
    }
  }

  /** Removes expired flows; returns how many. Call from a timer (e.g. once a second). */
  public int expire(long now) {
    int n = 0;
    for (Segment s : segs) {
      synchronized (s) {
        for (int i = 0; i <= s.mask; ) {
          if (s.st[i] != 0 && now - s.expires[i] >= 0) {
            removeAt(s, i);
            n++;
          } else {
            i++;
          }
        }
      }
    }
    return n;
  }

  /** Flows currently held (including expired ones not yet swept). */
  public int size() {
    int n = 0;
    for (Segment s : segs) {
      synchronized (s) {
        n += s.count;
      }
    }
    return n;
  }

  /** Flows that are assured (answered / handshake completed). */
  public int assuredCount() {
    int n = 0;
    for (Segment s : segs) {
      synchronized (s) {
        for (int w : s.st) {
          if (w != 0 && (w & ASSURED) != 0) {
            n++;
          }
        }
      }
    }
    return n;
  }

  public static String kindName(int stateWord) {
    String[] names = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "LAST_ACK",
        "TIME_WAIT", "CLOSE", "UDP_UNREPLIED", "UDP_REPLIED", "ICMP", "OTHER_UNREPLIED",
        "OTHER_REPLIED"};
    return names[stateWord & KIND_MASK];
  }
}
