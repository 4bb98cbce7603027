package io.dctun.core.interop;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.TestData;
import io.dctun.crypto.CookieChecker;
import io.dctun.crypto.Handshake;
import io.dctun.crypto.LocalIdentity;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.Tai64n;
import io.dctun.crypto.WireFormat;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Known answers from a real wireguard-go handshake (shared/testdata/wireguard), for tunnel-crypto's
 * handshake, MACs and TAI64N. It lives in tunnel-core because it reads the capture with the shared
 * {@link Pcap} of core's test-jar, which tunnel-crypto cannot depend on (core depends on crypto);
 * it uses only crypto's public API.
 */
class HandshakeCaptureTest {
  static PrivateKey initKey;
  static PrivateKey respKey;
  static PresharedKey psk;
  static List<byte[]> messages;

  @BeforeAll
  static void load() throws Exception {
    initKey = PrivateKey.fromBase64(Files.readString(TestData.path("wireguard", "init.key")));
    respKey = PrivateKey.fromBase64(Files.readString(TestData.path("wireguard", "resp.key")));
    psk = PresharedKey.fromBase64(Files.readString(TestData.path("wireguard", "psk")));
    messages = Pcap.udpPayloads(TestData.path("wireguard", "wg.pcap"));
  }

  @Test
  void capturedKeysMatchCapturedPublicKeys() throws Exception {
    assertThat(initKey.publicKey().toBase64())
        .isEqualTo(Files.readString(TestData.path("wireguard", "init.pub")).strip());
    assertThat(respKey.publicKey().toBase64())
        .isEqualTo(Files.readString(TestData.path("wireguard", "resp.pub")).strip());
  }

  @Test
  void captureHasUpstreamMessageSizes() {
    assertThat(messages).hasSize(8);
    assertThat(messages.get(0)).hasSize(WireFormat.INITIATION_LENGTH);
    assertThat(messages.get(1)).hasSize(WireFormat.RESPONSE_LENGTH);
    for (int i = 2; i < 8; i++) {
      assertThat(messages.get(i)).hasSize(128);
    }
  }

  @Test
  void initiationMac1VerifiesUnderResponderKey() {
    byte[] init = messages.get(0);
    CookieChecker responder = new CookieChecker(new LocalIdentity(respKey));
    assertThat(responder.checkMac1(init, 0, init.length)).isTrue();
    CookieChecker wrong = new CookieChecker(new LocalIdentity(initKey));
    assertThat(wrong.checkMac1(init, 0, init.length)).isFalse();
  }

  @Test
  void initiationDecryptsToInitiatorStaticAndCapturedTimestamp() {
    byte[] init = messages.get(0);
    Handshake.Initiation parsed = Handshake.parseInitiation(new LocalIdentity(respKey), init);
    assertThat(parsed).isNotNull();
    assertThat(parsed.initiatorKey()).isEqualTo(initKey.publicKey());
    assertThat(WireFormat.getIntLE(init, 4)).isEqualTo(0xb47e9654);
    Instant ts = Instant.ofEpochSecond(0, Tai64n.toEpochNanos(parsed.timestamp()));
    assertThat(ts).isEqualTo(Instant.parse("2026-11-24T23:06:00.922746880Z"));
  }

  @Test
  void responseMac1VerifiesUnderInitiatorKey() {
    byte[] resp = messages.get(1);
    CookieChecker initiator = new CookieChecker(new LocalIdentity(initKey));
    assertThat(initiator.checkMac1(resp, 0, resp.length)).isTrue();
  }

  @Test
  void respondsToCapturedInitiationOnceAndRefusesItsReplay() {
    Handshake hs = new Handshake(new LocalIdentity(respKey), initKey.publicKey(), psk);
    Handshake.Initiation parsed = Handshake.parseInitiation(new LocalIdentity(respKey), messages.get(0));
    Handshake.Response r = hs.createResponse(parsed, 7);
    assertThat(r).isNotNull();
    assertThat(r.message()).hasSize(WireFormat.RESPONSE_LENGTH);
    assertThat(WireFormat.getIntLE(r.message(), WireFormat.RESP_RECEIVER)).isEqualTo(0xb47e9654);

    Handshake.Initiation again = Handshake.parseInitiation(new LocalIdentity(respKey), messages.get(0));
    assertThat(hs.createResponse(again, 8)).isNull();
    assertThat(hs.lastFailure()).isEqualTo(Handshake.Failure.REPLAYED_TIMESTAMP);
  }

  @Test
  void tamperedInitiationDoesNotDecrypt() {
    byte[] init = messages.get(0).clone();
    init[WireFormat.INIT_STATIC + 3] ^= 1;
    assertThat(Handshake.parseInitiation(new LocalIdentity(respKey), init)).isNull();
  }
}
