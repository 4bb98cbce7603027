package io.dctun.crypto;

/**
 * The Noise HKDF over HMAC-BLAKE2s (whitepaper 5.4: KDF1, KDF2, KDF3):
 *
 * <pre>
 *   tau0 = HMAC(key, input)
 *   tau1 = HMAC(tau0, 0x01)
 *   tau2 = HMAC(tau0, tau1 || 0x02)
 *   tau3 = HMAC(tau0, tau2 || 0x03)
 * </pre>
 */
public final class Kdf {
  private Kdf() {}

  /** Returns {@code n} (1..3) 32-byte outputs. */
  public static byte[][] derive(int n, byte[] key, byte[] input) {
    if (n < 1 || n > 3) {
      throw new IllegalArgumentException("KDF output count must be 1..3, got " + n);
    }
    byte[] tau0 = Blake2s.hmac(key, input);
    byte[][] out = new byte[n][];
    byte[] prev = new byte[0];
    for (int i = 0; i < n; i++) {
      prev = Blake2s.hmac(tau0, prev, new byte[] {(byte) (i + 1)});
      out[i] = prev;
    }
    java.util.Arrays.fill(tau0, (byte) 0);
    return out;
  }
}
