package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.TRANSPORT_HEADER_LENGTH;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.control.ControlFrame;
import io.dctun.core.control.ControlSend;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The control channel between dctun peers, over the in-memory {@link Pair}: no network, a fake clock. */
class ControlChannelTest {
  static final int TYPE = ControlFrame.FIRST_USER_TYPE + 1;

  /** What a handler was given. */
  record Got(PublicKey from, int type, byte[] payload) {}

  static List<Got> listen(Device d, int type) {
    List<Got> got = new ArrayList<>();
    d.control().register(type, (from, t, buf, off, len, now) -> got.add(new Got(from, t, Arrays.copyOfRange(buf, off, off + len))));
    return got;
  }

  /** A pair whose peers know each other as dctun ({@code aSeesB}: A's config of B; {@code bSeesA}: B's of A). */
  static Pair pair(boolean aSeesB, boolean bSeesA) {
    Pair p = new Pair(true);
    p.bAtA = p.a.addPeer(p.bAtA.config().withDctun(aSeesB));
    p.aAtB = p.b.addPeer(p.aAtB.config().withDctun(bSeesA));
    return p;
  }

  static Pair established(boolean aSeesB, boolean bSeesA) {
    Pair p = pair(aSeesB, bSeesA);
    p.send(p.a, Pair.ping("198.18.1.10", "198.18.2.10", 1));
    p.pump();
    assertThat(p.netB.delivered).hasSize(1);
    p.netB.delivered.clear();
    return p;
  }

  static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  @Test
  void aMessageBetweenDctunPeersReachesTheHandlerAndNotTheTun() {
    Pair p = established(true, true);
    List<Got> got = listen(p.b, TYPE);
    byte[] payload = bytes("host 198.18.2.77 is here");
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, payload, 0, payload.length, p.clock.now)).isEqualTo(ControlSend.SENT);
    p.pump();
    assertThat(got).hasSize(1);
    assertThat(got.get(0).from()).isEqualTo(p.keyA.publicKey());
    assertThat(got.get(0).type()).isEqualTo(TYPE);
    assertThat(got.get(0).payload()).containsExactly(payload);
    assertThat(p.netB.delivered).as("never handed to the TUN").isEmpty();
    assertThat(p.a.control().sent()).isEqualTo(1);
    assertThat(p.b.control().received()).isEqualTo(1);
    assertThat(p.b.drops().total()).isZero();
    byte[] wire = p.netA.sent.get(p.netA.sent.size() - 1);
    assertThat((wire.length - TRANSPORT_HEADER_LENGTH - 16) % 16).as("padded like data").isZero();
  }

  @Test
  void anEmptyPayloadAndTheLargestOneThatFitsBothArrive() {
    Pair p = established(true, true);
    List<Got> got = listen(p.b, TYPE);
    byte[] big = new byte[p.a.mtu() - ControlFrame.HEADER_LENGTH];
    Arrays.fill(big, (byte) 7);
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, new byte[0], 0, 0, p.clock.now)).isEqualTo(ControlSend.SENT);
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, big, 0, big.length, p.clock.now)).isEqualTo(ControlSend.SENT);
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, new byte[big.length + 1], 0, big.length + 1, p.clock.now))
        .isEqualTo(ControlSend.TOO_BIG);
    p.pump();
    assertThat(got).extracting(g -> g.payload().length).containsExactly(0, big.length);
    assertThat(got.get(1).payload()).containsExactly(big);
  }

  @Test
  void beforeASessionExistsTheMessageWaitsForTheHandshake() {
    Pair p = pair(true, true);
    List<Got> got = listen(p.b, TYPE);
    byte[] payload = bytes("hello");
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, payload, 0, payload.length, p.clock.now)).isEqualTo(ControlSend.QUEUED);
    p.pump();
    assertThat(got).extracting(Got::payload).containsExactly(payload);
  }

  @Test
  void aStockWireGuardPeerNeverGetsOne() {
    Pair p = established(false, true);
    int before = p.netA.sent.size();
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, new byte[4], 0, 4, p.clock.now)).isEqualTo(ControlSend.NOT_DCTUN);
    assertThat(p.netA.sent).as("nothing on the wire").hasSize(before);
    assertThat(p.a.control().send(PrivateKey.generate().publicKey(), TYPE, new byte[4], 0, 4, p.clock.now))
        .isEqualTo(ControlSend.UNKNOWN_PEER);
    assertThat(p.a.control().sent()).isZero();
  }

  @Test
  void oneFromAPeerNotKnownAsDctunIsDroppedAndCounted() {
    Pair p = established(true, false);
    List<Got> got = listen(p.b, TYPE);
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE, new byte[4], 0, 4, p.clock.now)).isEqualTo(ControlSend.SENT);
    p.pump();
    assertThat(got).isEmpty();
    assertThat(p.netB.delivered).isEmpty();
    assertThat(p.b.drops().count(DropReason.CONTROL_UNEXPECTED)).isEqualTo(1);
  }

  @Test
  void anUnhandledTypeIsCountedAndTheSessionGoesOn() {
    Pair p = established(true, true);
    assertThat(p.a.control().send(p.keyB.publicKey(), TYPE + 1, new byte[4], 0, 4, p.clock.now)).isEqualTo(ControlSend.SENT);
    p.pump();
    assertThat(p.b.drops().count(DropReason.CONTROL_UNHANDLED)).isEqualTo(1);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.2.10", 2);
    p.send(p.a, ping);
    p.pump();
    assertThat(p.netB.delivered).containsExactly(ping);
  }

  @Test
  void aHandlerThatThrowsIsCountedAndDoesNotHurtTheSession() {
    Pair p = established(true, true);
    p.b.control().register(TYPE, (from, t, buf, off, len, now) -> {
      throw new IllegalStateException("handler bug");
    });
    p.a.control().send(p.keyB.publicKey(), TYPE, new byte[4], 0, 4, p.clock.now);
    p.pump();
    assertThat(p.b.drops().count(DropReason.CONTROL_HANDLER_FAILED)).isEqualTo(1);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.2.10", 2);
    p.send(p.a, ping);
    p.pump();
    assertThat(p.netB.delivered).containsExactly(ping);
  }

  /** Sends raw plaintext (a forged control frame) through A's session to B, as a buggy or hostile dctun peer could. */
  static void sendRaw(Pair p, byte[] plaintext) {
    byte[] buf = new byte[TRANSPORT_HEADER_LENGTH + plaintext.length + 48];
    System.arraycopy(plaintext, 0, buf, TRANSPORT_HEADER_LENGTH, plaintext.length);
    p.bAtA.send(buf, TRANSPORT_HEADER_LENGTH, plaintext.length, p.clock.now);
    p.pump();
  }

  @Test
  void malformedFramesAreDroppedAndCounted() {
    Pair p = established(true, true);
    List<Got> got = listen(p.b, TYPE);
    byte[] frame = new byte[ControlFrame.HEADER_LENGTH + 4];
    ControlFrame.writeHeader(frame, 0, TYPE, 4);
    byte[] badVersion = frame.clone();
    badVersion[1] = 2;
    sendRaw(p, badVersion);
    byte[] pastTheEnd = frame.clone();
    pastTheEnd[5] = 60; // claims 60 payload bytes; padding makes 16, not 66
    sendRaw(p, pastTheEnd);
    sendRaw(p, new byte[] {(byte) ControlFrame.MAGIC}); // padded with zeros: version 0
    assertThat(p.b.drops().count(DropReason.CONTROL_MALFORMED)).isEqualTo(3);
    assertThat(got).isEmpty();
    sendRaw(p, frame);
    assertThat(got).as("a well-formed frame still arrives").hasSize(1);
  }

  @Test
  void oneHandlerPerTypeAndTypesAreSixteenBits() {
    Pair p = pair(true, true);
    listen(p.b, TYPE);
    assertThatThrownBy(() -> listen(p.b, TYPE)).isInstanceOf(IllegalStateException.class).hasMessageContaining("already");
    assertThatThrownBy(() -> listen(p.b, 0x10000)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theFrameIsNeverAnIpPacketAndPaddingIsIgnored() {
    byte[] b = new byte[32];
    int n = ControlFrame.writeHeader(b, 3, 0x1234, 5);
    assertThat(n).isEqualTo(ControlFrame.HEADER_LENGTH + 5);
    assertThat(b[3] >> 4).as("IP version nibble").isZero();
    assertThat(ControlFrame.isControl(b, 3, n)).isTrue();
    assertThat(ControlFrame.type(b, 3)).isEqualTo(0x1234);
    assertThat(ControlFrame.payloadLength(b, 3, 29)).as("with padding after").isEqualTo(5);
    assertThat(ControlFrame.payloadLength(b, 3, n - 1)).isEqualTo(ControlFrame.MALFORMED);
    assertThat(ControlFrame.isControl(new byte[] {0x45}, 0, 1)).isFalse();
    assertThatThrownBy(() -> ControlFrame.writeHeader(b, 0, 1, 70000)).isInstanceOf(IllegalArgumentException.class);
  }
}
