package io.dctun.crypto;

/** Comparisons whose running time does not depend on where the inputs differ. */
public final class ConstantTime {
  private ConstantTime() {}

  /** True if {@code a[aOff..aOff+len)} equals {@code b[bOff..bOff+len)}, in time independent of the contents. */
  public static boolean equals(byte[] a, int aOff, byte[] b, int bOff, int len) {
    int diff = 0;
    for (int i = 0; i < len; i++) {
      diff |= a[aOff + i] ^ b[bOff + i];
    }
    return diff == 0;
  }

  /** True if the two arrays have equal length and contents; the length itself is not secret. */
  public static boolean equals(byte[] a, byte[] b) {
    return a.length == b.length && equals(a, 0, b, 0, a.length);
  }

  /** True if all {@code len} bytes from {@code off} are zero. */
  public static boolean isZero(byte[] a, int off, int len) {
    int acc = 0;
    for (int i = 0; i < len; i++) {
      acc |= a[off + i];
    }
    return acc == 0;
  }
}
