package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.packet.IpPacket;
import org.junit.jupiter.api.Test;

/** A device forwarding between its peers: a hub and two spokes, and two gateways that must not ping-pong. */
class ForwardingTest {

  /** Hub H (198.18.100.0/24 is its own), spokes A (198.18.1.0/24) and B (198.18.2.0/24), each knowing only H. */
  static Net3 hub(boolean spokesAreGateways) {
    Net3 n = new Net3();
    Net3.Node h = n.node("hub");
    Net3.Node a = n.node("a");
    Net3.Node b = n.node("b");
    h.knows(a, spokesAreGateways, "198.18.1.0/24");
    h.knows(b, spokesAreGateways, "198.18.2.0/24");
    a.knows(h, spokesAreGateways, "198.18.100.0/24", "198.18.2.0/24");
    b.knows(h, spokesAreGateways, "198.18.100.0/24", "198.18.1.0/24");
    return n;
  }

  @Test
  void theHubForwardsBetweenSpokesWithTheTtlDecremented() {
    Net3 n = hub(false);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.2.20", 1);
    n.send(n.nodes.get("a"), ping);
    n.pump();
    Net3.Node b = n.nodes.get("b");
    assertThat(b.net.delivered).hasSize(1);
    byte[] got = b.net.delivered.get(0);
    assertThat(got[IpPacket.V4_TTL] & 0xFF).isEqualTo((ping[IpPacket.V4_TTL] & 0xFF) - 1);
    assertThat(IpPacket.ipv4ChecksumValid(got, 0, got.length)).as("checksum updated with the TTL").isTrue();
    assertThat(n.nodes.get("hub").net.delivered).as("never through the hub's TUN").isEmpty();
    assertThat(n.nodes.get("hub").device.forwarded()).isEqualTo(1);

    byte[] back = Pair.ping("198.18.2.20", "198.18.1.10", 2);
    n.send(b, back);
    n.pump();
    assertThat(n.nodes.get("a").net.delivered).hasSize(1);
  }

  @Test
  void trafficForTheHubItselfStillGoesToItsTun() {
    Net3 n = hub(false);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.100.1", 1);
    n.send(n.nodes.get("a"), ping);
    n.pump();
    assertThat(n.nodes.get("hub").net.delivered).containsExactly(ping);
    assertThat(n.nodes.get("hub").device.forwarded()).isZero();
  }

  @Test
  void betweenTwoGatewaysAPacketIsNeverForwarded() {
    Net3 n = hub(true);
    n.send(n.nodes.get("a"), Pair.ping("198.18.1.10", "198.18.2.20", 1));
    n.pump();
    assertThat(n.nodes.get("b").net.delivered).isEmpty();
    assertThat(n.nodes.get("hub").device.drops().count(DropReason.FORWARD_LOOP)).isEqualTo(1);
  }

  @Test
  void aPacketWhoseTtlRunsOutIsDroppedAndCounted() {
    Net3 n = hub(false);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.2.20", 1);
    ping[IpPacket.V4_TTL] = 1;
    IpPacket.writeIpv4Checksum(ping, 0, ping.length);
    n.send(n.nodes.get("a"), ping);
    n.pump();
    assertThat(n.nodes.get("b").net.delivered).isEmpty();
    assertThat(n.nodes.get("hub").device.drops().count(DropReason.TTL_EXCEEDED)).isEqualTo(1);
  }

  @Test
  void transitPassesTheDestinationsOutboundRules() {
    Net3 n = hub(false);
    Net3.Node hubNode = n.nodes.get("hub");
    Net3.Node b = n.nodes.get("b");
    hubNode.device.setFilter(new PacketFilter() {
      @Override
      public boolean allowInbound(io.dctun.crypto.PublicKey peer, byte[] buf, int off, int len, long now) {
        return true;
      }

      @Override
      public boolean allowOutbound(io.dctun.crypto.PublicKey peer, byte[] buf, int off, int len, long now) {
        return !peer.equals(b.key.publicKey());
      }
    });
    n.send(n.nodes.get("a"), Pair.ping("198.18.1.10", "198.18.2.20", 1));
    n.pump();
    assertThat(b.net.delivered).isEmpty();
    assertThat(hubNode.device.drops().count(DropReason.FILTERED)).isEqualTo(1);
  }

  @Test
  void theIncrementalChecksumMatchesAFullRecomputation() {
    for (int ttl = 2; ttl < 256; ttl++) {
      byte[] p = Pair.ping("198.18.1." + ttl, "198.18.2.20", ttl);
      p[IpPacket.V4_TTL] = (byte) ttl;
      IpPacket.writeIpv4Checksum(p, 0, p.length);
      assertThat(IpPacket.decrementTtl(p, 0)).isTrue();
      assertThat(IpPacket.ipv4ChecksumValid(p, 0, p.length)).as("ttl %d", ttl).isTrue();
    }
  }
}
