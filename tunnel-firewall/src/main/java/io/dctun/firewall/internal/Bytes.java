package io.dctun.firewall.internal;

/**
 * Big-endian (network order) reads and writes of 8 to 64 bits in a byte array, for every
 * header the firewall parses or writes. No bounds checks beyond the array's own: callers have
 * checked the lengths. Thread-safety: stateless.
 */
public final class Bytes {
  private Bytes() {}

  public static int u8(byte[] b, int i) {
    return b[i] & 0xFF;
  }

  public static int u16(byte[] b, int i) {
    return ((b[i] & 0xFF) << 8) | (b[i + 1] & 0xFF);
  }

  /** 32 bits as an int (its sign is the top bit). */
  public static int i32(byte[] b, int i) {
    return (u16(b, i) << 16) | u16(b, i + 2);
  }

  public static long u64(byte[] b, int i) {
    long v = 0;
    for (int k = 0; k < 8; k++) {
      v = (v << 8) | (b[i + k] & 0xFF);
    }
    return v;
  }

  public static void put16(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 8);
    b[i + 1] = (byte) v;
  }

  public static void put32(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 24);
    b[i + 1] = (byte) (v >>> 16);
    b[i + 2] = (byte) (v >>> 8);
    b[i + 3] = (byte) v;
  }

  public static void put64(byte[] b, int i, long v) {
    put32(b, i, (int) (v >>> 32));
    put32(b, i + 4, (int) v);
  }
}
