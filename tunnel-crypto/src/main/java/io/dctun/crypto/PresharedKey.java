package io.dctun.crypto;

import java.security.SecureRandom;
import java.util.Base64;

/** A 32-byte symmetric preshared key (the "psk" of Noise_IKpsk2). Never printed. */
public final class PresharedKey {
  public static final int LENGTH = 32;
  /** The all-zero key WireGuard uses when no preshared key is configured. */
  public static final PresharedKey NONE = new PresharedKey(new byte[LENGTH]);

  private final byte[] bytes;

  private PresharedKey(byte[] bytes) {
    this.bytes = bytes;
  }

  public static PresharedKey fromBase64(String text) {
    return new PresharedKey(Keys.decode32(text, "preshared key"));
  }

  public static PresharedKey generate() {
    byte[] k = new byte[LENGTH];
    new SecureRandom().nextBytes(k);
    return new PresharedKey(k);
  }

  public String toBase64() {
    return Base64.getEncoder().encodeToString(bytes);
  }

  byte[] raw() {
    return bytes;
  }

  @Override
  public String toString() {
    return "PresharedKey[redacted]";
  }
}
