package io.dctun.crypto;

import java.security.SecureRandom;
import java.util.Base64;
import org.bouncycastle.math.ec.rfc7748.X25519;

/**
 * An X25519 static private key, clamped as {@code wg genkey} clamps it. Its bytes never appear in
 * {@link #toString()}, logs or exception messages. Immutable and thread-safe.
 */
public final class PrivateKey {
  public static final int LENGTH = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final byte[] bytes;
  private final PublicKey publicKey;

  private PrivateKey(byte[] bytes) {
    this.bytes = bytes;
    byte[] pub = new byte[32];
    X25519.generatePublicKey(bytes, 0, pub, 0);
    this.publicKey = PublicKey.of(pub);
  }

  /** A fresh random key, clamped. */
  public static PrivateKey generate() {
    byte[] k = new byte[LENGTH];
    RANDOM.nextBytes(k);
    clamp(k);
    return new PrivateKey(k);
  }

  /** Parses the base64 text form ({@code wg genkey} output); the key is clamped as WireGuard does. */
  public static PrivateKey fromBase64(String text) {
    byte[] k = Keys.decode32(text, "private key");
    clamp(k);
    return new PrivateKey(k);
  }

  /** Wraps a copy of 32 raw bytes, clamped. */
  public static PrivateKey of(byte[] raw) {
    if (raw.length != LENGTH) {
      throw new IllegalArgumentException("private key must be 32 bytes, got " + raw.length);
    }
    byte[] k = raw.clone();
    clamp(k);
    return new PrivateKey(k);
  }

  static void clamp(byte[] k) {
    k[0] &= (byte) 248;
    k[31] &= 127;
    k[31] |= 64;
  }

  public PublicKey publicKey() {
    return publicKey;
  }

  /** The base64 text form, for writing a key file. Handle the result as a secret. */
  public String toBase64() {
    return Base64.getEncoder().encodeToString(bytes);
  }

  /**
   * X25519(this, peer) into {@code out[off..off+32)}.
   *
   * @return false if the result is all zeros (a low-order peer point), which callers must refuse
   */
  public boolean sharedSecret(PublicKey peer, byte[] out, int off) {
    return X25519.calculateAgreement(bytes, 0, peer.raw(), 0, out, off);
  }

  /**
   * A 32-byte secret for another purpose, derived one way from this key:
   * HMAC-BLAKE2s(key, label). The two gateways of an HA pair share one static key, so they
   * derive the same state-sync key without any further configuration; knowing the derived
   * secret reveals nothing about the key.
   */
  public byte[] deriveSecret(String label) {
    return Blake2s.hmac(bytes, label.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "PrivateKey[public=" + publicKey + "]";
  }
}
