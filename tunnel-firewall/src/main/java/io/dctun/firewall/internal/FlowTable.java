package io.dctun.firewall.internal;

import io.dctun.firewall.FlowSink;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The bounded table of flows: slots in primitive arrays, found by {@link FlowKey}, with a fixed
 * memory budget and an eviction policy. It stores what {@link ConnTrack} tells it and knows of
 * a flow's state word only the three bits below; what a packet does to a flow is not its concern.
 *
 * <pre>
 * per slot: 5 longs key + 1 long expiry + 3 ints (state word, rules version, rule index)
 *         = 60 bytes; capacity keeps load in (3/8, 3/4], so 80..160 bytes per allowed flow
 *         (120 with the defaults).
 * state word bits read here: USED (bit 31: the slot is taken, so a live word is never 0),
 *         ASSURED (never evicted; the only flows exported), DIRTY (changed since exported).
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
 * <p><b>Per-peer share</b> (issue 13: one peer's assured flows must not fill the table for all).
 * Every flow belongs to the tunnel peer in its key ({@link FlowKey}: the peer the packet came
 * from or went to), and the table counts the flows of each peer. A new flow of a peer that
 * already holds {@code peerLimit} flows first replaces one of that peer's own flows in the new
 * flow's segment (an expired one, else its oldest unassured one: the same early drop, confined to
 * the peer); if the peer has none there, the new flow is refused ({@link #PEER_FULL}). Assured
 * flows are still never evicted, for anyone; a full segment still evicts any peer's oldest
 * unassured flow, as above. So the peer at its share is the one that loses, and only new flows.
 * The count is reserved (compare-and-set) before the slot is claimed, so two threads claiming in
 * two segments never both take a share's last place.
 *
 * <pre>
 * peerFlows: one AtomicIntegerArray, shared by all segments, indexed by the key's peer field:
 *   [0] flows of no known peer | [1..peers] peer index + 1 | [last] any peer field beyond it
 * (an imported flow from a twin whose rule set has more peers). Changed only where a slot is
 * claimed or freed ({@link Segment#findOrClaim}, {@link Segment#removeAt}), so the counts are
 * the table's content by construction: sweeps, evictions and imports keep them right.
 * </pre>
 *
 * Flows imported from the HA twin are counted but not limited by the share: the master already
 * enforced it, and refusing them would cut at failover connections the master admitted.
 *
 * <p>Thread-safety: the per-slot operations ({@link Segment}) are called with the segment's
 * monitor held; the whole-table sweeps take each segment's monitor in turn.
 */
final class FlowTable {
  /** Fewest lock stripes; more for big tables so that each array stays small. */
  static final int MIN_SEGMENTS = 64;
  /** Flows per segment aimed at: arrays of at most ~160 KB, never "humongous" for G1. */
  static final int FLOWS_PER_SEGMENT = 2048;
  static final int EVICT_SCAN = 64;

  static final int ASSURED = 1 << 5;
  /** Changed since last exported for replication (only assured flows are exported). */
  static final int DIRTY = 1 << 9;
  static final int USED = 1 << 31;

  /** {@link Segment#findOrClaim} results besides a slot: no room in the segment. */
  static final int TABLE_FULL = -1;
  /** {@link Segment#findOrClaim}: the flow's peer holds its share, none of its flows could go. */
  static final int PEER_FULL = -2;
  /** A peer limit that never limits (imports, or one peer alone). */
  static final int NO_PEER_LIMIT = Integer.MAX_VALUE;

  /** The peerFlows index of a key's meta word (see the class comment). */
  static int peerBucket(long meta, int buckets) {
    int b = (int) (meta & 0x7FFFFF);
    return b < buckets - 1 ? b : buckets - 1;
  }

  /** One lock stripe: a small open-addressing table. Callers hold its monitor. */
  static final class Segment {
    final long[] key;
    final long[] expires;
    final int[] st;
    final int[] ver;
    final int[] rule;
    final int mask;
    final int limit;
    int count;
    int cursor;
    /** The table's per-peer counts (replaced, under this monitor, when the peers grow). */
    AtomicIntegerArray peerFlows;

    Segment(int capacity, int limit, AtomicIntegerArray peerFlows) {
      this.peerFlows = peerFlows;
      key = new long[capacity * 5];
      expires = new long[capacity];
      st = new int[capacity];
      ver = new int[capacity];
      rule = new int[capacity];
      mask = capacity - 1;
      this.limit = limit;
    }

    /** The slot holding {@code k}, or -1 (expired slots included). */
    int find(FlowKey k) {
      return find(k.hash, k.k0, k.k1, k.k2, k.k3, k.meta);
    }

    int find(long h, long k0, long k1, long k2, long k3, long m) {
      int i = (int) h & mask;
      while (true) {
        if (st[i] == 0) {
          return -1;
        }
        int b = i * 5;
        if (key[b] == k0 && key[b + 1] == k1 && key[b + 2] == k2 && key[b + 3] == k3
            && key[b + 4] == m) {
          return i;
        }
        i = (i + 1) & mask;
      }
    }

    /**
     * The key's slot: its existing one, or a free one claimed for it (key written, state word
     * still 0 for the caller to fill), making room first if the key's peer holds {@code
     * peerLimit} flows (one of its own, see {@link #peerVictim}) or the segment is full. {@link #PEER_FULL}
     * or {@link #TABLE_FULL} if no room can be made.
     */
    int findOrClaim(long h, long k0, long k1, long k2, long k3, long m, long now, int peerLimit) {
      int i = find(h, k0, k1, k2, k3, m);
      if (i >= 0) {
        return i;
      }
      AtomicIntegerArray pf = peerFlows;
      int pb = peerBucket(m, pf.length());
      // The count is taken before the slot (another segment's thread may be claiming for the
      // same peer), so two threads never both take the last place of a share.
      if (!reserve(pf, pb, peerLimit)) {
        int v = peerVictim(pb, now);
        if (v < 0) {
          return PEER_FULL;
        }
        pf.incrementAndGet(pb); // the new flow takes the victim's place in the count...
        removeAt(v); // ...which this gives back
      }
      if (count >= limit && !makeRoom(now)) {
        pf.decrementAndGet(pb);
        return TABLE_FULL;
      }
      i = (int) h & mask;
      while (st[i] != 0) {
        i = (i + 1) & mask;
      }
      count++;
      int b = i * 5;
      key[b] = k0;
      key[b + 1] = k1;
      key[b + 2] = k2;
      key[b + 3] = k3;
      key[b + 4] = m;
      return i;
    }

    /** Counts one more flow for peer bucket {@code pb} if it holds fewer than {@code max}. */
    private static boolean reserve(AtomicIntegerArray pf, int pb, int max) {
      while (true) {
        int c = pf.get(pb);
        if (c >= max) {
          return false;
        }
        if (pf.compareAndSet(pb, c, c + 1)) {
          return true;
        }
      }
    }

    /**
     * What {@link #findOrClaim} would return for the key at {@code now} (a slot, here 0, or
     * {@link #PEER_FULL} or {@link #TABLE_FULL}), changing nothing: a slot exactly when the key
     * is there, or its peer is under its limit or has a flow here {@link #peerVictim} would
     * free, and then the segment has room or {@link #makeRoom} would free one (an expired flow
     * in the scan window, or an unassured flow anywhere).
     */
    int wouldClaim(FlowKey k, long now, int peerLimit) {
      if (find(k) >= 0) {
        return 0;
      }
      AtomicIntegerArray pf = peerFlows;
      int pb = peerBucket(k.meta, pf.length());
      if (pf.get(pb) >= peerLimit) {
        return peerVictim(pb, now) >= 0 ? 0 : PEER_FULL; // and freeing it makes room here
      }
      if (count < limit) {
        return 0;
      }
      for (int n = 0, i = cursor; n < EVICT_SCAN; n++, i = (i + 1) & mask) {
        if (st[i] != 0 && now - expires[i] >= 0) {
          return 0;
        }
      }
      for (int i = 0; i <= mask; i++) {
        if (st[i] != 0 && (st[i] & ASSURED) == 0) {
          return 0;
        }
      }
      return TABLE_FULL;
    }

    /**
     * The slot of the flow of peer bucket {@code pb} that a new flow of that peer over its share
     * replaces: an expired one, else the unassured one that expires first; -1 if the peer has
     * neither in this segment. One pass over the segment (reading the key only of candidates),
     * paid only by a peer at its share.
     */
    private int peerVictim(int pb, long now) {
      int victim = -1;
      long oldest = Long.MAX_VALUE;
      int buckets = peerFlows.length();
      for (int i = 0; i <= mask; i++) {
        int w = st[i];
        if (w == 0) {
          continue;
        }
        boolean expired = now - expires[i] >= 0;
        if (!expired && ((w & ASSURED) != 0 || expires[i] - oldest >= 0)) {
          continue;
        }
        if (peerBucket(key[i * 5 + 4], buckets) != pb) {
          continue;
        }
        if (expired) {
          return i;
        }
        oldest = expires[i];
        victim = i;
      }
      return victim;
    }


    void removeAt(int i) {
      AtomicIntegerArray pf = peerFlows;
      pf.decrementAndGet(peerBucket(key[i * 5 + 4], pf.length()));
      int j = i;
      while (true) {
        j = (j + 1) & mask;
        if (st[j] == 0) {
          break;
        }
        int b = j * 5;
        int home = (int) FlowKey.hash(key[b], key[b + 1], key[b + 2], key[b + 3], key[b + 4])
            & mask;
        boolean stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) {
          continue;
        }
        System.arraycopy(key, b, key, i * 5, 5);
        expires[i] = expires[j];
        st[i] = st[j];
        ver[i] = ver[j];
        rule[i] = rule[j];
        i = j;
      }
      st[i] = 0;
      count--;
    }

    /** Frees at least one slot: expired flows first, else the oldest unassured one nearby. */
    private boolean makeRoom(long now) {
      int victim = -1;
      long oldest = Long.MAX_VALUE;
      boolean freed = false;
      for (int n = 0; n < EVICT_SCAN; n++) {
        int i = cursor;
        cursor = (i + 1) & mask;
        int w = st[i];
        if (w == 0) {
          continue;
        }
        if (now - expires[i] >= 0) {
          removeAt(i);
          cursor = i; // backward shift may have moved a live entry here
          freed = true;
          victim = -1;
          continue;
        }
        // Unassured flows all started with the same timeout class: earliest expiry ~ oldest.
        if (!freed && (w & ASSURED) == 0 && expires[i] - oldest < 0) {
          oldest = expires[i];
          victim = i;
        }
      }
      if (freed) {
        return true;
      }
      if (victim < 0) {
        // Nothing nearby: one full pass for any unassured flow (rare: table full of assured).
        for (int i = 0; i <= mask; i++) {
          if (st[i] != 0 && (st[i] & ASSURED) == 0) {
            victim = i;
            break;
          }
        }
        if (victim < 0) {
          return false;
        }
      }
      removeAt(victim);
      return true;
    }
  }

  private final Segment[] segs;
  private final int segShift;
  private final int maxFlows;
  private final long bytes;
  /** The counts all segments share; replaced by {@link #resizePeers}. */
  private volatile AtomicIntegerArray peerFlows;
  /** Flows a peer may hold before its new flows must replace its own ({@link #PEER_FULL}). */
  private volatile int peerLimit = NO_PEER_LIMIT;

  FlowTable(int maxFlows) {
    this(maxFlows, 0);
  }

  /** A table for {@code peers} known peers (more later by {@link #resizePeers}). */
  FlowTable(int maxFlows, int peers) {
    if (maxFlows < MIN_SEGMENTS) {
      throw new IllegalArgumentException("maxFlows must be >= " + MIN_SEGMENTS + ", got "
          + maxFlows);
    }
    this.maxFlows = maxFlows;
    peerFlows = new AtomicIntegerArray(peers + 2);
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
      segs[i] = new Segment(cap, limit, peerFlows);
    }
    bytes = (long) segments * cap * (5 * 8 + 8 + 3 * 4);
  }

  /** Peers the counts make room for (see {@link #resizePeers}). */
  int peerCapacity() {
    return peerFlows.length() - 2;
  }

  /** Runs {@code body} holding every segment's monitor, taken in index order (so never deadlocking). */
  void withAllLocked(Runnable body) {
    lockFrom(0, body);
  }

  private void lockFrom(int i, Runnable body) {
    if (i == segs.length) {
      body.run();
      return;
    }
    synchronized (segs[i]) {
      lockFrom(i + 1, body);
    }
  }

  /**
   * Copies every live flow into {@code dst}, a table no other thread sees yet, as {@link
   * Segment#findOrClaim} would take it (in a smaller table an unassured flow may be evicted for
   * room, as under pressure). Returns the number of flows that found no room (assured flows in a
   * full segment): the caller then discards {@code dst}. Call within {@link #withAllLocked}.
   */
  int copyInto(FlowTable dst, long now) {
    int lost = 0;
    for (Segment s : segs) {
      for (int i = 0; i <= s.mask; i++) {
        if (s.st[i] == 0 || now - s.expires[i] >= 0) {
          continue;
        }
        int b = i * 5;
        long k0 = s.key[b];
        long k1 = s.key[b + 1];
        long k2 = s.key[b + 2];
        long k3 = s.key[b + 3];
        long m = s.key[b + 4];
        long h = FlowKey.hash(k0, k1, k2, k3, m);
        Segment d = dst.segment(h);
        int j = d.findOrClaim(h, k0, k1, k2, k3, m, now, NO_PEER_LIMIT);
        if (j < 0) {
          lost++;
          continue;
        }
        d.st[j] = s.st[i];
        d.ver[j] = s.ver[i];
        d.rule[j] = s.rule[i];
        d.expires[j] = s.expires[i];
      }
    }
    return lost;
  }

  /** The segment (and lock stripe) of a key with hash {@code h}. */
  Segment segment(long h) {
    return segs[(int) (h >>> segShift)];
  }

  long tableBytes() {
    return bytes;
  }

  int maxFlows() {
    return maxFlows;
  }

  /** The limit {@link Segment#findOrClaim} applies: {@link #NO_PEER_LIMIT} for the whole table. */
  int claimLimit() {
    return peerLimit;
  }

  /** Flows one peer may hold (the whole table when unlimited). */
  int peerLimit() {
    return Math.min(peerLimit, maxFlows);
  }

  /**
   * Sets the per-peer limit; existing flows stay. A limit of the whole table or more is none: a
   * table full of one peer's flows is then full ({@link #TABLE_FULL}), as without shares.
   */
  void setPeerLimit(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("peer limit must be >= 1, got " + n);
    }
    peerLimit = n >= maxFlows ? NO_PEER_LIMIT : n;
  }

  /** Flows held by peer {@code peer} (its rule-set index; -1: flows of no known peer). */
  int peerFlows(int peer) {
    AtomicIntegerArray pf = peerFlows;
    return pf.get(Math.min(peer + 1, pf.length() - 1));
  }

  /**
   * Makes room in the counts for {@code peers} known peers (a rule set with more peers was
   * installed). Each segment in turn, under its monitor, recounts its flows into the new array
   * and switches to it; so the counts stay exact, and only while the sweep runs does a segment
   * not yet switched check against the old array (new peers share its overflow bucket). Callers
   * serialize resizes (Firewall.install is synchronized).
   */
  void resizePeers(int peers) {
    if (peers + 2 <= peerFlows.length()) {
      return;
    }
    AtomicIntegerArray next = new AtomicIntegerArray(peers + 2);
    int buckets = next.length();
    for (Segment s : segs) {
      synchronized (s) {
        for (int i = 0; i <= s.mask; i++) {
          if (s.st[i] != 0) {
            next.incrementAndGet(peerBucket(s.key[i * 5 + 4], buckets));
          }
        }
        s.peerFlows = next;
      }
    }
    peerFlows = next;
  }

  private int exportSegment;
  private int exportSlot;

  /**
   * Hands at most {@code max} live assured flows that changed since they were last exported to
   * {@code sink} (state word without USED and DIRTY), and clears their changed mark. Resumes
   * where the previous call stopped, so a bounded budget per call still reaches every segment.
   */
  synchronized int exportChanged(long now, FlowSink sink, int max) {
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
          sink.flow(s.key[b], s.key[b + 1], s.key[b + 2], s.key[b + 3], s.key[b + 4],
              w & ~(USED | DIRTY), s.expires[i] - now);
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

  void markAllChanged() {
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

  int expire(long now) {
    int n = 0;
    for (Segment s : segs) {
      synchronized (s) {
        for (int i = 0; i <= s.mask; ) {
          if (s.st[i] != 0 && now - s.expires[i] >= 0) {
            s.removeAt(i);
            n++;
          } else {
            i++;
          }
        }
      }
    }
    return n;
  }

  int size() {
    int n = 0;
    for (Segment s : segs) {
      synchronized (s) {
        n += s.count;
      }
    }
    return n;
  }

  int assuredCount() {
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
}
