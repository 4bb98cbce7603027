package io.dctun.crypto;

import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.math.ec.rfc7748.X25519;

/**
 * An X25519 public key: 32 raw bytes, written as standard base64 exactly as {@code wg pubkey}
 * prints it. Immutable and thread-safe.
 */
public final class PublicKey {
  public static final int LENGTH = 32;
  /**
   * Any clamped scalar does for the low-order test (clamping makes it a multiple of the cofactor
   * 8, which kills every small-order point of the curve and of its twist); this one is fixed so
   * the test does not depend on a random number generator.
   */
  private static final byte[] PROBE_SCALAR = new byte[LENGTH];

  static {
    for (int i = 0; i < LENGTH; i++) {
      PROBE_SCALAR[i] = (byte) (0x5a ^ i);
    }
    PrivateKey.clamp(PROBE_SCALAR);
  }

  private final byte[] bytes;
  /** 0: not yet known, 1: usable, 2: low order. A race computes it twice, harmlessly. */
  private volatile byte order;

  private PublicKey(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Wraps a copy of 32 raw bytes. */
  public static PublicKey of(byte[] raw) {
    if (raw.length != LENGTH) {
      throw new IllegalArgumentException("public key must be 32 bytes, got " + raw.length);
    }
    return new PublicKey(raw.clone());
  }

  /** Parses the base64 text form; the message names what is wrong but repeats no key material. */
  public static PublicKey fromBase64(String text) {
    return new PublicKey(Keys.decode32(text, "public key"));
  }

  public String toBase64() {
    return Base64.getEncoder().encodeToString(bytes);
  }

  /** A copy of the raw bytes. */
  public byte[] toBytes() {
    return bytes.clone();
  }

  /** Copies the raw bytes into {@code dst} at {@code off}. */
  public void copyTo(byte[] dst, int off) {
    System.arraycopy(bytes, 0, dst, off, LENGTH);
  }

  /**
   * True if no private key can agree a secret with this key: X25519 with it is all zeros whatever
   * the scalar (RFC 7748 section 6.1 tells callers to check for exactly that). These are the points
   * of small order of Curve25519 and of its twist: the u-coordinates 0, 1, p-1, two of order 8,
   * and their other 255-bit encodings (p, p+1, and each with the unused top bit set), as listed in
   * libsodium's {@code has_small_order}. A peer with such a key can never complete a handshake and
   * is refused wherever a peer is configured. Constant time: one X25519 and a zero test.
   */
  public boolean isLowOrder() {
    byte o = order;
    if (o == 0) {
      o = isLowOrder(bytes, 0) ? (byte) 2 : (byte) 1;
      order = o;
    }
    return o == 2;
  }

  /** The opposite of {@link #isLowOrder()}: X25519 with this key gives a secret. */
  public boolean isUsable() {
    return !isLowOrder();
  }

  /**
   * The low-order test of {@link #isLowOrder()} on 32 raw bytes at {@code u[off..off+32)}, in time
   * independent of their value.
   */
  public static boolean isLowOrder(byte[] u, int off) {
    if (off < 0 || u.length - off < LENGTH) {
      throw new IllegalArgumentException("a public key is 32 bytes, got " + Math.max(0, u.length - off));
    }
    byte[] r = new byte[LENGTH];
    X25519.scalarMult(PROBE_SCALAR, 0, u, off, r, 0);
    return ConstantTime.isZero(r, 0, LENGTH);
  }

  /**
   * A short name for a key that messages do not print whole (a refused, low-order one, say): the
   * first 4 bytes of its BLAKE2s hash as 8 hex digits. Whoever holds the key can match it; it
   * shows none of the key's bytes.
   */
  public String fingerprint() {
    byte[] h = Blake2s.hash(bytes);
    return String.format("%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
  }

  byte[] raw() {
    return bytes;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PublicKey && ConstantTime.equals(bytes, ((PublicKey) o).bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  /** Public keys are not secret: the base64 form, as {@code wg show} prints it. */
  @Override
  public String toString() {
    return toBase64();
  }
}
