package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.util.ArrayDeque;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How a peer with several endpoints and the roaming of the others meet, two devices driven by
 * hand in one thread: A lists B at two addresses; B knows A by no address and learns it. The
 * wire is a queue the test delivers, to the device the destination names, with the source a
 * datagram would have on a host with one address per link (A at .1 towards .2, at .5 towards .6).
 */
class DeviceEndpointsTest {
  static final UdpEndpoint A1 = UdpEndpoint.of("198.18.128.1", 51820);
  static final UdpEndpoint B1 = UdpEndpoint.of("198.18.128.2", 51820);
  static final UdpEndpoint A2 = UdpEndpoint.of("198.18.128.5", 51820);
  static final UdpEndpoint B2 = UdpEndpoint.of("198.18.128.6", 51820);

  final ManualClock clock = new FakeClock();
  final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  final PrivateKey keyA = PrivateKey.generate();
  final PrivateKey keyB = PrivateKey.generate();
  final Pair.Net netA = new Pair.Net(A1, wire); // marks the sender; the source is chosen by link in pump()
  final Pair.Net netB = new Pair.Net(B1, wire);
  final Device a = new Device(keyA, 1420, netA, clock);
  final Device b = new Device(keyB, 1420, netB, clock);
  /** Links that drop everything: index 1 or 2. */
  final boolean[] cut = new boolean[3];
  Peer bAtA;
  Peer aAtB;

  void peers(boolean dctun) {
    bAtA = a.addPeer(new PeerConfig("b", keyB.publicKey(), null, null, List.of(Prefix.parse("198.18.2.0/24")), 0, dctun)
        .withEndpoints(List.of(B1, B2)));
    aAtB = b.addPeer(new PeerConfig("a", keyA.publicKey(), null, null, List.of(Prefix.parse("198.18.1.0/24")), 0, dctun));
  }

  /** Delivers until the wire is empty (bounded); the source is the sender's address on the link the destination is on. */
  int pump() {
    int moved = 0;
    while (!wire.isEmpty() && moved < 10_000) {
      Object[] d = wire.poll();
      boolean fromA = A1.equals(d[0]);
      Endpoint to = (Endpoint) d[1];
      byte[] data = (byte[]) d[2];
      int link = to.equals(B1) || to.equals(A1) ? 1 : 2;
      moved++;
      if (cut[link]) {
        continue;
      }
      Endpoint src = fromA ? (link == 1 ? A1 : A2) : (link == 1 ? B1 : B2);
      byte[] buf = new byte[data.length + 64];
      System.arraycopy(data, 0, buf, 32, data.length);
      (to.equals(B1) || to.equals(B2) ? b : a).inbound(buf, 32, data.length, src, clock.now);
    }
    return moved;
  }

  /** Ticks both devices every 100 ms for {@code seconds}, delivering what they send. */
  void run(double seconds) {
    long end = clock.now + (long) (seconds * 1e9);
    while (clock.now < end) {
      clock.advanceMillis(100);
      a.tick(clock.now);
      b.tick(clock.now);
      pump();
    }
  }

  void send(Device d, String src, String dst, int seq) {
    byte[] pkt = Pair.ping(src, dst, seq);
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    d.outbound(buf, 16, pkt.length, clock.now);
    pump();
  }

  void connect() {
    send(a, "198.18.1.5", "198.18.2.7", 1);
    assertThat(netB.delivered).as("A's first packet reached B").hasSize(1);
  }

  @Test
  void probesOverTheStandbyLinkAreAnsweredAndMoveNobody() {
    peers(true);
    connect();
    assertThat(aAtB.endpoint()).isEqualTo(A1);
    run(3);
    assertThat(aAtB.probesAnswered()).as("B answered A's probes").isPositive();
    assertThat(bAtA.paths().state(1)).isEqualTo(EndpointSet.State.UP);
    assertThat(aAtB.endpoint()).as("probes from A's second address did not move B").isEqualTo(A1);
    assertThat(bAtA.endpoint()).isEqualTo(B1);
    assertThat(a.drops().total() + b.drops().total()).isZero();
  }

  @Test
  void aMoveIsFollowedByThePeerAtOnce() {
    peers(true);
    connect();
    run(2);
    cut[1] = true;
    run(3);
    assertThat(bAtA.endpoint()).isEqualTo(B2);
    assertThat(aAtB.endpoint()).as("A's keepalive after the move took B along").isEqualTo(A2);
    send(b, "198.18.2.7", "198.18.1.5", 2);
    assertThat(netA.delivered).as("B's answer came over link 2").hasSize(1);
  }

  @Test
  void withAListAPacketFromAnotherAddressIsCountedAndMovesNothing() {
    peers(true);
    connect();
    byte[] pkt = Pair.ping("198.18.2.7", "198.18.1.5", 1);
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    b.outbound(buf, 16, pkt.length, clock.now);
    Object[] d = wire.poll();
    byte[] data = (byte[]) d[2];
    byte[] in = new byte[data.length + 64];
    System.arraycopy(data, 0, in, 32, data.length);
    a.inbound(in, 32, data.length, UdpEndpoint.of("198.18.128.99", 40000), clock.now);
    assertThat(netA.delivered).as("authenticated, so delivered").hasSize(1);
    assertThat(bAtA.endpoint()).as("the list decides, not the source").isEqualTo(B1);
    assertThat(bAtA.foreignSources()).isEqualTo(1);
  }

  @Test
  void aStockPeerIsAskedOnlyWithHandshakes() {
    peers(false);
    connect(); // one packet, never answered: one-way data
    run(10);
    assertThat(bAtA.paths().probesSent()).as("no probe to a stock peer").isZero();
    assertThat(b.drops().total()).as("B never got a control frame").isZero();
    assertThat(bAtA.paths().checks()).as("the unanswered data cost one handshake, answered").isEqualTo(1);
    assertThat(bAtA.endpoint()).isEqualTo(B1);
    assertThat(bAtA.paths().moves()).isZero();
  }

  @Test
  void aPeerWithOneEndpointStillRoams() {
    Peer p = a.addPeer(PeerConfig.of(keyB.publicKey(), B1, "198.18.2.0/24"));
    b.addPeer(PeerConfig.of(keyA.publicKey(), (Endpoint) null, "198.18.1.0/24"));
    assertThat(p.paths()).isNull();
    connect();
    byte[] pkt = Pair.ping("198.18.2.7", "198.18.1.5", 1);
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    b.outbound(buf, 16, pkt.length, clock.now);
    byte[] data = (byte[]) wire.poll()[2];
    byte[] in = new byte[data.length + 64];
    System.arraycopy(data, 0, in, 32, data.length);
    UdpEndpoint moved = UdpEndpoint.of("198.18.128.99", 40000);
    a.inbound(in, 32, data.length, moved, clock.now);
    assertThat(p.endpoint()).as("roaming as before").isEqualTo(moved);
  }
}
