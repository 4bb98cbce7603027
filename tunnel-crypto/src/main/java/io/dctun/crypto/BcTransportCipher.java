package io.dctun.crypto;

import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

/** BouncyCastle's ChaCha20-Poly1305: pure Java, faster than the JDK's where that is not intrinsified. */
final class BcTransportCipher implements TransportCipher {
  private final ChaCha20Poly1305 aead = new ChaCha20Poly1305();
  private final KeyParameter key;
  private final boolean encrypt;
  private final byte[] nonce = new byte[12];

  BcTransportCipher(byte[] key32, boolean encrypt) {
    this.key = new KeyParameter(key32);
    this.encrypt = encrypt;
  }

  @Override
  public int seal(long counter, byte[] buf, int off, int len) {
    Nonces.put(nonce, counter);
    aead.init(true, new ParametersWithIV(key, nonce));
    int n = aead.processBytes(buf, off, len, buf, off);
    try {
      return n + aead.doFinal(buf, off + n);
    } catch (InvalidCipherTextException e) {
      throw new IllegalStateException("seal failed for counter " + counter);
    }
  }

  @Override
  public int open(long counter, byte[] buf, int off, int len) {
    if (len < TAG_LENGTH) {
      return -1;
    }
    Nonces.put(nonce, counter);
    aead.init(false, new ParametersWithIV(key, nonce));
    int n = aead.processBytes(buf, off, len, buf, off);
    try {
      return n + aead.doFinal(buf, off + n);
    } catch (InvalidCipherTextException | IllegalStateException e) {
      return -1;
    }
  }

  @Override
  public void destroy() {
    java.util.Arrays.fill(key.getKey(), (byte) 0); // KeyParameter hands out its own array
    // Overwrites the engine's expanded key and Poly1305 key with ones from an all-zero key.
    aead.init(true, new ParametersWithIV(new KeyParameter(new byte[32]), new byte[12]));
  }

  @Override
  public String implementation() {
    return "bouncycastle";
  }
}
