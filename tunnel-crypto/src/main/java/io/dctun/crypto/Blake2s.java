package io.dctun.crypto;

import org.bouncycastle.crypto.digests.Blake2sDigest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * The three BLAKE2s functions WireGuard uses (whitepaper section 5.4):
 *
 * <ul>
 *   <li>{@code HASH(x)}: unkeyed BLAKE2s-256;
 *   <li>{@code MAC(key, x)}: keyed BLAKE2s with a 16-byte output (mac1, mac2, cookies);
 *   <li>{@code HMAC(key, x)}: RFC 2104 HMAC over BLAKE2s-256, the basis of the Noise HKDF.
 * </ul>
 *
 * These run once per handshake, not per packet, so they allocate freely. Thread-safe.
 */
public final class Blake2s {
  public static final int HASH_LENGTH = 32;
  public static final int MAC_LENGTH = 16;

  private Blake2s() {}

  /** HASH(a || b || ...). */
  public static byte[] hash(byte[]... parts) {
    Blake2sDigest d = new Blake2sDigest(256);
    for (byte[] p : parts) {
      d.update(p, 0, p.length);
    }
    byte[] out = new byte[HASH_LENGTH];
    d.doFinal(out, 0);
    return out;
  }

  /** MAC(key, data[off..off+len)) with a 16-byte output. */
  public static byte[] mac(byte[] key, byte[] data, int off, int len) {
    byte[] out = new byte[MAC_LENGTH];
    mac(key, data, off, len, out, 0);
    return out;
  }

  /** MAC(key, data[off..off+len)) written to {@code out[outOff..outOff+16)}. */
  public static void mac(byte[] key, byte[] data, int off, int len, byte[] out, int outOff) {
    Blake2sDigest d = new Blake2sDigest(key, MAC_LENGTH, null, null);
    d.update(data, off, len);
    d.doFinal(out, outOff);
  }

  /** BLAKE2s with an arbitrary key and output length (for known-answer tests). */
  public static byte[] keyed(byte[] key, int outLength, byte[] data) {
    Blake2sDigest d = key == null || key.length == 0
        ? new Blake2sDigest(outLength * 8)
        : new Blake2sDigest(key, outLength, null, null);
    d.update(data, 0, data.length);
    byte[] out = new byte[outLength];
    d.doFinal(out, 0);
    return out;
  }

  /** HMAC-BLAKE2s(key, a || b || ...). */
  public static byte[] hmac(byte[] key, byte[]... parts) {
    HMac h = new HMac(new Blake2sDigest(256));
    h.init(new KeyParameter(key));
    for (byte[] p : parts) {
      h.update(p, 0, p.length);
    }
    byte[] out = new byte[HASH_LENGTH];
    h.doFinal(out, 0);
    return out;
  }
}
