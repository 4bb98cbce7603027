package io.dctun.crypto;

final class Nonces {
  private Nonces() {}

  /** Writes the WireGuard nonce for {@code counter}: 4 zero bytes, then the counter little-endian. */
  static void put(byte[] nonce12, long counter) {
    nonce12[0] = 0;
    nonce12[1] = 0;
    nonce12[2] = 0;
    nonce12[3] = 0;
    for (int i = 0; i < 8; i++) {
      nonce12[4 + i] = (byte) (counter >>> (8 * i));
    }
  }
}
