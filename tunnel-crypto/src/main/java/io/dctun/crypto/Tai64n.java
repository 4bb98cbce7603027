package io.dctun.crypto;

/**
 * TAI64N timestamps as WireGuard sends them in an initiation: 8 bytes of seconds offset by
 * 2^62 + 10, then 4 bytes of nanoseconds, both big-endian. The nanoseconds are rounded down to a
 * multiple of 2^24 (about 16.8 ms), as wireguard-go does, so that the timestamp does not leak a
 * fine-grained clock.
 */
public final class Tai64n {
  public static final int LENGTH = 12;
  static final long BASE = 0x400000000000000aL;
  static final int WHITENER = 0x1000000;

  private Tai64n() {}

  /** The timestamp for a wall-clock time given in nanoseconds since the Unix epoch. */
  public static byte[] of(long epochNanos) {
    long secs = Math.floorDiv(epochNanos, 1_000_000_000L);
    int nanos = (int) Math.floorMod(epochNanos, 1_000_000_000L);
    nanos -= nanos % WHITENER;
    long s = BASE + secs;
    byte[] t = new byte[LENGTH];
    for (int i = 0; i < 8; i++) {
      t[i] = (byte) (s >>> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
      t[8 + i] = (byte) (nanos >>> (24 - 8 * i));
    }
    return t;
  }

  /** Nanoseconds since the Unix epoch that a timestamp denotes. */
  public static long toEpochNanos(byte[] t) {
    long s = 0;
    for (int i = 0; i < 8; i++) {
      s = (s << 8) | (t[i] & 0xff);
    }
    long n = 0;
    for (int i = 0; i < 4; i++) {
      n = (n << 8) | (t[8 + i] & 0xff);
    }
    return (s - BASE) * 1_000_000_000L + n;
  }

  /** True if {@code a} is strictly later than {@code b} (unsigned big-endian order). */
  public static boolean isAfter(byte[] a, byte[] b) {
    for (int i = 0; i < LENGTH; i++) {
      int x = a[i] & 0xff;
      int y = b[i] & 0xff;
      if (x != y) {
        return x > y;
      }
    }
    return false;
  }

  /** The later of two timestamps ({@code b} may be null). */
  public static byte[] max(byte[] a, byte[] b) {
    return b != null && isAfter(b, a) ? b : a;
  }
}
