package io.dctun.firewall.internal;

import io.dctun.firewall.FlowSink;

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

    Segment(int capacity, int limit) {
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
     * still 0 for the caller to fill), making room first if the segment is full. -1 if no room
     * can be made.
     */
    int findOrClaim(long h, long k0, long k1, long k2, long k3, long m, long now) {
      int i = find(h, k0, k1, k2, k3, m);
      if (i >= 0) {
        return i;
      }
      if (count >= limit && !makeRoom(now)) {
        return -1;
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

    /**
     * Whether {@link #findOrClaim} would find a slot for the key at {@code now}, changing
     * nothing: it does exactly when the key is there, there is room, or {@link #makeRoom} would
     * free one (an expired flow in the scan window, or an unassured flow anywhere).
     */
    boolean wouldClaim(FlowKey k, long now) {
      if (find(k) >= 0 || count < limit) {
        return true;
      }
      for (int n = 0, i = cursor; n < EVICT_SCAN; n++, i = (i + 1) & mask) {
        if (st[i] != 0 && now - expires[i] >= 0) {
          return true;
        }
      }
      for (int i = 0; i <= mask; i++) {
        if (st[i] != 0 && (st[i] & ASSURED) == 0) {
          return true;
        }
      }
      return false;
    }

    void removeAt(int i) {
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

  FlowTable(int maxFlows) {
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
