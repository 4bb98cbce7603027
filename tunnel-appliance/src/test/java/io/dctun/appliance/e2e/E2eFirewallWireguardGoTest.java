package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.WireguardGo;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Stock wireguard-go at site A (no firewall: it sends whatever srvA sends), dctun with a firewall
 * at site B: the receiving gateway is the one that enforces. TCP 5432 and ping pass; TCP 22 crosses
 * the WAN but is dropped by gwB (default deny, counted as NO_RULE), and a reject rule answers
 * through the tunnel with a RST that wireguard-go delivers to srvA.
 */
@Timeout(90)
class E2eFirewallWireguardGoTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeWireguardGo();
  }

  @Test
  void receivingGatewayDropsWhatAStockPeerSends() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey kb = PrivateKey.generate();
      WireguardGo wg = s.topology.own(WireguardGo.start(s.gwA, s.topology.ifName("wga"), PORT));
      wg.addPeer(WireguardGo.Peer.of(publicKeyOf(kb)).allowedIps(LAN_B, TUN_B + "/32").endpoint(WAN_B + ":" + PORT));
      wg.addressUp(TUN_A + "/24");
      s.gwA.run("ip", "route", "add", LAN_B, "dev", wg.interfaceName());

      String tunB = s.topology.ifName("dtb");
      String firewall = E2eFirewallPairTest.FIREWALL_B + """
              - name: reject-6000
                direction: in
                protocol: tcp
                destination-port: 6000
                action: reject
          """;
      Path cfgB = E2eFirewallPairTest.writeConfig(s, "gwB", tunB, kb, TUN_B + "/24", "siteA", wg.publicKey(),
          null, List.of(LAN_A, TUN_A + "/32"), firewall);
      Sites.Gw b = s.launch(s.gwB, "gwB", tunB, kb, cfgB);

      assertPing(s.srvA, SRV_B, b, wg.log());
      b.awaitHandshake("siteA", Duration.ofSeconds(5));

      String echoed = E2eFirewallPairTest.tcpEcho(s.srvA, s.srvB, SRV_B, 5432, "via-wireguard-go");
      assertThat(echoed).isEqualTo("via-wireguard-go");

      // Port 22: wireguard-go encrypts and sends it; gwB decrypts and drops it.
      long rxB = b.number("peer.siteA.rx-bytes");
      long noRule = b.number("firewall.reason.NO_RULE");
      E2eFirewallPairTest.ConnectResult ssh = E2eFirewallPairTest.connect(s.srvA, SRV_B, 22, 3);
      assertThat(ssh.ok()).isFalse();
      assertThat(ssh.elapsedMillis()).as("dropped: times out").isGreaterThanOrEqualTo(2500);
      long dropped = b.awaitNumber("firewall.reason.NO_RULE", noRule + 2, Duration.ofSeconds(3)) - noRule;
      assertThat(dropped).as("SYNs dropped at the receiving gateway\n%s", b.describe()).isGreaterThanOrEqualTo(2);
      assertThat(b.number("peer.siteA.rx-bytes")).as("they did cross the WAN").isGreaterThan(rxB);
      assertThat(b.drops("FILTERED")).isGreaterThanOrEqualTo(dropped);

      // reject on the receiving side: the RST goes back through the tunnel.
      E2eFirewallPairTest.ConnectResult refused = E2eFirewallPairTest.connect(s.srvA, SRV_B, 6000, 5);
      assertThat(refused.output()).as(b.describe()).contains("Connection refused");
      assertThat(refused.elapsedMillis()).isLessThan(2000);
      assertThat(b.awaitNumber("firewall.rule.reject-6000.packets", 1, Duration.ofSeconds(3))).isPositive();
      b.stopAndAssertClean();
    }
  }
}
