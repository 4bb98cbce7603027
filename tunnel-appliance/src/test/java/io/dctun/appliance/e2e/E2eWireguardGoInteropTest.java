package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.WireguardGo;
import io.dctun.crypto.PrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * dctun at site A, stock wireguard-go at site B: the tunnel comes up whichever side initiates, and
 * carries pings both ways and a TCP stream intact.
 */
@Timeout(120)
class E2eWireguardGoInteropTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeWireguardGo();
  }

  @Test
  void dctunInitiates() {
    run(true);
  }

  @Test
  void wireguardGoInitiates() {
    run(false);
  }

  private void run(boolean dctunInitiates) {
    try (Sites s = new Sites()) {
      WireguardGo wg = s.topology.own(WireguardGo.start(s.gwB, s.topology.ifName("wgb"), PORT));
      PrivateKey ka = PrivateKey.generate();
      WireguardGo.Peer peerA = WireguardGo.Peer.of(publicKeyOf(ka)).allowedIps(LAN_A, TUN_A + "/32");
      if (!dctunInitiates) {
        peerA.endpoint(WAN_A + ":" + PORT);
      }
      wg.addPeer(peerA);
      wg.addressUp(TUN_B + "/24");
      s.gwB.run("ip", "route", "add", LAN_A, "dev", wg.interfaceName());

      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          wg.publicKey(), dctunInitiates ? WAN_B + ":" + PORT : null, List.of(LAN_B, TUN_B + "/32"), 0)));
      assertThat(a.latestHandshake("siteB")).as("no handshake before traffic").isZero();

      if (dctunInitiates) {
        assertPing(s.srvA, SRV_B, a, wg.log());
        assertPing(s.srvB, SRV_A, a, wg.log());
      } else {
        assertThat(a.endpoint("siteB")).isEqualTo("none");
        assertPing(s.srvB, SRV_A, a, wg.log());
        assertPing(s.srvA, SRV_B, a, wg.log());
        // dctun learned wireguard-go's address from its initiation
        assertThat(a.endpoint("siteB")).endsWith(WAN_B + ":" + PORT);
      }
      a.awaitHandshake("siteB", Duration.ofSeconds(5));
      WireguardGo.PeerStats st = wg.awaitHandshake(publicKeyOf(ka), Duration.ofSeconds(5));
      assertThat(st.endpoint()).isEqualTo(WAN_A + ":" + PORT);

      Payload p = s.payload(20L << 20);
      Duration took = s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(60), a, wg.log());
      System.out.printf("%s initiates: 20 MB srvA -> srvB via wireguard-go in %d ms%n",
          dctunInitiates ? "dctun" : "wireguard-go", took.toMillis());
      Payload back = s.payload(2L << 20);
      s.assertTcpTransfer(s.srvB, s.srvA, SRV_A, back, Duration.ofSeconds(30), a, wg.log());

      WireguardGo.PeerStats after = wg.showDump().peer(publicKeyOf(ka)).orElseThrow();
      assertThat(after.rxBytes()).isGreaterThan(20L << 20);
      assertThat(after.txBytes()).isGreaterThan(2L << 20);
      assertThat(a.drops("DECRYPT_FAILED")).isZero();
      assertThat(a.drops("SOURCE_NOT_ALLOWED")).isZero();
      a.stopAndAssertClean();
    }
  }
}
