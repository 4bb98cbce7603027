package io.dctun.firewall.internal;

import io.dctun.core.packet.IpPacket;
import io.dctun.firewall.Direction;
import io.dctun.firewall.FlowSink;

/**
 * Connection tracking: what a packet does to its flow. Sans-I/O (time is passed in as
 * nanoseconds; nothing runs in the background; {@link #expire} sweeps when called). The flows
 * live in a {@link FlowTable}, found by their {@link FlowKey}; TCP moves through
 * {@link TcpTracker}; this class holds the rest: the state word, the timeouts, UDP and ICMP
 * "replied", the rules version a flow was admitted under, and the HA export and import.
 *
 * <pre>
 * state word: kind:4 | A-is-originator:1 | assured:1 | origin-direction:1 | finA:1 | finB:1 |
 *             dirty:1 | ... | used:1 (bit 31)
 *   kind 1..7 are TcpTracker's TCP states, 8..12 UDP, ICMP echo and other protocols;
 *   A is the key's first endpoint (FlowKey); finA/finB: a FIN seen from A / from B.
 * </pre>
 *
 * The word travels to the HA twin as it is (without used and dirty), so its layout is a wire
 * format between two versions of this code during an upgrade.
 *
 * <p>Every operation that a packet drives can run <em>dry</em> ({@code commit == false}): the
 * same code decides, and nothing is written (no state, timer, rules version or eviction). That
 * is how {@code Firewall.explain} gives the data path's answer without changing the table.
 *
 * <p>Thread-safety: any thread; each operation holds its flow's segment lock.
 */
public final class ConnTrack {
  /** Fewest lock stripes; more for big tables so that each array stays small. */
  public static final int MIN_SEGMENTS = FlowTable.MIN_SEGMENTS;

  // kinds
  public static final int SYN_SENT = TcpTracker.SYN_SENT;
  public static final int SYN_RECV = TcpTracker.SYN_RECV;
  public static final int ESTABLISHED = TcpTracker.ESTABLISHED;
  public static final int FIN_WAIT = TcpTracker.FIN_WAIT;
  public static final int LAST_ACK = TcpTracker.LAST_ACK;
  public static final int TIME_WAIT = TcpTracker.TIME_WAIT;
  public static final int CLOSE = TcpTracker.CLOSE;
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
  static final int ASSURED = FlowTable.ASSURED;
  static final int ORIGIN_OUTBOUND = 1 << 6;
  static final int FIN_A = 1 << 7;
  static final int FIN_B = 1 << 8;
  static final int DIRTY = FlowTable.DIRTY;
  static final int USED = FlowTable.USED;
  /** Rules version of imported flows: never current, so the first packet re-checks them locally. */
  public static final int IMPORTED_VERSION = Integer.MIN_VALUE;

  /** Results of {@link #track}: the low byte; the admitting rule index + 1 sits above it. */
  public static final int MISS = 0;
  public static final int PASS = 1;
  public static final int INVALID = 2;
  public static final int REVOKED = 3;

  /** Results of {@link #insert}: tracked; no room in the table; the peer holds its share. */
  public static final int INSERTED = 0;
  public static final int TABLE_FULL = FlowTable.TABLE_FULL;
  public static final int PEER_FULL = FlowTable.PEER_FULL;
  /** {@link #setPeerLimit} value that leaves peers unlimited (only the table bounds them). */
  public static final int NO_PEER_LIMIT = FlowTable.NO_PEER_LIMIT;

  /** Re-checks a flow admitted by an older rule set; {@code orig} is the originator's view. */
  public interface Recheck {
    /** The index of the rule that still accepts the flow, or -1 to revoke it. */
    int recheck(Pkt orig);
  }

  /** Replaced whole by {@link #resize}; a packet that locked a segment of a replaced table retries. */
  private volatile FlowTable table;

  public ConnTrack(int maxFlows) {
    table = new FlowTable(maxFlows);
  }

  /** A table that counts the flows of {@code peers} known peers apart (see {@link #peerFlows}). */
  public ConnTrack(int maxFlows, int peers) {
    table = new FlowTable(maxFlows, peers);
  }

  /** Bytes held by the flow arrays (fixed at construction). */
  public long tableBytes() {
    return table.tableBytes();
  }

  public int maxFlows() {
    return table.maxFlows();
  }

  /** Flows one peer may hold; beyond, its new flows replace its own or are refused. */
  public int peerLimit() {
    return table.peerLimit();
  }

  /** Sets {@link #peerLimit} (at least 1); flows already held stay, over the limit or not. */
  public void setPeerLimit(int n) {
    table.setPeerLimit(n);
  }

  /** Flows held by peer index {@code peer} (-1: flows of packets from no known peer). */
  public int peerFlows(int peer) {
    return table.peerFlows(peer);
  }

  /**
   * Gives the table room for {@code maxFlows} flows (a reload changed {@code max-flows}): a new
   * table is filled with every live flow while all segments of the old one are locked (packets
   * wait for that copy, a few milliseconds per hundred thousand flows), then takes its place; a
   * packet that was waiting on an old segment retries on the new table. Shrinking may evict
   * unassured flows, as a full table does; if an assured flow finds no room, nothing changes.
   * Callers serialize resizes (Firewall's synchronized methods).
   *
   * @return 0 if resized; else the number of assured flows that would not fit (the table is
   *     unchanged)
   */
  public int resize(int maxFlows, long now) {
    FlowTable old = table;
    if (maxFlows == old.maxFlows()) {
      return 0;
    }
    FlowTable next = new FlowTable(maxFlows, old.peerCapacity());
    int[] lost = {0};
    old.withAllLocked(() -> {
      lost[0] = old.copyInto(next, now);
      if (lost[0] == 0) {
        next.setPeerLimit(old.claimLimit() == NO_PEER_LIMIT ? NO_PEER_LIMIT : old.claimLimit());
        table = next; // under every old lock: no packet is inside the old table now
      }
    });
    return lost[0];
  }

  /** Makes the per-peer counts cover {@code peers} known peers; rarely (a rule-set install). */
  public void resizePeers(int peers) {
    table.resizePeers(peers);
  }

  // ------------------------------------------------------------------ packets

  /**
   * Looks the packet up and advances its flow. Returns {@link #MISS} (no flow, or a closed TCP
   * flow that a new SYN reopens), {@link #PASS}, {@link #INVALID} (flow exists, packet out of
   * step) or {@link #REVOKED} (flow admitted by an older rule set that no longer allows it; the
   * flow is gone), with {@code (ruleIndex + 1) << 8} added for PASS. Dry when {@code !commit}.
   */
  public int track(Pkt p, int rulesVersion, Recheck recheck, Pkt scratch, boolean commit) {
    FlowKey k = FlowKey.of(p);
    for (;;) {
      FlowTable t = table;
      FlowTable.Segment s = t.segment(k.hash);
      synchronized (s) {
        if (t != table) {
          continue; // resized while we waited for the lock: this table is retired
        }
        return track(s, k, p, rulesVersion, recheck, scratch, commit);
      }
    }
  }

  /** {@link #track} with the segment's monitor held. */
  private int track(FlowTable.Segment s, FlowKey k, Pkt p, int rulesVersion, Recheck recheck, Pkt scratch,
      boolean commit) {
    int i = s.find(k);
    if (i < 0) {
      return MISS;
    }
    long now = p.now;
    int w = s.st[i];
    if (now - s.expires[i] >= 0) {
      if (commit) {
        s.removeAt(i);
      }
      return MISS;
    }
    boolean aOrig = (w & A_ORIG) != 0;
    boolean fromOrig = aOrig == k.srcIsA;
    int rule = s.rule[i];
    if (s.ver[i] != rulesVersion) {
      scratch.copyFrom(p);
      if (!fromOrig) {
        scratch.swap();
      }
      scratch.tcpFlags = IpPacket.TCP_SYN;
      scratch.state = 0; // NEW
      rule = recheck.recheck(scratch);
      if (rule < 0) {
        if (commit) {
          s.removeAt(i);
        }
        return REVOKED;
      }
      if (commit) {
        s.ver[i] = rulesVersion;
        s.rule[i] = rule;
      }
    }
    int kind = w & KIND_MASK;
    int next = kind;
    if (p.proto == IpPacket.PROTO_TCP) {
      int t = TcpTracker.next(kind | finsOf(w, aOrig), fromOrig, p.tcpFlags);
      if (t == TcpTracker.INVALID) {
        return INVALID;
      }
      if (t == TcpTracker.REOPEN) {
        if (commit) {
          s.removeAt(i);
        }
        return MISS; // port reuse: a new connection
      }
      next = t & TcpTracker.KIND_MASK;
      if (kind == SYN_RECV && next == ESTABLISHED) {
        w |= ASSURED;
      }
      w = (w & ~(FIN_A | FIN_B)) | finBits(t, aOrig);
    } else if (!fromOrig) {
      if (kind == UDP_UNREPLIED) {
        next = UDP_REPLIED;
        w |= ASSURED;
      } else if (kind == OTHER_UNREPLIED) {
        next = OTHER_REPLIED;
        w |= ASSURED;
      }
    }
    if (commit) {
      int nw = (w & ~KIND_MASK) | next;
      if ((nw & ~DIRTY) != (s.st[i] & ~DIRTY)) {
        nw |= DIRTY; // state moved on: the twin should learn it
      }
      s.st[i] = nw;
      s.expires[i] = now + TIMEOUT[next];
    }
    return PASS | ((rule + 1) << 8);
  }

  /** The state word's FIN bits (per endpoint) as TcpTracker's (per originator/responder). */
  private static int finsOf(int w, boolean aOrig) {
    int a = (w & FIN_A) != 0 ? 1 : 0;
    int b = (w & FIN_B) != 0 ? 1 : 0;
    int orig = aOrig ? a : b;
    int resp = aOrig ? b : a;
    return (orig != 0 ? TcpTracker.FIN_ORIGINATOR : 0) | (resp != 0 ? TcpTracker.FIN_RESPONDER : 0);
  }

  /** TcpTracker's FIN bits back to the state word's. */
  private static int finBits(int t, boolean aOrig) {
    boolean orig = (t & TcpTracker.FIN_ORIGINATOR) != 0;
    boolean resp = (t & TcpTracker.FIN_RESPONDER) != 0;
    boolean a = aOrig ? orig : resp;
    boolean b = aOrig ? resp : orig;
    return (a ? FIN_A : 0) | (b ? FIN_B : 0);
  }

  /**
   * Starts tracking the flow of an accepted NEW packet. Returns {@link #INSERTED}, {@link
   * #PEER_FULL} when the packet's peer holds its share and none of its own flows could make room
   * (see FlowTable), or {@link #TABLE_FULL} when its segment is full of flows that may not be
   * evicted. Dry when {@code !commit}: what would happen, changing nothing.
   */
  public int insert(Pkt p, int rulesVersion, int rule, boolean commit) {
    FlowKey k = FlowKey.of(p);
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
    int w = USED | DIRTY | kind | (k.srcIsA ? A_ORIG : 0)
        | (p.dir == Direction.OUTBOUND ? ORIGIN_OUTBOUND : 0);
    for (;;) {
      FlowTable t = table;
      FlowTable.Segment s = t.segment(k.hash);
      synchronized (s) {
        if (t != table) {
          continue; // resized meanwhile: retry on the new table
        }
        return insert(t, s, k, w, p, rulesVersion, rule, commit);
      }
    }
  }

  private static int insert(FlowTable t, FlowTable.Segment s, FlowKey k, int w, Pkt p, int rulesVersion, int rule,
      boolean commit) {
    int limit = t.claimLimit();
    if (!commit) {
      int c = s.wouldClaim(k, p.now, limit);
      return c < 0 ? c : INSERTED;
    }
    int i = s.findOrClaim(k.hash, k.k0, k.k1, k.k2, k.k3, k.meta, p.now, limit);
    if (i < 0) {
      return i;
    }
    s.st[i] = w;
    s.ver[i] = rulesVersion;
    s.rule[i] = rule;
    s.expires[i] = p.now + TIMEOUT[w & KIND_MASK];
    return INSERTED;
  }

  /** Whether a live flow exists for the packet's tuple (either direction); no state change. */
  public boolean exists(Pkt p) {
    return peek(p) >= 0;
  }

  /**
   * The state word of the packet's flow (without the used bit), or -1 if none (or expired). No
   * state change: for explain and for ICMP errors.
   */
  public int peek(Pkt p) {
    FlowKey k = FlowKey.of(p);
    for (;;) {
      FlowTable t = table;
      FlowTable.Segment s = t.segment(k.hash);
      synchronized (s) {
        if (t != table) {
          continue;
        }
        int i = s.find(k);
        if (i < 0 || p.now - s.expires[i] >= 0) {
          return -1;
        }
        return s.st[i] & ~USED;
      }
    }
  }

  // ------------------------------------------------------------------ replication

  /**
   * Hands at most {@code max} assured flows that changed since they were last exported to
   * {@code sink}, and clears their changed mark. Resumes where the previous call stopped, so a
   * bounded budget per call still reaches every segment. Returns how many were exported.
   */
  public int exportChanged(long now, FlowSink sink, int max) {
    return table.exportChanged(now, sink, max);
  }

  /** Marks every flow changed, so the next exports send the whole table (a new twin appeared). */
  public void markAllChanged() {
    table.markAllChanged();
  }

  /**
   * Installs or refreshes a flow exported by the HA twin. It is marked with
   * {@link #IMPORTED_VERSION}, so its first packet here is re-checked against this box's rules.
   * Returns false if the flow's segment is full of flows that may not be evicted. It counts
   * toward its peer's share (the peer is in the key) but is never refused for it: the master
   * enforced the share, and a failover must keep what the master admitted.
   */
  public boolean importFlow(long k0, long k1, long k2, long k3, long m, int state,
      long remainingNanos, long now) {
    int kind = state & KIND_MASK;
    if (kind == 0 || kind >= TIMEOUT.length || remainingNanos <= 0) {
      return false;
    }
    long h = FlowKey.hash(k0, k1, k2, k3, m);
    for (;;) {
      FlowTable t = table;
      FlowTable.Segment s = t.segment(h);
      synchronized (s) {
        if (t != table) {
          continue;
        }
        int i = s.findOrClaim(h, k0, k1, k2, k3, m, now, NO_PEER_LIMIT);
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
  }

  // ------------------------------------------------------------------ the whole table

  /** Removes expired flows; returns how many. Call from a timer (e.g. once a second). */
  public int expire(long now) {
    return table.expire(now);
  }

  /** Flows currently held (including expired ones not yet swept). */
  public int size() {
    return table.size();
  }

  /** Flows that are assured (answered / handshake completed). */
  public int assuredCount() {
    return table.assuredCount();
  }

  public static String kindName(int stateWord) {
    String[] names = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "LAST_ACK",
        "TIME_WAIT", "CLOSE", "UDP_UNREPLIED", "UDP_REPLIED", "ICMP", "OTHER_UNREPLIED",
        "OTHER_REPLIED"};
    return names[stateWord & KIND_MASK];
  }
}
