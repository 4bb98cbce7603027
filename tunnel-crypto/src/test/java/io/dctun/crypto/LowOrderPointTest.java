package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link PublicKey#isLowOrder()} against the published list of Curve25519's small-order points
 * (curve and twist), and against the definition: X25519 with any clamped scalar is all zeros.
 */
class LowOrderPointTest {
  private static final HexFormat HEX = HexFormat.of();

  /**
   * The seven u-coordinates of small order, little-endian, as 255-bit values (libsodium's
   * {@code has_small_order} list; the order-8 values checked here by scalar multiplication too).
   */
  static final String[] SMALL_ORDER = {
    "0000000000000000000000000000000000000000000000000000000000000000", // 0: order 2
    "0100000000000000000000000000000000000000000000000000000000000000", // 1: order 4 (twist)
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1: order 2 (twist)
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p: 0, not reduced
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1: 1, not reduced
  };

  /** Every encoding of the list: each value, and each with the top bit (ignored by X25519) set. */
  static List<byte[]> allEncodings() {
    List<byte[]> out = new ArrayList<>();
    for (String h : SMALL_ORDER) {
      byte[] u = HEX.parseHex(h);
      out.add(u);
      byte[] high = u.clone();
      high[31] |= (byte) 0x80;
      out.add(high);
    }
    return out;
  }

  @Test
  void everyPublishedSmallOrderEncodingIsLowOrder() {
    List<byte[]> all = allEncodings();
    assertThat(all).hasSize(14);
    for (byte[] u : all) {
      assertThat(PublicKey.of(u).isLowOrder()).as(HEX.formatHex(u)).isTrue();
      assertThat(PublicKey.of(u).isUsable()).as(HEX.formatHex(u)).isFalse();
      assertThat(PublicKey.isLowOrder(u, 0)).as(HEX.formatHex(u)).isTrue();
    }
  }

  @Test
  void agreementWithAnySmallOrderPointIsAllZeros() {
    // The definition the test relies on: whatever the (clamped) private key, the result is zero.
    for (int i = 0; i < 4; i++) {
      PrivateKey k = PrivateKey.generate();
      byte[] out = new byte[32];
      for (byte[] u : allEncodings()) {
        assertThat(k.sharedSecret(PublicKey.of(u), out, 0)).as(HEX.formatHex(u)).isFalse();
        assertThat(ConstantTime.isZero(out, 0, 32)).isTrue();
      }
    }
  }

  @Test
  void realKeysAreUsable() {
    for (int i = 0; i < 50; i++) {
      assertThat(PrivateKey.generate().publicKey().isUsable()).isTrue();
    }
    // RFC 7748 section 6.1's keys, and the base point u = 9.
    assertThat(PublicKey.of(HEX.parseHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")).isUsable()).isTrue();
    assertThat(PublicKey.of(HEX.parseHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")).isUsable()).isTrue();
    byte[] nine = new byte[32];
    nine[0] = 9;
    assertThat(PublicKey.of(nine).isUsable()).isTrue();
  }

  @Test
  void nearMissesOfTheListAreUsable() {
    // One bit away from a listed point (the top bit aside) is an ordinary point: the test is exact.
    SplittableRandom r = new SplittableRandom(13);
    for (String h : SMALL_ORDER) {
      for (int n = 0; n < 8; n++) {
        byte[] u = HEX.parseHex(h);
        int bit = r.nextInt(255);
        u[bit >>> 3] ^= (byte) (1 << (bit & 7));
        boolean listed = false;
        for (byte[] e : allEncodings()) {
          listed |= java.util.Arrays.equals(e, u);
        }
        PrivateKey k = PrivateKey.generate();
        boolean zero = !k.sharedSecret(PublicKey.of(u), new byte[32], 0);
        assertThat(PublicKey.of(u).isLowOrder()).as(HEX.formatHex(u)).isEqualTo(listed).isEqualTo(zero);
      }
    }
  }

  @Test
  void randomBytesMatchTheDefinition() {
    SplittableRandom r = new SplittableRandom(7748);
    PrivateKey k = PrivateKey.generate();
    for (int i = 0; i < 200; i++) {
      byte[] u = new byte[32];
      r.nextBytes(u);
      boolean zero = !k.sharedSecret(PublicKey.of(u), new byte[32], 0);
      assertThat(PublicKey.of(u).isLowOrder()).isEqualTo(zero).isFalse();
    }
  }

  @Test
  void fingerprintNamesTheKeyWithoutItsBytes() {
    PublicKey zero = PublicKey.of(new byte[32]);
    assertThat(zero.fingerprint()).matches("[0-9a-f]{8}").isNotEqualTo("00000000");
    assertThat(zero.fingerprint()).isEqualTo(PublicKey.of(new byte[32]).fingerprint());
    PublicKey k = PrivateKey.generate().publicKey();
    assertThat(k.toBase64()).doesNotContain(k.fingerprint());
  }

  @Test
  void shortInputIsRefused() {
    assertThatThrownBy(() -> PublicKey.isLowOrder(new byte[31], 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PublicKey.isLowOrder(new byte[32], 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
