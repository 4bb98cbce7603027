package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import org.bouncycastle.math.ec.rfc7748.X25519;
import org.junit.jupiter.api.Test;

/** X25519 against RFC 7748: section 5.2 scalar multiplication and the section 6.1 exchange. */
class X25519KnownAnswerTest {
  private static final HexFormat HEX = HexFormat.of();

  private static final String[][] SECTION_5_2 = {
    {
      "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    },
    {
      "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
      "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"
    },
  };

  private static final String ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
  private static final String ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  private static final String BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
  private static final String BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
  private static final String SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

  @Test
  void scalarMultMatchesRfc7748Section52() {
    for (String[] v : SECTION_5_2) {
      byte[] out = new byte[32];
      X25519.scalarMult(HEX.parseHex(v[0]), 0, HEX.parseHex(v[1]), 0, out, 0);
      assertThat(HEX.formatHex(out)).isEqualTo(v[2]);
    }
  }

  @Test
  void sharedSecretMatchesRfc7748Section52() {
    // PrivateKey clamps its scalar; X25519 clamps too, so the clamped key gives the same result.
    for (String[] v : SECTION_5_2) {
      byte[] out = new byte[32];
      assertThat(PrivateKey.of(HEX.parseHex(v[0])).sharedSecret(PublicKey.of(HEX.parseHex(v[1])), out, 0)).isTrue();
      assertThat(HEX.formatHex(out)).isEqualTo(v[2]);
    }
  }

  @Test
  void alicesAndBobsKeysMatchRfc7748Section61() {
    PrivateKey alice = PrivateKey.of(HEX.parseHex(ALICE_PRIVATE));
    PrivateKey bob = PrivateKey.of(HEX.parseHex(BOB_PRIVATE));
    assertThat(HEX.formatHex(alice.publicKey().toBytes())).isEqualTo(ALICE_PUBLIC);
    assertThat(HEX.formatHex(bob.publicKey().toBytes())).isEqualTo(BOB_PUBLIC);

    byte[] ab = new byte[32];
    byte[] ba = new byte[32];
    assertThat(alice.sharedSecret(PublicKey.of(HEX.parseHex(BOB_PUBLIC)), ab, 0)).isTrue();
    assertThat(bob.sharedSecret(PublicKey.of(HEX.parseHex(ALICE_PUBLIC)), ba, 0)).isTrue();
    assertThat(HEX.formatHex(ab)).isEqualTo(SHARED);
    assertThat(HEX.formatHex(ba)).isEqualTo(SHARED);
  }

  @Test
  void sharedSecretWithLowOrderPointIsRefused() {
    byte[] out = new byte[32];
    PrivateKey alice = PrivateKey.of(HEX.parseHex(ALICE_PRIVATE));
    assertThat(alice.sharedSecret(PublicKey.of(new byte[32]), out, 0)).isFalse();
    byte[] one = new byte[32];
    one[0] = 1;
    assertThat(alice.sharedSecret(PublicKey.of(one), out, 0)).isFalse();
  }
}
