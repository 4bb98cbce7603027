package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** HChaCha20 and XChaCha20-Poly1305 (cookie replies) against draft-irtf-cfrg-xchacha-03. */
class XChaCha20Poly1305KnownAnswerTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void hchacha20MatchesDraftSection221() {
    byte[] key = HEX.parseHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    byte[] nonce = HEX.parseHex("000000090000004a0000000031415927");
    assertThat(HEX.formatHex(HChaCha20.derive(key, nonce)))
        .isEqualTo("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
  }

  // draft-irtf-cfrg-xchacha-03 appendix A.3.1.
  private static final byte[] KEY = HEX.parseHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  private static final byte[] NONCE = HEX.parseHex("404142434445464748494a4b4c4d4e4f5051525354555657");
  private static final byte[] AAD = HEX.parseHex("50515253c0c1c2c3c4c5c6c7");
  private static final byte[] PLAIN = ("Ladies and Gentlemen of the class of '99: If I could offer you only one "
      + "tip for the future, sunscreen would be it.").getBytes(StandardCharsets.US_ASCII);
  private static final String SEALED =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
          + "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
          + "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
          + "21f9664c97637da9768812f615c68b13b52e"
          + "c0875924c1c7987947deafd8780acf49";

  @Test
  void xsealMatchesDraftAppendixA31() {
    assertThat(HEX.formatHex(Aead.xseal(KEY, NONCE, PLAIN, AAD))).isEqualTo(SEALED);
  }

  @Test
  void xopenMatchesDraftAppendixA31() {
    assertThat(Aead.xopen(KEY, NONCE, HEX.parseHex(SEALED), AAD)).isEqualTo(PLAIN);
  }

  @Test
  void xopenRefusesTamperedInput() {
    byte[] sealed = HEX.parseHex(SEALED);
    for (int i = 0; i < sealed.length; i += 5) {
      byte[] bad = sealed.clone();
      bad[i] ^= 0x20;
      assertThat(Aead.xopen(KEY, NONCE, bad, AAD)).as("byte %d", i).isNull();
    }
    byte[] badNonce = NONCE.clone();
    badNonce[20] ^= 1; // in the part that goes to ChaCha20, not HChaCha20
    assertThat(Aead.xopen(KEY, badNonce, sealed, AAD)).isNull();
    badNonce = NONCE.clone();
    badNonce[3] ^= 1; // in the part that goes to HChaCha20
    assertThat(Aead.xopen(KEY, badNonce, sealed, AAD)).isNull();
  }
}
