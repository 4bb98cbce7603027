package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Key text interoperability with the stock {@code wg} tool (wireguard-tools): {@code wg genkey}
 * keys give the public key {@code wg pubkey} prints, and keys we make {@code wg pubkey} accepts.
 * Skipped, with a message, where {@code wg} is not installed.
 */
class WgToolKatTest {
  private static String wg;

  @BeforeAll
  static void findWg() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir, "wg");
      if (Files.isExecutable(p)) {
        wg = p.toString();
        return;
      }
    }
  }

  @Test
  void publicKeyOfWgGenkeyKeyMatchesWgPubkey() throws Exception {
    assumeTrue(wg != null, "wg (wireguard-tools) is not installed; skipping wg interop");
    for (int i = 0; i < 5; i++) {
      String priv = run(null, "genkey");
      assertThat(Base64.getDecoder().decode(priv)).hasSize(32);
      String pub = run(priv, "pubkey");
      PrivateKey key = PrivateKey.fromBase64(priv);
      assertThat(key.publicKey().toBase64()).as("key %d", i).isEqualTo(pub);
      assertThat(key.toBase64()).as("wg genkey keys are already clamped").isEqualTo(priv);
      assertThat(PublicKey.fromBase64(pub)).isEqualTo(key.publicKey());
    }
  }

  @Test
  void wgPubkeyOfOurKeyMatchesOurPublicKey() throws Exception {
    assumeTrue(wg != null, "wg (wireguard-tools) is not installed; skipping wg interop");
    for (int i = 0; i < 3; i++) {
      PrivateKey key = PrivateKey.generate();
      assertThat(run(key.toBase64(), "pubkey")).isEqualTo(key.publicKey().toBase64());
    }
  }

  @Test
  void unclampedKeyTextIsClampedAsWgDoes() throws Exception {
    assumeTrue(wg != null, "wg (wireguard-tools) is not installed; skipping wg interop");
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    raw[0] |= 7;
    raw[31] |= (byte) 0x80;
    raw[31] &= ~0x40;
    String text = Base64.getEncoder().encodeToString(raw);
    assertThat(run(text, "pubkey")).isEqualTo(PrivateKey.fromBase64(text).publicKey().toBase64());
  }

  private static String run(String stdin, String command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(wg, command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write((stdin + "\n").getBytes(StandardCharsets.US_ASCII));
      }
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("wg %s exit status", command).isZero();
    return out;
  }
}
