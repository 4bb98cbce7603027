package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One peer cannot stop traffic for the others: a hub H with two spokes A and B, where everything H
 * does for B throws (its Output fails for B's endpoint, as a transport bug would). H's batches of
 * packets, of datagrams and its timer ticks still serve A, and B's failures are counted.
 */
class PeerIsolationTest {
  private static final UdpEndpoint EP_H = UdpEndpoint.of("198.18.0.1", 51820);
  private static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.0.2", 51820);
  private static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.3", 51820);

  /** H's Output: Pair.Net, except that anything for B's endpoint throws while {@code poisoned}. */
  static final class Failing implements Output {
    final Pair.Net net;
    final List<byte[]> delivered;
    volatile boolean poisoned;

    Failing(Endpoint self, ArrayDeque<Object[]> wire) {
      this.net = new Pair.Net(self, wire);
      this.delivered = net.delivered;
    }

    @Override
    public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {
      if (poisoned && to.equals(EP_B)) {
        throw new IllegalStateException("test: the carrier of " + to + " is broken");
      }
      net.sendToNetwork(to, buf, off, len);
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      net.deliverToDevice(buf, off, len);
    }
  }

  private final FakeClock clock = new FakeClock();
  private final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  private final PrivateKey keyH = PrivateKey.generate();
  private final PrivateKey keyA = PrivateKey.generate();
  private final PrivateKey keyB = PrivateKey.generate();
  private final Failing netH = new Failing(EP_H, wire);
  private final Pair.Net netA = new Pair.Net(EP_A, wire);
  private final Pair.Net netB = new Pair.Net(EP_B, wire);
  private final Device h = new Device(keyH, 1420, netH, clock);
  private final Device a = new Device(keyA, 1420, netA, clock);
  private final Device b = new Device(keyB, 1420, netB, clock);

  @BeforeEach
  void sessions() {
    h.addPeer(PeerConfig.of(keyA.publicKey(), EP_A, "198.18.1.0/24").withName("a").withPersistentKeepalive(25));
    h.addPeer(PeerConfig.of(keyB.publicKey(), EP_B, "198.18.2.0/24").withName("b").withPersistentKeepalive(25));
    a.addPeer(PeerConfig.of(keyH.publicKey(), EP_H, "198.18.0.0/16").withName("h"));
    b.addPeer(PeerConfig.of(keyH.publicKey(), EP_H, "198.18.0.0/16").withName("h"));
    send(h, ping("198.18.9.1", "198.18.1.5", 1));
    send(h, ping("198.18.9.1", "198.18.2.5", 1));
    pump();
    assertThat(netA.delivered).hasSize(1);
    assertThat(netB.delivered).hasSize(1);
    netA.delivered.clear();
    netB.delivered.clear();
  }

  @Test
  void aPeerWhoseSendThrowsCostsOnlyItsOwnPacketsInABatch() {
    netH.poisoned = true;
    List<byte[]> batch = List.of(ping("198.18.9.1", "198.18.2.5", 2), ping("198.18.9.1", "198.18.1.5", 2),
        ping("198.18.9.1", "198.18.2.5", 3), ping("198.18.9.1", "198.18.1.5", 3));
    for (byte[] p : batch) {
      send(h, p); // as the engine's TUN loop does: no try around each packet
    }
    pump();
    assertThat(netA.delivered).as("A's packets of the same batch").hasSize(2);
    assertThat(netA.delivered.get(0)).containsExactly(batch.get(1));
    assertThat(netA.delivered.get(1)).containsExactly(batch.get(3));
    assertThat(netB.delivered).isEmpty();
    assertThat(h.drops().count(DropReason.PEER_FAILED)).isEqualTo(2);

    netH.poisoned = false;
    byte[] after = ping("198.18.9.1", "198.18.2.5", 4);
    send(h, after);
    pump();
    assertThat(netB.delivered).as("B itself recovers once its carrier does").hasSize(1);
    assertThat(netB.delivered.get(0)).containsExactly(after);
  }

  @Test
  void aPeerWhoseTimersThrowDoesNotStopTheOthersTimers() {
    netH.poisoned = true;
    Peer hAtA = a.peer(keyH.publicKey());
    for (int tick = 1; tick <= 2; tick++) {
      long heardByA = hAtA.rxBytes();
      clock.now += 26_000_000_000L; // both persistent keepalives are due
      assertThatCode(() -> h.tick(clock.now)).doesNotThrowAnyException();
      pump();
      assertThat(hAtA.rxBytes()).as("A heard H's keepalive at tick %d", tick).isGreaterThan(heardByA);
      assertThat(h.drops().count(DropReason.PEER_FAILED)).isEqualTo(tick);
    }
    assertThat(a.drops().count(DropReason.DECRYPT_FAILED)).isZero();
  }

  @Test
  void aPeerWhoseAnswerThrowsCostsOnlyItsOwnDatagramInABatch() {
    netH.poisoned = true;
    wire.clear();
    b.initiateNow(keyH.publicKey(), clock.now); // H's answer to this throws
    send(a, ping("198.18.1.5", "198.18.9.1", 7));
    send(b, ping("198.18.2.5", "198.18.9.1", 7)); // data under the session H already has with B
    List<Object[]> datagrams = new ArrayList<>(wire);
    wire.clear();
    assertThat(datagrams).hasSize(3);
    for (Object[] d : datagrams) {
      deliver(d); // as a transport's receive loop does: no try around each datagram
    }
    assertThat(netH.delivered).as("A's and B's data, after the initiation whose answer failed").hasSize(2);
    assertThat(h.drops().count(DropReason.PEER_FAILED)).isEqualTo(1);
  }

  @Test
  void aControlSendThatThrowsIsReportedAndCountedNotThrown() {
    h.addPeer(h.peer(keyA.publicKey()).config().withDctun(true));
    h.addPeer(h.peer(keyB.publicKey()).config().withDctun(true));
    netH.poisoned = true;
    byte[] payload = {1, 2, 3};
    assertThat(h.control().send(keyB.publicKey(), 77, payload, 0, payload.length, clock.now))
        .isEqualTo(io.dctun.core.control.ControlSend.FAILED);
    assertThat(h.control().send(keyA.publicKey(), 77, payload, 0, payload.length, clock.now))
        .isEqualTo(io.dctun.core.control.ControlSend.SENT);
    assertThat(h.drops().count(DropReason.PEER_FAILED)).isEqualTo(1);
  }

  @Test
  void aLowOrderPeerKeyIsRefusedAndNothingOfItApplied() {
    String[] lowOrder = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    };
    int routesBefore = h.routes().size();
    for (String hex : lowOrder) {
      PublicKey k = PublicKey.of(HexFormat.of().parseHex(hex));
      assertThatThrownBy(() -> h.addPeer(PeerConfig.of(k, EP_B, "198.18.77.0/24").withName("bad")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("low-order point")
          .hasMessageContaining(k.fingerprint())
          .hasMessageNotContaining(k.toBase64());
      assertThat(h.peer(k)).isNull();
    }
    assertThat(h.peers()).hasSize(2);
    assertThat(h.routes()).hasSize(routesBefore);
  }

  private static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[56]);
    return Arrays.copyOf(buf, n);
  }

  private static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }

  private void send(Device d, byte[] pkt) {
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    d.outbound(buf, 16, pkt.length, clock.now);
  }

  private void deliver(Object[] d) {
    Endpoint from = (Endpoint) d[0];
    Endpoint to = (Endpoint) d[1];
    byte[] data = (byte[]) d[2];
    byte[] buf = new byte[data.length + 64];
    System.arraycopy(data, 0, buf, 32, data.length);
    Device target = to.equals(EP_H) ? h : to.equals(EP_A) ? a : to.equals(EP_B) ? b : null;
    if (target != null) {
      target.inbound(buf, 32, data.length, from, clock.now);
    }
  }

  /** Delivers datagrams until the wire is empty (bounded). */
  private void pump() {
    for (int moved = 0; !wire.isEmpty() && moved < 10_000; moved++) {
      deliver(wire.poll());
    }
  }
}
