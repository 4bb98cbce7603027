package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.Requirements;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * dctun to dctun between two sites: pings both ways, and 100 MB over TCP from srvA to srvB arrive
 * intact while the WAN carries nothing but WireGuard UDP.
 */
@Timeout(150)
class E2eDctunPairTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("tcpdump");
  }

  @Test
  void sitesTalkThroughTheTunnelAndTheWanCarriesOnlyWireGuard() throws Exception {
    String nsGwA;
    try (Sites s = new Sites()) {
      nsGwA = s.gwA.name();
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          publicKeyOf(kb), WAN_B + ":" + PORT, List.of(LAN_B, TUN_B + "/32"), 0)));
      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, PORT, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32"), 0)));

      assertPing(s.srvA, SRV_B, a, b);
      assertPing(s.srvB, SRV_A, a, b);
      assertPing(s.gwA, TUN_B, a, b);
      long hsA = a.awaitHandshake("siteB", Duration.ofSeconds(5));
      long hsB = b.awaitHandshake("siteA", Duration.ofSeconds(5));
      assertThat(hsA).isPositive();
      assertThat(hsB).isPositive();

      Payload p = s.payload(100L << 20);
      Sites.Capture cap = s.capture(s.gwA, s.wanIfA, 128, 400_000, null);
      Duration took = s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(100), a, b);
      Path pcap = cap.stop();
      System.out.printf("100 MB srvA -> srvB in %d ms (%.1f MB/s)%n", took.toMillis(),
          100.0 * 1000 / Math.max(1, took.toMillis()));

      // Nothing but the tunnel's UDP on the WAN: no plain IP leaked past the gateway.
      ExecResult leaked = NetNs.root().exec(Duration.ofSeconds(60), "tcpdump", "-n", "-r", pcap.toString(),
          "ip and not udp port " + PORT);
      assertThat(leaked.ok()).as(leaked.describe()).isTrue();
      assertThat(leaked.stdout()).as("IP packets on the WAN other than WireGuard UDP").isEmpty();
      ExecResult tunnel = NetNs.root().exec(Duration.ofSeconds(60), "tcpdump", "-n", "-r", pcap.toString(),
          "-c", "5", "udp port " + PORT);
      assertThat(tunnel.stdout().lines().count()).as("WireGuard UDP packets in the capture").isEqualTo(5);
      // The same, read independently of tcpdump's filter: every IPv4 packet is UDP between the two
      // gateways' tunnel ports, most of them full-sized transport messages (type 4).
      List<Pcap.Ipv4> packets = Pcap.ipv4(pcap);
      assertThat(packets).hasSizeGreaterThan(50_000);
      assertThat(packets).allSatisfy(ip -> {
        assertThat(ip.protocol()).isEqualTo(17);
        assertThat(List.of(ip.src(), ip.dst())).containsExactlyInAnyOrder(WAN_A, WAN_B);
        assertThat(ip.srcPort()).isEqualTo(PORT);
        assertThat(ip.dstPort()).isEqualTo(PORT);
      });
      assertThat(packets.stream().filter(ip -> ip.udpPayload().length > 0 && ip.udpPayload()[0] == 4).count())
          .isGreaterThan(50_000);

      assertThat(a.awaitNumber("peer.siteB.tx-bytes", (100L << 20) + 1, Duration.ofSeconds(5))).isGreaterThan(100L << 20);
      assertThat(b.awaitNumber("peer.siteA.rx-bytes", (100L << 20) + 1, Duration.ofSeconds(5))).isGreaterThan(100L << 20);
      assertThat(a.drops("DECRYPT_FAILED")).isZero();
      assertThat(b.drops("DECRYPT_FAILED")).isZero();
      assertThat(b.drops("REPLAYED_COUNTER")).isZero();

      a.stopAndAssertClean();
      b.stopAndAssertClean();
    }
    assertThat(NetNs.exists(nsGwA)).isFalse();
  }
}
