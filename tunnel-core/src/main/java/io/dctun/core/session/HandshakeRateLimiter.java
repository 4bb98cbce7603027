package io.dctun.core.session;

import java.util.SplittableRandom;

/**
 * A token bucket per source address for handshake messages, as wireguard-go's {@code ratelimiter}
 * keeps one: the device consults it only under load and only after a message's cookie (mac2)
 * proved that its sender really receives at that address, so a flood from one address (or one
 * IPv6 /64) cannot take the handshake work from everyone else.
 *
 * <pre>
 *   per source: at most RATE messages/s, BURST of them at once
 *   tokens are nanoseconds:  cost of one message = 1e9 / RATE,   bucket holds BURST * cost
 *   allow(source, now):      tokens += now - last (up to the bucket);  tokens >= cost ? tokens -= cost, yes : no
 *   source key:              IPv4: the 32-bit address          IPv6: the first 64 bits (the /64)
 *   penalize(source, now):   tokens = -5 s  (its handshake failed after all: next try in ~5 s)
 * </pre>
 *
 * <p><b>Bounded memory.</b> The buckets live in one fixed table allocated up front ({@code
 * capacity} slots, a power of two, 25 bytes each); it never grows with the number of sources. A
 * source is hashed (with a per-instance random seed, so an outsider cannot aim collisions at a
 * chosen victim) to a window of {@link #PROBES} neighbouring slots. A bucket that has refilled
 * completely is worth nothing (a new source starts with a full bucket anyway), so its slot is free
 * again: this is wireguard-go's once-a-second sweep of idle entries, done lazily. Only when all
 * {@link #PROBES} slots hold buckets still refilling is the one touched longest ago evicted
 * ({@link #evictions()} counts it); its source then starts again with a full bucket, which
 * happens only when many sources are each sending within the same quarter second (a window can
 * fill before the table does: keep the table a few times larger than the sources expected).
 *
 * <p>Sans-I/O: time is passed in. Allocation-free per call. Thread-safe (one lock; the
 * handshake path that calls it does a Diffie-Hellman per message it allows, which costs far
 * more than the lock).
 */
public final class HandshakeRateLimiter {
  /** Handshake messages per second one source may send under load (wireguard-go: 20). */
  public static final int RATE = 20;
  /** How many of them may come at once (wireguard-go: 5). */
  public static final int BURST = 5;
  /** The default number of slots: sources each sending within the same quarter second. */
  public static final int DEFAULT_CAPACITY = 8192;
  /** Slots looked at for one source. */
  public static final int PROBES = 8;

  /** What a source whose handshake failed owes (see {@link #penalize}). */
  public static final long PENALTY_NANOS = 5_000_000_000L;

  private static final long COST = 1_000_000_000L / RATE;
  private static final long BUCKET = COST * BURST;
  private static final byte EMPTY = 0;
  private static final byte IPV4 = 4;
  private static final byte IPV6 = 6;

  private final int mask;
  private final long seed;
  private final long[] keys;
  private final byte[] families;
  private final long[] tokens;
  private final long[] lastNanos;
  private long evictions;
  private long limited;
  private long penalties;

  public HandshakeRateLimiter() {
    this(DEFAULT_CAPACITY, new SplittableRandom().nextLong());
  }

  /** @param capacity slots, a power of two from {@link #PROBES} up; @param seed the hash seed */
  public HandshakeRateLimiter(int capacity, long seed) {
    if (capacity < PROBES || Integer.bitCount(capacity) != 1 || capacity > 1 << 24) {
      throw new IllegalArgumentException("capacity must be a power of two from " + PROBES + " to 2^24, got " + capacity);
    }
    this.mask = capacity - 1;
    this.seed = seed;
    this.keys = new long[capacity];
    this.families = new byte[capacity];
    this.tokens = new long[capacity];
    this.lastNanos = new long[capacity];
  }

  /** The number of slots (fixed). */
  public int capacity() {
    return keys.length;
  }

  /**
   * May one more handshake message from this source be processed now? {@code src[off..off+len)}
   * is the source as {@link io.dctun.core.transport.Endpoint#cookieSource()} gives it: a 4-byte
   * IPv4 or 16-byte IPv6 address, optionally followed by the 2-byte port (ignored: one host,
   * one bucket). Any other length is refused (false).
   */
  public boolean allow(byte[] src, int off, int len, long nowNanos) {
    if (len == 4 || len == 6) {
      return allow(IPV4, readInt(src, off) & 0xffffffffL, nowNanos);
    }
    if (len == 16 || len == 18) {
      long prefix64 = ((long) readInt(src, off) << 32) | (readInt(src, off + 4) & 0xffffffffL);
      return allow(IPV6, prefix64, nowNanos);
    }
    return false;
  }

  /** As {@link #allow(byte[], int, int, long)} for an IPv4 address given as an int. */
  public boolean allowIpv4(int address, long nowNanos) {
    return allow(IPV4, address & 0xffffffffL, nowNanos);
  }

  /** As {@link #allow(byte[], int, int, long)} for an IPv6 address given by its first 64 bits. */
  public boolean allowIpv6Prefix(long first64Bits, long nowNanos) {
    return allow(IPV6, first64Bits, nowNanos);
  }

  /** Buckets evicted while still refilling because their window was full of live ones. */
  public synchronized long evictions() {
    return evictions;
  }

  /** Messages refused. */
  public synchronized long limited() {
    return limited;
  }

  /** Slots holding a bucket still refilling at {@code nowNanos} (a scan of the table; for status and tests). */
  public synchronized int live(long nowNanos) {
    int n = 0;
    for (int i = 0; i < keys.length; i++) {
      if (families[i] != EMPTY && !refilled(i, nowNanos)) {
        n++;
      }
    }
    return n;
  }

  private synchronized boolean allow(byte family, long key, long now) {
    return take(locate(family, key, now), now);
  }

  /**
   * A source whose handshake, after a valid cookie and its share of the rate, still came to
   * nothing (it decrypts to no peer of ours: garbage, or a key we do not know): its bucket is
   * emptied and owes {@link #PENALTY_NANOS} more, so it gets one more try in about 5 s (a genuine
   * initiator's retry interval, REKEY_TIMEOUT) instead of 20 a second. Without this, every
   * cookie-holding source may make us do 20 Diffie-Hellmans a second: with a few hundred
   * addresses that is more than a core.
   */
  public boolean penalize(byte[] src, int off, int len, long nowNanos) {
    byte family;
    long key;
    if (len == 4 || len == 6) {
      family = IPV4;
      key = readInt(src, off) & 0xffffffffL;
    } else if (len == 16 || len == 18) {
      family = IPV6;
      key = ((long) readInt(src, off) << 32) | (readInt(src, off + 4) & 0xffffffffL);
    } else {
      return false;
    }
    synchronized (this) {
      int i = locate(family, key, nowNanos);
      tokens[i] = -PENALTY_NANOS;
      lastNanos[i] = nowNanos;
      penalties++;
    }
    return true;
  }

  /** Sources penalised so far. */
  public synchronized long penalties() {
    return penalties;
  }

  /** The slot of this source, taking a free, refilled or (last) the oldest slot with a full bucket if it has none. */
  private int locate(byte family, long key, long now) {
    int home = (int) mix(key ^ seed ^ ((long) family << 59)) & mask;
    int free = -1;
    int oldest = -1;
    for (int p = 0; p < PROBES; p++) {
      int i = (home + p) & mask;
      byte f = families[i];
      if (f == family && keys[i] == key) {
        return i;
      }
      if (f == EMPTY || refilled(i, now)) {
        if (free < 0) {
          free = i;
        }
      } else if (oldest < 0 || lastNanos[i] - lastNanos[oldest] < 0) {
        oldest = i;
      }
    }
    int slot = free;
    if (slot < 0) {
      slot = oldest;
      evictions++;
    }
    families[slot] = family;
    keys[slot] = key;
    tokens[slot] = BUCKET;
    lastNanos[slot] = now;
    return slot;
  }

  private boolean take(int i, long now) {
    long t = tokens[i];
    long elapsed = now - lastNanos[i];
    if (elapsed > 0) {
      t = elapsed >= BUCKET - t ? BUCKET : t + elapsed;
      lastNanos[i] = now;
    }
    if (t >= COST) {
      tokens[i] = t - COST;
      return true;
    }
    tokens[i] = t;
    limited++;
    return false;
  }

  /** True if slot {@code i}'s bucket is full again at {@code now}: as good as no entry. */
  private boolean refilled(int i, long now) {
    return now - lastNanos[i] >= BUCKET - tokens[i];
  }

  private static int readInt(byte[] b, int off) {
    return (b[off] & 0xff) << 24 | (b[off + 1] & 0xff) << 16 | (b[off + 2] & 0xff) << 8 | (b[off + 3] & 0xff);
  }

  /** A 64-bit finaliser (SplitMix64's): every key bit moves every slot bit. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
