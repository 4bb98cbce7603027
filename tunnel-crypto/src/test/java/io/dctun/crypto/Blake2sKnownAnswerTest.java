package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * BLAKE2s against RFC 7693 and the BLAKE2 reference KAT (blake2s-kat.txt), WireGuard's Noise
 * constants, and HMAC-BLAKE2s / the Noise KDF against an HMAC written out by hand (RFC 2104).
 */
class Blake2sKnownAnswerTest {
  private static final HexFormat HEX = HexFormat.of();
  private static final int BLOCK = 64;

  @Test
  void hashOfAbcMatchesRfc7693AppendixB() {
    assertThat(HEX.formatHex(Blake2s.hash("abc".getBytes(StandardCharsets.US_ASCII))))
        .isEqualTo("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  }

  @Test
  void hashOfPartsIsHashOfTheirConcatenation() {
    assertThat(Blake2s.hash("a".getBytes(StandardCharsets.US_ASCII), new byte[0], "bc".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo(Blake2s.hash("abc".getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void keyedMatchesReferenceKat() {
    byte[] key = sequence(32);
    // blake2s-kat.txt, key 000102..1f: inputs empty, 00, 0001.
    assertThat(HEX.formatHex(Blake2s.keyed(key, 32, new byte[0])))
        .isEqualTo("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49");
    assertThat(HEX.formatHex(Blake2s.keyed(key, 32, sequence(1))))
        .isEqualTo("40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1");
    assertThat(HEX.formatHex(Blake2s.keyed(key, 32, sequence(2))))
        .isEqualTo("6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803");
  }

  @Test
  void macIsKeyedBlake2sWith16ByteOutput() {
    SplittableRandom rnd = new SplittableRandom(7693);
    for (int i = 0; i < 50; i++) {
      byte[] key = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, 32);
      byte[] data = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, rnd.nextInt(300));
      byte[] framed = new byte[data.length + 10];
      System.arraycopy(data, 0, framed, 3, data.length);
      assertThat(Blake2s.mac(key, framed, 3, data.length)).isEqualTo(Blake2s.keyed(key, 16, data));
    }
  }

  @Test
  void noiseConstructionHashesMatchWireGuard() {
    byte[] ck = Blake2s.hash("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".getBytes(StandardCharsets.US_ASCII));
    assertThat(HEX.formatHex(ck)).isEqualTo("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    byte[] h = Blake2s.hash(ck, "WireGuard v1 zx2c4 Jason@zx2c4.com".getBytes(StandardCharsets.US_ASCII));
    assertThat(HEX.formatHex(h)).isEqualTo("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
  }

  @Test
  void hmacMatchesHandWrittenRfc2104() {
    SplittableRandom rnd = new SplittableRandom(2104);
    int[] keyLengths = {0, 1, 16, 32, 63, 64, 65, 100};
    for (int keyLen : keyLengths) {
      for (int i = 0; i < 10; i++) {
        byte[] key = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, keyLen);
        byte[] a = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, rnd.nextInt(200));
        byte[] b = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, rnd.nextInt(3));
        assertThat(Blake2s.hmac(key, a, b)).as("key length %d", keyLen).isEqualTo(referenceHmac(key, concat(a, b)));
      }
    }
  }

  @Test
  void kdfMatchesWhitepaperDefinitionOverReferenceHmac() {
    SplittableRandom rnd = new SplittableRandom(54);
    for (int i = 0; i < 30; i++) {
      byte[] key = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, 32);
      byte[] input = ChaCha20Poly1305KnownAnswerTest.bytes(rnd, i == 0 ? 0 : rnd.nextInt(100));
      byte[] tau0 = referenceHmac(key, input);
      byte[] tau1 = referenceHmac(tau0, new byte[] {1});
      byte[] tau2 = referenceHmac(tau0, concat(tau1, new byte[] {2}));
      byte[] tau3 = referenceHmac(tau0, concat(tau2, new byte[] {3}));
      assertThat(Kdf.derive(1, key, input)).isDeepEqualTo(new byte[][] {tau1});
      assertThat(Kdf.derive(2, key, input)).isDeepEqualTo(new byte[][] {tau1, tau2});
      assertThat(Kdf.derive(3, key, input)).isDeepEqualTo(new byte[][] {tau1, tau2, tau3});
    }
  }

  /** HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' = K (hashed if longer than a block) padded to 64 bytes. */
  static byte[] referenceHmac(byte[] key, byte[] message) {
    byte[] k = key.length > BLOCK ? Blake2s.hash(key) : key;
    k = Arrays.copyOf(k, BLOCK);
    byte[] ipad = new byte[BLOCK];
    byte[] opad = new byte[BLOCK];
    for (int i = 0; i < BLOCK; i++) {
      ipad[i] = (byte) (k[i] ^ 0x36);
      opad[i] = (byte) (k[i] ^ 0x5c);
    }
    return Blake2s.hash(opad, Blake2s.hash(ipad, message));
  }

  private static byte[] sequence(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) i;
    }
    return b;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    return ChaCha20Poly1305KnownAnswerTest.concat(a, b);
  }
}
