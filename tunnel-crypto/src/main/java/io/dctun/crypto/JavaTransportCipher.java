package io.dctun.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * ChaCha20-Poly1305 (RFC 8439) written for WireGuard's transport messages and nothing else: one
 * key per instance, the nonce is four zero bytes and a 64-bit counter, no associated data. It
 * allocates nothing per packet (the key words, the Poly1305 state and the tag scratch are
 * fields), which neither the JDK's cipher (a fresh engine per {@code init}, about 2.2 KB a
 * packet) nor BouncyCastle's (a copy when input and output overlap) manage.
 *
 * <p>Opening authenticates before it decrypts: a forged packet leaves the buffer as it was.
 * The tag is compared in constant time.
 *
 * <p>ChaCha20 keeps the 16 state words in locals so the JIT can hold them in registers; Poly1305
 * uses five 26-bit limbs in longs (the poly1305-donna 32-bit layout), so no product overflows.
 *
 * <p>Not thread-safe: one instance per direction per thread, as every {@link TransportCipher}.
 */
final class JavaTransportCipher implements TransportCipher {
  private static final VarHandle LE32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final int C0 = 0x61707865;
  private static final int C1 = 0x3320646e;
  private static final int C2 = 0x79622d32;
  private static final int C3 = 0x6b206574;

  private int k0;
  private int k1;
  private int k2;
  private int k3;
  private int k4;
  private int k5;
  private int k6;
  private int k7;
  private final boolean encrypt;
  /** One keystream block (block 0 gives the Poly1305 key) and the computed tag. */
  private final int[] block = new int[16];
  private final byte[] tag = new byte[16];

  // Poly1305 state: r (clamped) in 26-bit limbs, 5*r for the reduction, s, and the accumulator.
  private long r0;
  private long r1;
  private long r2;
  private long r3;
  private long r4;
  private long r1x5;
  private long r2x5;
  private long r3x5;
  private long r4x5;
  private long h0;
  private long h1;
  private long h2;
  private long h3;
  private long h4;
  private int s0;
  private int s1;
  private int s2;
  private int s3;

  JavaTransportCipher(byte[] key32, boolean encrypt) {
    k0 = (int) LE32.get(key32, 0);
    k1 = (int) LE32.get(key32, 4);
    k2 = (int) LE32.get(key32, 8);
    k3 = (int) LE32.get(key32, 12);
    k4 = (int) LE32.get(key32, 16);
    k5 = (int) LE32.get(key32, 20);
    k6 = (int) LE32.get(key32, 24);
    k7 = (int) LE32.get(key32, 28);
    this.encrypt = encrypt;
  }

  @Override
  public int seal(long counter, byte[] buf, int off, int len) {
    if (!encrypt) {
      throw new IllegalStateException("this cipher opens; seal with the sending direction's");
    }
    polyKey(counter);
    xor(counter, buf, off, len);
    mac(buf, off, len);
    System.arraycopy(tag, 0, buf, off + len, TAG_LENGTH);
    return len + TAG_LENGTH;
  }

  @Override
  public int open(long counter, byte[] buf, int off, int len) {
    if (encrypt) {
      throw new IllegalStateException("this cipher seals; open with the receiving direction's");
    }
    if (len < TAG_LENGTH) {
      return -1;
    }
    int n = len - TAG_LENGTH;
    polyKey(counter);
    mac(buf, off, n);
    if (!ConstantTime.equals(tag, 0, buf, off + n, TAG_LENGTH)) {
      return -1;
    }
    xor(counter, buf, off, n);
    return n;
  }

  @Override
  public void destroy() {
    k0 = k1 = k2 = k3 = k4 = k5 = k6 = k7 = 0;
    r0 = r1 = r2 = r3 = r4 = r1x5 = r2x5 = r3x5 = r4x5 = 0;
    h0 = h1 = h2 = h3 = h4 = 0;
    s0 = s1 = s2 = s3 = 0;
    java.util.Arrays.fill(block, 0);
    java.util.Arrays.fill(tag, (byte) 0);
  }

  @Override
  public String implementation() {
    return "java";
  }

  // ------------------------------------------------------------------ ChaCha20

  /** The 64-byte keystream block {@code blockCounter} for nonce (0, counter) into {@link #block}. */
  private void keystream(int blockCounter, long counter) {
    int n1 = (int) counter;
    int n2 = (int) (counter >>> 32);
    int x0 = C0;
    int x1 = C1;
    int x2 = C2;
    int x3 = C3;
    int x4 = k0;
    int x5 = k1;
    int x6 = k2;
    int x7 = k3;
    int x8 = k4;
    int x9 = k5;
    int x10 = k6;
    int x11 = k7;
    int x12 = blockCounter;
    int x13 = 0;
    int x14 = n1;
    int x15 = n2;
    for (int i = 0; i < 10; i++) {
      // columns
      x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 16);
      x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 12);
      x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 8);
      x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 7);
      x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 16);
      x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 12);
      x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 8);
      x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 7);
      x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 16);
      x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 12);
      x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 8);
      x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 7);
      x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 16);
      x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 12);
      x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 8);
      x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 7);
      // diagonals
      x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 16);
      x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 12);
      x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 8);
      x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 7);
      x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 16);
      x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 12);
      x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 8);
      x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 7);
      x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 16);
      x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 12);
      x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 8);
      x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 7);
      x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 16);
      x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 12);
      x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 8);
      x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 7);
    }
    int[] b = block;
    b[0] = x0 + C0;
    b[1] = x1 + C1;
    b[2] = x2 + C2;
    b[3] = x3 + C3;
    b[4] = x4 + k0;
    b[5] = x5 + k1;
    b[6] = x6 + k2;
    b[7] = x7 + k3;
    b[8] = x8 + k4;
    b[9] = x9 + k5;
    b[10] = x10 + k6;
    b[11] = x11 + k7;
    b[12] = x12 + blockCounter;
    b[13] = x13;
    b[14] = x14 + n1;
    b[15] = x15 + n2;
  }

  /** XORs the keystream from block 1 on into {@code buf[off .. off+len)}. */
  private void xor(long counter, byte[] buf, int off, int len) {
    int[] b = block;
    int blockCounter = 1;
    int i = 0;
    for (; i + 64 <= len; i += 64) {
      keystream(blockCounter++, counter);
      int p = off + i;
      for (int w = 0; w < 16; w++) {
        LE32.set(buf, p + 4 * w, (int) LE32.get(buf, p + 4 * w) ^ b[w]);
      }
    }
    if (i < len) {
      keystream(blockCounter, counter);
      int p = off + i;
      int rest = len - i;
      int w = 0;
      for (; 4 * w + 4 <= rest; w++) {
        LE32.set(buf, p + 4 * w, (int) LE32.get(buf, p + 4 * w) ^ b[w]);
      }
      for (int j = 4 * w; j < rest; j++) {
        buf[p + j] ^= (byte) (b[j >>> 2] >>> (8 * (j & 3)));
      }
    }
  }

  // ------------------------------------------------------------------ Poly1305

  /** Block 0 of the keystream: r (clamped) and s, and a cleared accumulator. */
  private void polyKey(long counter) {
    keystream(0, counter);
    int[] b = block;
    long t0 = b[0] & 0xffffffffL;
    long t1 = b[1] & 0xffffffffL;
    long t2 = b[2] & 0xffffffffL;
    long t3 = b[3] & 0xffffffffL;
    // clamp (RFC 8439 2.5) and split into 26-bit limbs
    r0 = t0 & 0x3ffffff;
    r1 = ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03;
    r2 = ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff;
    r3 = ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff;
    r4 = (t3 >>> 8) & 0x00fffff;
    r1x5 = r1 * 5;
    r2x5 = r2 * 5;
    r3x5 = r3 * 5;
    r4x5 = r4 * 5;
    s0 = b[4];
    s1 = b[5];
    s2 = b[6];
    s3 = b[7];
    h0 = 0;
    h1 = 0;
    h2 = 0;
    h3 = 0;
    h4 = 0;
  }

  /** The tag over {@code buf[off .. off+len)} (padded to 16) and the lengths block, into {@link #tag}. */
  private void mac(byte[] buf, int off, int len) {
    int i = 0;
    for (; i + 16 <= len; i += 16) {
      polyBlock((int) LE32.get(buf, off + i), (int) LE32.get(buf, off + i + 4), (int) LE32.get(buf, off + i + 8),
          (int) LE32.get(buf, off + i + 12), 1L << 24);
    }
    if (i < len) {
      // the last partial block, zero padded (RFC 8439 2.8: pad16 of the ciphertext), hibit set
      int m0 = 0;
      int m1 = 0;
      int m2 = 0;
      int m3 = 0;
      for (int j = 0; j < len - i; j++) {
        int v = (buf[off + i + j] & 0xff) << (8 * (j & 3));
        switch (j >>> 2) {
          case 0 -> m0 |= v;
          case 1 -> m1 |= v;
          case 2 -> m2 |= v;
          default -> m3 |= v;
        }
      }
      polyBlock(m0, m1, m2, m3, 1L << 24);
    }
    // lengths: le64(aad length = 0) || le64(ciphertext length)
    polyBlock(0, 0, len, 0, 1L << 24);
    finish();
  }

  private void polyBlock(int w0, int w1, int w2, int w3, long hibit) {
    long t0 = w0 & 0xffffffffL;
    long t1 = w1 & 0xffffffffL;
    long t2 = w2 & 0xffffffffL;
    long t3 = w3 & 0xffffffffL;
    long a0 = h0 + (t0 & 0x3ffffff);
    long a1 = h1 + (((t0 >>> 26) | (t1 << 6)) & 0x3ffffff);
    long a2 = h2 + (((t1 >>> 20) | (t2 << 12)) & 0x3ffffff);
    long a3 = h3 + (((t2 >>> 14) | (t3 << 18)) & 0x3ffffff);
    long a4 = h4 + ((t3 >>> 8) | hibit);
    long s1r = r1x5;
    long s2r = r2x5;
    long s3r = r3x5;
    long s4r = r4x5;
    long d0 = a0 * r0 + a1 * s4r + a2 * s3r + a3 * s2r + a4 * s1r;
    long d1 = a0 * r1 + a1 * r0 + a2 * s4r + a3 * s3r + a4 * s2r;
    long d2 = a0 * r2 + a1 * r1 + a2 * r0 + a3 * s4r + a4 * s3r;
    long d3 = a0 * r3 + a1 * r2 + a2 * r1 + a3 * r0 + a4 * s4r;
    long d4 = a0 * r4 + a1 * r3 + a2 * r2 + a3 * r1 + a4 * r0;
    long c = d0 >>> 26;
    a0 = d0 & 0x3ffffff;
    d1 += c;
    c = d1 >>> 26;
    a1 = d1 & 0x3ffffff;
    d2 += c;
    c = d2 >>> 26;
    a2 = d2 & 0x3ffffff;
    d3 += c;
    c = d3 >>> 26;
    a3 = d3 & 0x3ffffff;
    d4 += c;
    c = d4 >>> 26;
    a4 = d4 & 0x3ffffff;
    a0 += c * 5;
    c = a0 >>> 26;
    a0 &= 0x3ffffff;
    a1 += c;
    h0 = a0;
    h1 = a1;
    h2 = a2;
    h3 = a3;
    h4 = a4;
  }

  /** h mod 2^130 - 5, plus s, as 16 little-endian bytes into {@link #tag}. */
  private void finish() {
    long a0 = h0;
    long a1 = h1;
    long a2 = h2;
    long a3 = h3;
    long a4 = h4;
    long c = a1 >>> 26;
    a1 &= 0x3ffffff;
    a2 += c;
    c = a2 >>> 26;
    a2 &= 0x3ffffff;
    a3 += c;
    c = a3 >>> 26;
    a3 &= 0x3ffffff;
    a4 += c;
    c = a4 >>> 26;
    a4 &= 0x3ffffff;
    a0 += c * 5;
    c = a0 >>> 26;
    a0 &= 0x3ffffff;
    a1 += c;
    // g = h + 5 - 2^130; use g if h >= p (constant time: a mask, no branch)
    long g0 = a0 + 5;
    c = g0 >>> 26;
    g0 &= 0x3ffffff;
    long g1 = a1 + c;
    c = g1 >>> 26;
    g1 &= 0x3ffffff;
    long g2 = a2 + c;
    c = g2 >>> 26;
    g2 &= 0x3ffffff;
    long g3 = a3 + c;
    c = g3 >>> 26;
    g3 &= 0x3ffffff;
    long g4 = a4 + c - (1L << 26);
    long mask = ~(g4 >> 63); // all ones if g4 >= 0, i.e. h >= p; zero otherwise
    a0 = (a0 & ~mask) | (g0 & mask);
    a1 = (a1 & ~mask) | (g1 & mask);
    a2 = (a2 & ~mask) | (g2 & mask);
    a3 = (a3 & ~mask) | (g3 & mask);
    a4 = (a4 & ~mask) | (g4 & mask);
    // to 4 x 32 bits, then + s mod 2^128
    long w0 = (a0 | (a1 << 26)) & 0xffffffffL;
    long w1 = ((a1 >>> 6) | (a2 << 20)) & 0xffffffffL;
    long w2 = ((a2 >>> 12) | (a3 << 14)) & 0xffffffffL;
    long w3 = ((a3 >>> 18) | (a4 << 8)) & 0xffffffffL;
    long f = w0 + (s0 & 0xffffffffL);
    LE32.set(tag, 0, (int) f);
    f = w1 + (s1 & 0xffffffffL) + (f >>> 32);
    LE32.set(tag, 4, (int) f);
    f = w2 + (s2 & 0xffffffffL) + (f >>> 32);
    LE32.set(tag, 8, (int) f);
    f = w3 + (s3 & 0xffffffffL) + (f >>> 32);
    LE32.set(tag, 12, (int) f);
  }
}
