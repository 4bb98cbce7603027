package io.dctun.crypto;

import java.util.Arrays;
import java.util.Locale;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * Entry point to the AEADs: reusable {@link TransportCipher}s for the data path, and one-shot
 * ChaCha20-Poly1305 / XChaCha20-Poly1305 for handshake fields and cookies.
 *
 * <p>Which ChaCha20-Poly1305 serves the data path is chosen once, at class load, from measurements
 * on 1420-byte packets (benchmarks/README.md): on JDK 21 and newer the JDK's, whose ChaCha20 and
 * Poly1305 are intrinsified (JDK 20 brought both), about 3x faster than any Java code (8.5 Gbit/s
 * a core on JDK 25); before that dctun's own {@link JavaTransportCipher}, which is faster than
 * the JDK's there (2.4 against 1.95 Gbit/s on JDK 17) and, unlike the JDK's or BouncyCastle's,
 * allocates nothing per packet. {@code -Ddctun.aead=jdk|java|bc} overrides the choice: {@code
 * java} gives a data path that allocates nothing on any JDK, at a third of the speed on JDK 25.
 */
public final class Aead {
  public static final int TAG_LENGTH = 16;
  private static final Impl DEFAULT = chooseDefault();

  /** The two data-path implementations. */
  public enum Impl {
    JDK,
    BOUNCYCASTLE,
    /** dctun's own, allocation-free ({@link JavaTransportCipher}). */
    JAVA
  }

  private Aead() {}

  static Impl chooseDefault() {
    return chooseDefault(System.getProperty("dctun.aead", "auto"), Runtime.version().feature());
  }

  /** The choice for a {@code -Ddctun.aead} value ("auto" when unset) on a JDK of this feature release. */
  static Impl chooseDefault(String property, int jdkFeature) {
    String forced = property.toLowerCase(Locale.ROOT);
    switch (forced) {
      case "jdk":
        return Impl.JDK;
      case "bc":
      case "bouncycastle":
        return Impl.BOUNCYCASTLE;
      case "java":
        return Impl.JAVA;
      default:
        return jdkFeature >= 21 ? Impl.JDK : Impl.JAVA;
    }
  }

  /** The implementation the data path uses on this JVM. */
  public static Impl defaultImpl() {
    return DEFAULT;
  }

  /** A reusable cipher for one direction of one keypair, with the default implementation. */
  public static TransportCipher transport(byte[] key32, boolean encrypt) {
    return transport(DEFAULT, key32, encrypt);
  }

  public static TransportCipher transport(Impl impl, byte[] key32, boolean encrypt) {
    if (key32.length != 32) {
      throw new IllegalArgumentException("ChaCha20-Poly1305 key must be 32 bytes, got " + key32.length);
    }
    switch (impl) {
      case JDK:
        return new JdkTransportCipher(key32, encrypt);
      case BOUNCYCASTLE:
        return new BcTransportCipher(key32, encrypt);
      default:
        return new JavaTransportCipher(key32, encrypt);
    }
  }

  /** One-shot ChaCha20-Poly1305 with a 64-bit counter nonce (handshake fields use counter 0). */
  public static byte[] seal(byte[] key32, long counter, byte[] plaintext, byte[] ad) {
    byte[] nonce = new byte[12];
    Nonces.put(nonce, counter);
    return sealWithNonce(key32, nonce, plaintext, ad);
  }

  /** One-shot open; returns null if the tag does not verify. */
  public static byte[] open(byte[] key32, long counter, byte[] ciphertext, byte[] ad) {
    byte[] nonce = new byte[12];
    Nonces.put(nonce, counter);
    return openWithNonce(key32, nonce, ciphertext, ad);
  }

  /** ChaCha20-Poly1305 (RFC 8439) with an explicit 12-byte nonce. */
  public static byte[] sealWithNonce(byte[] key32, byte[] nonce12, byte[] plaintext, byte[] ad) {
    ChaCha20Poly1305 c = new ChaCha20Poly1305();
    c.init(true, new AEADParameters(new KeyParameter(key32), 128, nonce12, ad));
    byte[] out = new byte[plaintext.length + TAG_LENGTH];
    int n = c.processBytes(plaintext, 0, plaintext.length, out, 0);
    try {
      c.doFinal(out, n);
    } catch (InvalidCipherTextException e) {
      throw new IllegalStateException("seal failed");
    }
    return out;
  }

  /** RFC 8439 open with an explicit 12-byte nonce; null if the tag does not verify. */
  public static byte[] openWithNonce(byte[] key32, byte[] nonce12, byte[] ciphertext, byte[] ad) {
    if (ciphertext.length < TAG_LENGTH) {
      return null;
    }
    ChaCha20Poly1305 c = new ChaCha20Poly1305();
    c.init(false, new AEADParameters(new KeyParameter(key32), 128, nonce12, ad));
    byte[] out = new byte[ciphertext.length - TAG_LENGTH];
    int n = c.processBytes(ciphertext, 0, ciphertext.length, out, 0);
    try {
      c.doFinal(out, n);
    } catch (InvalidCipherTextException e) {
      Arrays.fill(out, (byte) 0);
      return null;
    }
    return out;
  }

  /** XChaCha20-Poly1305 (24-byte nonce): HChaCha20 derives a subkey from the first 16 nonce bytes. */
  public static byte[] xseal(byte[] key32, byte[] nonce24, byte[] plaintext, byte[] ad) {
    byte[] sub = HChaCha20.derive(key32, nonce24);
    return sealWithNonce(sub, xnonce(nonce24), plaintext, ad);
  }

  /** XChaCha20-Poly1305 open; null if the tag does not verify. */
  public static byte[] xopen(byte[] key32, byte[] nonce24, byte[] ciphertext, byte[] ad) {
    byte[] sub = HChaCha20.derive(key32, nonce24);
    return openWithNonce(sub, xnonce(nonce24), ciphertext, ad);
  }

  private static byte[] xnonce(byte[] nonce24) {
    if (nonce24.length != 24) {
      throw new IllegalArgumentException("XChaCha20 nonce must be 24 bytes, got " + nonce24.length);
    }
    byte[] n = new byte[12];
    System.arraycopy(nonce24, 16, n, 4, 8);
    return n;
  }
}
