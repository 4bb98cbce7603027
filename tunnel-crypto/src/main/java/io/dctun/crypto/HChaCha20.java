package io.dctun.crypto;

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 block function without the final
 * addition, keeping words 0-3 and 12-15, which turns a key and a 16-byte nonce into a subkey.
 * BouncyCastle has no public HChaCha20, so this one small function is written here and checked
 * against the draft's test vector.
 */
final class HChaCha20 {
  private HChaCha20() {}

  static byte[] derive(byte[] key32, byte[] nonce) {
    int[] s = new int[16];
    s[0] = 0x61707865;
    s[1] = 0x3320646e;
    s[2] = 0x79622d32;
    s[3] = 0x6b206574;
    for (int i = 0; i < 8; i++) {
      s[4 + i] = le32(key32, 4 * i);
    }
    for (int i = 0; i < 4; i++) {
      s[12 + i] = le32(nonce, 4 * i);
    }
    for (int r = 0; r < 10; r++) {
      qr(s, 0, 4, 8, 12);
      qr(s, 1, 5, 9, 13);
      qr(s, 2, 6, 10, 14);
      qr(s, 3, 7, 11, 15);
      qr(s, 0, 5, 10, 15);
      qr(s, 1, 6, 11, 12);
      qr(s, 2, 7, 8, 13);
      qr(s, 3, 4, 9, 14);
    }
    byte[] out = new byte[32];
    for (int i = 0; i < 4; i++) {
      putLe32(out, 4 * i, s[i]);
      putLe32(out, 16 + 4 * i, s[12 + i]);
    }
    return out;
  }

  private static void qr(int[] s, int a, int b, int c, int d) {
    s[a] += s[b];
    s[d] = Integer.rotateLeft(s[d] ^ s[a], 16);
    s[c] += s[d];
    s[b] = Integer.rotateLeft(s[b] ^ s[c], 12);
    s[a] += s[b];
    s[d] = Integer.rotateLeft(s[d] ^ s[a], 8);
    s[c] += s[d];
    s[b] = Integer.rotateLeft(s[b] ^ s[c], 7);
  }

  private static int le32(byte[] b, int o) {
    return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
  }

  private static void putLe32(byte[] b, int o, int v) {
    b[o] = (byte) v;
    b[o + 1] = (byte) (v >>> 8);
    b[o + 2] = (byte) (v >>> 16);
    b[o + 3] = (byte) (v >>> 24);
  }
}
