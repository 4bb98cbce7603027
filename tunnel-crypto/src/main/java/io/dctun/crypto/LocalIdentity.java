package io.dctun.crypto;

/**
 * This end's static key and the values derived from it that every handshake and MAC check needs.
 * Immutable and thread-safe.
 */
public final class LocalIdentity {
  static final byte[] LABEL_MAC1 = "mac1----".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  static final byte[] LABEL_COOKIE = "cookie--".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private final PrivateKey privateKey;
  final byte[] mac1Key;
  final byte[] cookieKey;

  public LocalIdentity(PrivateKey privateKey) {
    this.privateKey = privateKey;
    byte[] pub = privateKey.publicKey().raw();
    this.mac1Key = Blake2s.hash(LABEL_MAC1, pub);
    this.cookieKey = Blake2s.hash(LABEL_COOKIE, pub);
  }

  public PrivateKey privateKey() {
    return privateKey;
  }

  public PublicKey publicKey() {
    return privateKey.publicKey();
  }

  @Override
  public String toString() {
    return "LocalIdentity[" + publicKey() + "]";
  }
}
