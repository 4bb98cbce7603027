package io.dctun.crypto;

import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The JDK's ChaCha20-Poly1305 ({@code SunJCE}), intrinsified on recent JDKs. The Cipher object and
 * the key spec are built once; only the nonce changes per packet. The JDK API still needs one
 * {@link IvParameterSpec} per {@code init}, a small allocation we cannot avoid through it.
 */
final class JdkTransportCipher implements TransportCipher {
  private final Cipher cipher;
  private SecretKeySpec key;
  private final int mode;
  private final byte[] nonce = new byte[12];
  private long lastCounter;
  private boolean initialized;

  JdkTransportCipher(byte[] key32, boolean encrypt) {
    try {
      this.cipher = Cipher.getInstance("ChaCha20-Poly1305");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK has no ChaCha20-Poly1305", e);
    }
    this.key = new SecretKeySpec(key32, "ChaCha20");
    this.mode = encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
  }

  private void init(long counter) throws GeneralSecurityException {
    if (initialized && counter == lastCounter && mode == Cipher.DECRYPT_MODE) {
      // JDK 17 refuses to re-initialise with the previous key and nonce even to decrypt (JDK 25
      // allows it). A forged packet carrying the next counter would then make the genuine one
      // fail, so step through another nonce first. Encryption keeps the JDK's refusal: a
      // repeated counter there is misuse.
      Nonces.put(nonce, ~counter);
      cipher.init(mode, key, new IvParameterSpec(nonce));
    }
    Nonces.put(nonce, counter);
    cipher.init(mode, key, new IvParameterSpec(nonce));
    lastCounter = counter;
    initialized = true;
  }

  @Override
  public int seal(long counter, byte[] buf, int off, int len) {
    try {
      init(counter);
      return cipher.doFinal(buf, off, len, buf, off);
    } catch (GeneralSecurityException e) {
      // Only reachable through misuse (a reused counter); never carries key material.
      throw new IllegalStateException("seal failed for counter " + counter + ": " + e.getClass().getSimpleName());
    }
  }

  @Override
  public int open(long counter, byte[] buf, int off, int len) {
    if (len < TAG_LENGTH) {
      return -1;
    }
    try {
      init(counter);
      return cipher.doFinal(buf, off, len, buf, off);
    } catch (AEADBadTagException e) {
      return -1;
    } catch (GeneralSecurityException e) {
      return -1;
    }
  }

  @Override
  public void destroy() {
    // SecretKeySpec cannot be destroyed and the provider keeps copies of its own: the best the
    // JDK API allows is to drop every reference (re-initialised with an all-zero key).
    key = new SecretKeySpec(new byte[32], "ChaCha20");
    try {
      Nonces.put(nonce, ~lastCounter - 1);
      cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(nonce));
    } catch (GeneralSecurityException e) {
      // nothing more can be done; the instance is never used again
    }
  }

  @Override
  public String implementation() {
    return "jdk";
  }
}
