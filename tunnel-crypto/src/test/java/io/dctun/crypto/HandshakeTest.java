package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HandshakeTest {
  private static final long T0 = 1_790_000_000_000_000_000L;
  final PrivateKey a = PrivateKey.generate();
  final PrivateKey b = PrivateKey.generate();
  final LocalIdentity idA = new LocalIdentity(a);
  final LocalIdentity idB = new LocalIdentity(b);

  private SessionKeys[] handshake(PresharedKey pskA, PresharedKey pskB) {
    Handshake ha = new Handshake(idA, b.publicKey(), pskA);
    Handshake hb = new Handshake(idB, a.publicKey(), pskB);
    byte[] init = ha.createInitiation(11, T0);
    Handshake.Initiation parsed = Handshake.parseInitiation(idB, init);
    assertThat(parsed.initiatorKey()).isEqualTo(a.publicKey());
    Handshake.Response resp = hb.createResponse(parsed, 22);
    SessionKeys ka = ha.consumeResponse(resp.message());
    return new SessionKeys[] {ka, resp.keys()};
  }

  @Test
  void bothSidesDeriveMatchingTransportKeys() {
    SessionKeys[] k = handshake(PresharedKey.NONE, PresharedKey.NONE);
    assertThat(k[0]).isNotNull();
    assertThat(k[0].localIndex()).isEqualTo(11);
    assertThat(k[0].remoteIndex()).isEqualTo(22);
    assertThat(k[1].localIndex()).isEqualTo(22);
    assertThat(k[1].remoteIndex()).isEqualTo(11);
    byte[] buf = new byte[64];
    buf[0] = 42;
    int n = k[0].newSealer().seal(5, buf, 0, 32);
    assertThat(n).isEqualTo(48);
    assertThat(k[1].newOpener().open(5, buf, 0, n)).isEqualTo(32);
    assertThat(buf[0]).isEqualTo((byte) 42);
    n = k[1].newSealer().seal(0, buf, 0, 16);
    assertThat(k[0].newOpener().open(0, buf, 0, n)).isEqualTo(16);
  }

  @Test
  void mismatchedPresharedKeyFailsAtResponse() {
    SessionKeys[] k = handshake(PresharedKey.generate(), PresharedKey.generate());
    assertThat(k[0]).isNull();
  }

  @Test
  void matchingPresharedKeySucceeds() {
    PresharedKey psk = PresharedKey.generate();
    assertThat(handshake(psk, psk)[0]).isNotNull();
  }

  @Test
  void responseToAnotherIndexIsRefused() {
    Handshake ha = new Handshake(idA, b.publicKey(), null);
    Handshake hb = new Handshake(idB, a.publicKey(), null);
    ha.createInitiation(11, T0);
    byte[] other = new Handshake(idA, b.publicKey(), null).createInitiation(99, T0);
    Handshake.Response resp = hb.createResponse(Handshake.parseInitiation(idB, other), 1);
    assertThat(ha.consumeResponse(resp.message())).isNull();
    assertThat(ha.lastFailure()).isEqualTo(Handshake.Failure.UNEXPECTED_RESPONSE);
  }

  @Test
  void olderTimestampIsRefusedNewerAccepted() {
    Handshake ha = new Handshake(idA, b.publicKey(), null);
    Handshake hb = new Handshake(idB, a.publicKey(), null);
    byte[] later = new Handshake(idA, b.publicKey(), null).createInitiation(1, T0 + 10_000_000_000L);
    assertThat(hb.createResponse(Handshake.parseInitiation(idB, later), 1)).isNotNull();
    byte[] earlier = ha.createInitiation(2, T0);
    assertThat(hb.createResponse(Handshake.parseInitiation(idB, earlier), 2)).isNull();
    assertThat(hb.lastFailure()).isEqualTo(Handshake.Failure.REPLAYED_TIMESTAMP);
  }

  @Test
  void timestampFloorLiftsALaggingClock() {
    Handshake twin = new Handshake(idA, b.publicKey(), null);
    twin.createInitiation(1, T0 + 60_000_000_000L);
    Handshake lagging = new Handshake(idA, b.publicKey(), null);
    lagging.setTimestampFloor(twin.lastTimestampSent());
    Handshake hb = new Handshake(idB, a.publicKey(), null);
    byte[] first = new Handshake(idA, b.publicKey(), null).createInitiation(3, T0 + 60_000_000_000L);
    assertThat(hb.createResponse(Handshake.parseInitiation(idB, first), 1)).isNotNull();
    byte[] fromLagging = lagging.createInitiation(2, T0);
    assertThat(Tai64n.isAfter(lagging.lastTimestampSent(), twin.lastTimestampSent())).isTrue();
    assertThat(hb.createResponse(Handshake.parseInitiation(idB, fromLagging), 2)).isNotNull();
  }

  @Test
  void initiationsFromOneSideHaveIncreasingTimestampsEvenWithinOneWhiteningStep() {
    Handshake ha = new Handshake(idA, b.publicKey(), null);
    Handshake hb = new Handshake(idB, a.publicKey(), null);
    for (int i = 0; i < 5; i++) {
      byte[] init = ha.createInitiation(i, T0 + i);
      assertThat(hb.createResponse(Handshake.parseInitiation(idB, init), i)).isNotNull();
    }
  }

  @Test
  void secretsNeverAppearInToString() {
    assertThat(a.toString()).doesNotContain(a.toBase64());
    PresharedKey psk = PresharedKey.generate();
    assertThat(psk.toString()).doesNotContain(psk.toBase64());
    SessionKeys[] k = handshake(PresharedKey.NONE, PresharedKey.NONE);
    assertThat(k[0].toString()).doesNotContainIgnoringCase("key=");
  }

  @Test
  void lowOrderRemoteKeyIsRefused() {
    PublicKey zero = PublicKey.of(new byte[32]);
    assertThatThrownBy(() -> new Handshake(idA, zero, null).createInitiation(1, T0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("low-order");
  }
}
