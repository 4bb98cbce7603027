package io.dctun.core.session;

import java.util.Arrays;

/**
 * Sliding-window replay filter for the 64-bit counters of WireGuard transport messages, after
 * RFC 6479: a ring of 64-bit blocks, one bit per counter, where moving the window forward clears
 * whole blocks instead of shifting bits.
 *
 * <pre>
 *   ring: [ block 0 | block 1 | ... | block 127 ]   128 x 64 = 8192 bits
 *   counter c lives in block (c >>> 6) &amp; 127, bit c &amp; 63
 *
 *   accepted:  last - WINDOW_SIZE &lt;= c, c not seen yet, c &lt; limit
 *              (c &gt; last moves the window: blocks between the old and new last are zeroed)
 * </pre>
 *
 * <p>The window is {@link #WINDOW_SIZE} = 8192 - 64 = 8128 counters, as in the Linux module
 * and wireguard-go: one block is always the partly-filled head, so only 127 blocks of history
 * are guaranteed. Counters are unsigned 64-bit values carried in a {@code long}.
 *
 * <p>Call {@link #check} only after the packet has authenticated: it records the counter, so a
 * forged packet must not reach it.
 *
 * <p>Thread-safety: not thread-safe; the caller synchronizes (one receive worker per keypair,
 * or a lock around {@link #check}).
 */
public final class ReplayWindow {

  /**
   * The first counter that is never accepted: 2^64 - 2^13 - 1 as an unsigned value (WireGuard's
   * REJECT_AFTER_MESSAGES).
   */
  public static final long REJECT_AFTER_MESSAGES = -(1L << 13) - 1;

  private static final int BLOCK_BITS_LOG = 6;
  private static final int BLOCK_BITS = 1 << BLOCK_BITS_LOG;
  private static final int RING_BLOCKS = 128;
  private static final int BLOCK_MASK = RING_BLOCKS - 1;
  private static final int BIT_MASK = BLOCK_BITS - 1;

  /** Bits in the ring. */
  public static final int RING_BITS = RING_BLOCKS * BLOCK_BITS;
  /** How far behind the highest accepted counter a counter may be and still be accepted. */
  public static final int WINDOW_SIZE = RING_BITS - BLOCK_BITS;

  private final long[] ring = new long[RING_BLOCKS];
  private long last;

  /** Creates an empty window: counter 0 upward is acceptable. */
  public ReplayWindow() {}

  /** Checks and records {@code counter} against {@link #REJECT_AFTER_MESSAGES}. */
  public boolean check(long counter) {
    return check(counter, REJECT_AFTER_MESSAGES);
  }

  /**
   * Accepts {@code counter} if it is below {@code limit} (unsigned), not older than the window
   * and not seen before, and records it.
   *
   * @return true to accept the packet, false to drop it as replayed, too old or over the limit
   */
  public boolean check(long counter, long limit) {
    if (Long.compareUnsigned(counter, limit) >= 0) {
      return false;
    }
    long blockIndex = counter >>> BLOCK_BITS_LOG;
    if (Long.compareUnsigned(counter, last) > 0) {
      long current = last >>> BLOCK_BITS_LOG;
      long diff = Math.min(blockIndex - current, RING_BLOCKS);
      for (long i = current + 1; i <= current + diff; i++) {
        ring[(int) (i & BLOCK_MASK)] = 0;
      }
      last = counter;
    } else if (Long.compareUnsigned(last - counter, WINDOW_SIZE) > 0) {
      return false;
    }
    int block = (int) (blockIndex & BLOCK_MASK);
    long bit = 1L << (counter & BIT_MASK);
    long old = ring[block];
    ring[block] = old | bit;
    return (old & bit) == 0;
  }

  /**
   * Whether {@code counter} would be accepted by {@link #check(long)} now, without recording it:
   * lets the receive path drop an obvious replay before spending a decryption on it. Only {@link
   * #check} after authentication is the real decision.
   */
  public boolean isFresh(long counter) {
    return isFresh(counter, REJECT_AFTER_MESSAGES);
  }

  /** As {@link #isFresh(long)} with an explicit limit. */
  public boolean isFresh(long counter, long limit) {
    if (Long.compareUnsigned(counter, limit) >= 0) {
      return false;
    }
    if (Long.compareUnsigned(counter, last) > 0) {
      return true;
    }
    if (Long.compareUnsigned(last - counter, WINDOW_SIZE) > 0) {
      return false;
    }
    int block = (int) ((counter >>> BLOCK_BITS_LOG) & BLOCK_MASK);
    return (ring[block] & (1L << (counter & BIT_MASK))) == 0;
  }

  /** Forgets every counter, as for a fresh keypair. */
  public void reset() {
    Arrays.fill(ring, 0L);
    last = 0;
  }

  /** The highest counter accepted so far (unsigned), 0 when none. */
  public long highest() {
    return last;
  }
}
