package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/**
 * ChaCha20-Poly1305 against RFC 8439 (section 2.8.2 and appendix A.5), and the two data-path
 * {@link TransportCipher}s against each other and against the one-shot {@link Aead} path.
 *
 * <p>Both RFC vectors carry associated data and the 2.8.2 nonce has a non-zero prefix, so neither
 * fits the transport nonce form (4 zero bytes, little-endian counter, no AD). The transport
 * ciphers are therefore pinned to {@link Aead#sealWithNonce}, which the RFC vectors pin, and the
 * JDK provider that {@code JdkTransportCipher} wraps is checked against 2.8.2 directly.
 */
class ChaCha20Poly1305KnownAnswerTest {
  private static final HexFormat HEX = HexFormat.of();

  // RFC 8439 section 2.8.2.
  private static final byte[] KEY_282 = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  private static final byte[] NONCE_282 = hex("070000004041424344454647");
  private static final byte[] AAD_282 = hex("50515253c0c1c2c3c4c5c6c7");
  private static final byte[] PLAIN_282 = ("Ladies and Gentlemen of the class of '99: If I could offer you only one "
      + "tip for the future, sunscreen would be it.").getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CIPHER_282 = hex(
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
          + "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
          + "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
          + "3ff4def08e4b7a9de576d26586cec64b6116");
  private static final byte[] TAG_282 = hex("1ae10b594f09e26a7e902ecbd0600691");

  // RFC 8439 appendix A.5 (decryption).
  private static final byte[] KEY_A5 = hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
  private static final byte[] NONCE_A5 = hex("000000000102030405060708");
  private static final byte[] AAD_A5 = hex("f33388860000000000004e91");
  private static final byte[] CIPHER_A5 = hex(
      "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
          + "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
          + "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
          + "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
          + "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
          + "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
          + "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
          + "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
          + "a6ad5cb4022b02709b");
  private static final byte[] TAG_A5 = hex("eead9d67890cbb22392336fea1851f38");
  private static final byte[] PLAIN_A5 = hex(
      "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
          + "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
          + "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
          + "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
          + "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
          + "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
          + "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
          + "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
          + "726573732e2fe2809d");

  @Test
  void sealMatchesRfc8439Section282() {
    assertThat(Aead.sealWithNonce(KEY_282, NONCE_282, PLAIN_282, AAD_282)).isEqualTo(concat(CIPHER_282, TAG_282));
  }

  @Test
  void openMatchesRfc8439Section282() {
    assertThat(Aead.openWithNonce(KEY_282, NONCE_282, concat(CIPHER_282, TAG_282), AAD_282)).isEqualTo(PLAIN_282);
  }

  @Test
  void openRefusesRfc8439Section282WithAnyFlippedBit() {
    byte[] sealed = concat(CIPHER_282, TAG_282);
    for (int bit = 0; bit < sealed.length * 8; bit += 7) {
      byte[] bad = sealed.clone();
      bad[bit / 8] ^= (byte) (1 << (bit % 8));
      assertThat(Aead.openWithNonce(KEY_282, NONCE_282, bad, AAD_282)).as("bit %d", bit).isNull();
    }
    byte[] badAad = AAD_282.clone();
    badAad[0] ^= 1;
    assertThat(Aead.openWithNonce(KEY_282, NONCE_282, sealed, badAad)).isNull();
  }

  @Test
  void jdkProviderMatchesRfc8439Section282() throws Exception {
    Cipher c = Cipher.getInstance("ChaCha20-Poly1305");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(KEY_282, "ChaCha20"), new IvParameterSpec(NONCE_282));
    c.updateAAD(AAD_282);
    assertThat(c.doFinal(PLAIN_282)).isEqualTo(concat(CIPHER_282, TAG_282));
    // A fresh Cipher: JDK 17 refuses to re-initialise one with the previous key and nonce.
    Cipher d = Cipher.getInstance("ChaCha20-Poly1305");
    d.init(Cipher.DECRYPT_MODE, new SecretKeySpec(KEY_282, "ChaCha20"), new IvParameterSpec(NONCE_282));
    d.updateAAD(AAD_282);
    assertThat(d.doFinal(concat(CIPHER_282, TAG_282))).isEqualTo(PLAIN_282);
  }

  @Test
  void openMatchesRfc8439AppendixA5() {
    assertThat(Aead.openWithNonce(KEY_A5, NONCE_A5, concat(CIPHER_A5, TAG_A5), AAD_A5)).isEqualTo(PLAIN_A5);
    assertThat(Aead.sealWithNonce(KEY_A5, NONCE_A5, PLAIN_A5, AAD_A5)).isEqualTo(concat(CIPHER_A5, TAG_A5));
  }

  @Test
  void counterFormOfSealMatchesRfc8439AppendixA5Nonce() {
    // A.5's nonce is 00000000 || 0102030405060708, i.e. the WireGuard form of this counter.
    long counter = 0x0807060504030201L;
    assertThat(Aead.open(KEY_A5, counter, concat(CIPHER_A5, TAG_A5), AAD_A5)).isEqualTo(PLAIN_A5);
    assertThat(Aead.seal(KEY_A5, counter, PLAIN_A5, AAD_A5)).isEqualTo(concat(CIPHER_A5, TAG_A5));
  }

  @Test
  void transportCiphersMatchOneShotAeadWithWireGuardNonce() {
    for (Aead.Impl impl : Aead.Impl.values()) {
      long counter = 0x0807060504030201L;
      byte[] buf = new byte[8 + PLAIN_A5.length + 16 + 5];
      System.arraycopy(PLAIN_A5, 0, buf, 8, PLAIN_A5.length);
      int n = Aead.transport(impl, KEY_A5, true).seal(counter, buf, 8, PLAIN_A5.length);
      assertThat(n).isEqualTo(PLAIN_A5.length + 16);
      assertThat(Arrays.copyOfRange(buf, 8, 8 + n))
          .as(impl.name())
          .isEqualTo(Aead.sealWithNonce(KEY_A5, NONCE_A5, PLAIN_A5, new byte[0]));
      int m = Aead.transport(impl, KEY_A5, false).open(counter, buf, 8, n);
      assertThat(m).isEqualTo(PLAIN_A5.length);
      assertThat(Arrays.copyOfRange(buf, 8, 8 + m)).as(impl.name()).isEqualTo(PLAIN_A5);
    }
  }

  @Test
  void jdkAndBouncyCastleTransportCiphersAgreeOnRandomPackets() {
    SplittableRandom rnd = new SplittableRandom(8439);
    for (int i = 0; i < 600; i++) {
      byte[] key = bytes(rnd, 32);
      long counter = switch (i % 4) {
        case 0 -> i;
        case 1 -> -1L - i; // counters above 2^63 as unsigned
        default -> rnd.nextLong();
      };
      int len = i < 20 ? i : rnd.nextInt(1501);
      int off = rnd.nextInt(17);
      byte[] plain = bytes(rnd, len);
      byte[] jdk = new byte[off + len + 16];
      byte[] bc = new byte[off + len + 16];
      System.arraycopy(plain, 0, jdk, off, len);
      System.arraycopy(plain, 0, bc, off, len);

      assertThat(Aead.transport(Aead.Impl.JDK, key, true).seal(counter, jdk, off, len)).isEqualTo(len + 16);
      assertThat(Aead.transport(Aead.Impl.BOUNCYCASTLE, key, true).seal(counter, bc, off, len)).isEqualTo(len + 16);
      assertThat(jdk).as("case %d, len %d", i, len).isEqualTo(bc);
      assertThat(Arrays.copyOfRange(jdk, off, off + len + 16))
          .isEqualTo(Aead.sealWithNonce(key, wireGuardNonce(counter), plain, new byte[0]));

      // Each opens what the other sealed.
      assertThat(Aead.transport(Aead.Impl.BOUNCYCASTLE, key, false).open(counter, jdk, off, len + 16)).isEqualTo(len);
      assertThat(Aead.transport(Aead.Impl.JDK, key, false).open(counter, bc, off, len + 16)).isEqualTo(len);
      assertThat(Arrays.copyOfRange(jdk, off, off + len)).isEqualTo(plain);
      assertThat(Arrays.copyOfRange(bc, off, off + len)).isEqualTo(plain);
    }
  }

  @Test
  void dctunsOwnCipherAgreesWithTheJdksOnRandomPacketsAndKeepsAForgeryUnread() {
    SplittableRandom rnd = new SplittableRandom(7539);
    for (int i = 0; i < 1000; i++) {
      byte[] key = bytes(rnd, 32);
      long counter = switch (i % 4) {
        case 0 -> i;
        case 1 -> -1L - i;
        default -> rnd.nextLong();
      };
      // every length up to 130 (all partial-block cases of both ChaCha20 and Poly1305), then random
      int len = i <= 130 ? i : rnd.nextInt(9000);
      int off = rnd.nextInt(17);
      byte[] plain = bytes(rnd, len);
      byte[] jdk = new byte[off + len + 16 + 3];
      byte[] own = new byte[off + len + 16 + 3];
      System.arraycopy(plain, 0, jdk, off, len);
      System.arraycopy(plain, 0, own, off, len);
      assertThat(Aead.transport(Aead.Impl.JDK, key, true).seal(counter, jdk, off, len)).isEqualTo(len + 16);
      TransportCipher sealer = Aead.transport(Aead.Impl.JAVA, key, true);
      assertThat(sealer.seal(counter, own, off, len)).isEqualTo(len + 16);
      assertThat(own).as("case %d, len %d, counter %d", i, len, counter).isEqualTo(jdk);

      TransportCipher opener = Aead.transport(Aead.Impl.JAVA, key, false);
      byte[] forged = own.clone();
      forged[off + rnd.nextInt(len + 16)] ^= (byte) (1 << rnd.nextInt(8));
      byte[] before = forged.clone();
      assertThat(opener.open(counter, forged, off, len + 16)).isEqualTo(-1);
      assertThat(forged).as("a forgery is refused before anything is decrypted").isEqualTo(before);
      assertThat(opener.open(counter, own, off, len + 16)).isEqualTo(len);
      assertThat(Arrays.copyOfRange(own, off, off + len)).isEqualTo(plain);
    }
    TransportCipher sealer = Aead.transport(Aead.Impl.JAVA, new byte[32], true);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> sealer.open(0, new byte[32], 0, 32))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void theDataPathTakesTheJdkCipherWhereItIsIntrinsifiedAndDctunsOwnBefore() {
    assertThat(Aead.chooseDefault("auto", 17)).isEqualTo(Aead.Impl.JAVA);
    assertThat(Aead.chooseDefault("auto", 20)).isEqualTo(Aead.Impl.JAVA);
    assertThat(Aead.chooseDefault("auto", 21)).isEqualTo(Aead.Impl.JDK);
    assertThat(Aead.chooseDefault("auto", 25)).isEqualTo(Aead.Impl.JDK);
    assertThat(Aead.chooseDefault("java", 25)).isEqualTo(Aead.Impl.JAVA);
    assertThat(Aead.chooseDefault("JDK", 17)).isEqualTo(Aead.Impl.JDK);
    assertThat(Aead.chooseDefault("bc", 25)).isEqualTo(Aead.Impl.BOUNCYCASTLE);
    assertThat(Aead.chooseDefault("nonsense", 17)).isEqualTo(Aead.Impl.JAVA);
  }

  @Test
  void reusedTransportCiphersAgreeAcrossManyCounters() {
    SplittableRandom rnd = new SplittableRandom(17);
    byte[] key = bytes(rnd, 32);
    TransportCipher[] sealers = {Aead.transport(Aead.Impl.JDK, key, true), Aead.transport(Aead.Impl.BOUNCYCASTLE, key, true)};
    TransportCipher[] openers = {Aead.transport(Aead.Impl.JDK, key, false), Aead.transport(Aead.Impl.BOUNCYCASTLE, key, false)};
    for (long counter = 0; counter < 300; counter++) {
      int len = rnd.nextInt(1501);
      byte[] plain = bytes(rnd, len);
      byte[][] out = new byte[2][];
      for (int s = 0; s < 2; s++) {
        out[s] = Arrays.copyOf(plain, len + 16);
        sealers[s].seal(counter, out[s], 0, len);
      }
      assertThat(out[0]).as("counter %d", counter).isEqualTo(out[1]);
      for (int o = 0; o < 2; o++) {
        byte[] b = out[o].clone();
        assertThat(openers[1 - o].open(counter, b, 0, len + 16)).isEqualTo(len);
        assertThat(Arrays.copyOf(b, len)).isEqualTo(plain);
      }
    }
  }

  @Test
  void transportOpenRefusesAFlippedBitInCiphertextOrTagAndStaysUsable() {
    SplittableRandom rnd = new SplittableRandom(1305);
    for (Aead.Impl impl : Aead.Impl.values()) {
      byte[] key = bytes(rnd, 32);
      TransportCipher sealer = Aead.transport(impl, key, true);
      TransportCipher opener = Aead.transport(impl, key, false);
      for (int i = 0; i < 200; i++) {
        int len = i < 3 ? i : rnd.nextInt(1501);
        long counter = i;
        byte[] sealed = Arrays.copyOf(bytes(rnd, len), len + 16);
        byte[] plain = Arrays.copyOf(sealed, len);
        sealer.seal(counter, sealed, 0, len);

        int bit = rnd.nextInt((len + 16) * 8);
        if (i % 2 == 0) { // half the time in the tag
          bit = len * 8 + rnd.nextInt(128);
        }
        byte[] bad = sealed.clone();
        bad[bit / 8] ^= (byte) (1 << (bit % 8));
        assertThat(opener.open(counter, bad, 0, len + 16)).as("%s len %d bit %d", impl, len, bit).isEqualTo(-1);
        // A wrong counter is refused as well.
        assertThat(opener.open(counter + 1, sealed.clone(), 0, len + 16)).isEqualTo(-1);
        // A forged packet must not break the cipher for the next genuine one.
        assertThat(opener.open(counter, sealed, 0, len + 16)).isEqualTo(len);
        assertThat(Arrays.copyOf(sealed, len)).isEqualTo(plain);
      }
      assertThat(opener.open(0, new byte[15], 0, 15)).isEqualTo(-1);
    }
  }

  @Test
  void transportOpenAcceptsTheGenuinePacketAfterAForgeryWithTheSameCounter() {
    // A forged packet carrying the next counter must not make the genuine one undecryptable: the
    // replay window only advances on a packet that authenticates, so both reach open in a row.
    SplittableRandom rnd = new SplittableRandom(21);
    for (Aead.Impl impl : Aead.Impl.values()) {
      byte[] key = bytes(rnd, 32);
      TransportCipher opener = Aead.transport(impl, key, false);
      for (long counter = 0; counter < 5; counter++) {
        byte[] sealed = Arrays.copyOf(bytes(rnd, 100), 116);
        byte[] plain = Arrays.copyOf(sealed, 100);
        Aead.transport(impl, key, true).seal(counter, sealed, 0, 100);
        byte[] forged = sealed.clone();
        forged[3] ^= 1;
        assertThat(opener.open(counter, forged, 0, 116)).as("%s forged", impl).isEqualTo(-1);
        assertThat(opener.open(counter, sealed.clone(), 0, 116)).as("%s genuine, counter %d", impl, counter).isEqualTo(100);
        // And the same genuine packet twice (a duplicate the replay window will drop later).
        assertThat(opener.open(counter, sealed, 0, 116)).as("%s duplicate", impl).isEqualTo(100);
        assertThat(Arrays.copyOf(sealed, 100)).isEqualTo(plain);
      }
    }
  }

  static byte[] wireGuardNonce(long counter) {
    byte[] n = new byte[12];
    for (int i = 0; i < 8; i++) {
      n[4 + i] = (byte) (counter >>> (8 * i));
    }
    return n;
  }

  static byte[] bytes(SplittableRandom rnd, int n) {
    byte[] b = new byte[n];
    rnd.nextBytes(b);
    return b;
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static byte[] hex(String s) {
    return HEX.parseHex(s);
  }
}
