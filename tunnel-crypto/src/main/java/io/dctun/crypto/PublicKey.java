package io.dctun.crypto;

import java.util.Arrays;
import java.util.Base64;

/**
 * An X25519 public key: 32 raw bytes, written as standard base64 exactly as {@code wg pubkey}
 * prints it. Immutable and thread-safe.
 */
public final class PublicKey {
  public static final int LENGTH = 32;
  private final byte[] bytes;

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
