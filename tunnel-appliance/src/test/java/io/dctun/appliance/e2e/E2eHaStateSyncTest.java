package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Site B's pair runs a default-deny firewall that admits site A's TCP and pings, and streams its
 * connection state master -> backup (ha.state-sync). A TCP connection established through gwB1
 * keeps flowing through gwB2 after gwB1's links go down: the backup's firewall already knows the
 * flow, so the mid-stream segments it has never seen a SYN for are not INVALID there.
 *
 * <p>The private side also has an IPv6 VIP ({@code private.vip6}, link-local, the address RFC
 * 5798 puts first): its instance moves with the pair, and srvB, which had resolved it to gwB1's
 * MAC, follows it to gwB2's MAC from the unsolicited neighbour advertisement alone.
 */
@Timeout(240)
class E2eHaStateSyncTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    io.dctun.core.testing.Requirements.assumeCommand("bash");
    io.dctun.core.testing.Requirements.assumeCommand("python3");
  }

  private static final String FIREWALL = String.join("\n",
      "firewall:",
      "  rules:",
      "    - name: a-to-b-tcp",
      "      direction: in",
      "      peer: siteA",
      "      protocol: tcp",
      "      destination: " + Sites.SRV_B,
      "      action: accept",
      "    - name: a-to-b-ping",
      "      direction: in",
      "      peer: siteA",
      "      protocol: icmp",
      "      action: accept",
      "");

  private static String sync(String local, String peer) {
    return "  state-sync: {local: " + local + ":51900, peer: " + peer + ":51900, bandwidth: 200000}\n";
  }

  private static final String VIP6 = "fe80::52:1";

  private static String mac(io.dctun.core.testing.NetNs ns, String dev) {
    return ns.run("cat", "/sys/class/net/" + dev + "/address").stdout().strip();
  }

  private static boolean hasVip6(io.dctun.core.testing.NetNs ns, String dev) {
    return ns.exec("ip", "-6", "-o", "addr", "show", "dev", dev).stdout().contains(VIP6 + "/64");
  }

  @Test
  void establishedConnectionSurvivesFailoverThroughTheBackupsFirewall() throws Exception {
    io.dctun.core.testing.Requirements.assumeIpv6();
    try (HaSites s = new HaSites()) {
      s.enableIpv6AtSiteB();
      s.privateVip6B = VIP6;
      HaSites.Gw a = s.startGwA();
      HaSites.Gw b1 = s.startGwB(1, 200, 100, sync("198.18.20.2", "198.18.20.3"), FIREWALL);
      b1.awaitHaState("MASTER", Duration.ofSeconds(15));
      java.nio.file.Path notified = s.dir.resolve("b2-notify");
      HaSites.Gw b2 = s.startGwB(2, 100, 100, sync("198.18.20.3", "198.18.20.2")
          + "  notify: {master: 'echo \"$DCTUN_HA_STATE $DCTUN_HA_INSTANCE\" >> " + notified + "', backup: 'echo "
          + "\"$DCTUN_HA_STATE\" >> " + notified + "'}\n", FIREWALL);
      b2.awaitHaState("BACKUP", Duration.ofSeconds(15));

      ExecResult first = s.srvA.exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-w", "20", Sites.SRV_B);
      assertThat(first.ok()).as("srvA -> srvB through gwB1's firewall\n%s\n%s", first.describe(), b1.describe())
          .isTrue();

      // IPv6 private VIP: on gwB1 with the rest; srvB resolves it to gwB1's MAC.
      assertThat(b1.status().get("ha.dctun-private-v6.state")).as(b1.describe()).isEqualTo("MASTER");
      assertThat(b2.status().get("ha.dctun-private-v6.state")).as(b2.describe()).isEqualTo("BACKUP");
      assertThat(hasVip6(s.gwB1, s.lanB1)).isTrue();
      assertThat(hasVip6(s.gwB2, s.lanB2)).isFalse();
      s.srvB.run(Duration.ofSeconds(10), "ping", "-6", "-n", "-c", "1", "-W", "3", VIP6 + "%" + s.lanBridge);
      String macB1 = mac(s.gwB1, s.lanB1);
      String macB2 = mac(s.gwB2, s.lanB2);
      assertThat(s.srvB.run("ip", "-6", "neigh", "show", "dev", s.lanBridge, "to", VIP6).stdout()).contains(macB1);

      Sites.Payload payload = s.payload(6L << 20);
      HaSites.Transfer tcp = s.new Transfer(payload, 1 << 20, 5401); // ~6 s at 1 MiB/s
      // Before the failure, the backup has received the established flow from the master.
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      long received = 0;
      while (received == 0 && System.nanoTime() < deadline) {
        Sites.sleep(200);
        String v = b2.status().get("ha.sync.flows-received");
        received = v == null ? 0 : Long.parseLong(v);
      }
      assertThat(received).as("flows streamed to the backup before failover\n%s\n%s", b1.describe(), b2.describe())
          .isPositive();
      assertThat(b2.status().get("ha.sync.bad-mac")).isEqualTo("0");
      assertThat(Long.parseLong(b2.status().get("ha.sync.timestamps-received"))).isPositive();
      Sites.sleep(1000);

      s.gwB1.run("ip", "link", "set", s.wanB1, "down");
      s.gwB1.run("ip", "link", "set", s.lanB1, "down");
      b2.awaitHaState("MASTER", Duration.ofSeconds(15));

      // The IPv6 instance moved with the pair, and srvB's neighbour entry followed the NA (srvB
      // has sent nothing to that address since it resolved it).
      String entry = "";
      for (int i = 0; i < 100 && !entry.contains(macB2); i++) {
        entry = s.srvB.run("ip", "-6", "neigh", "show", "dev", s.lanBridge, "to", VIP6).stdout();
        Sites.sleep(20);
      }
      assertThat(entry).as("srvB's entry for %s after the takeover\n%s", VIP6, b2.describe()).contains(macB2);
      assertThat(hasVip6(s.gwB2, s.lanB2)).isTrue();

      tcp.assertComplete(Duration.ofSeconds(90), a.describe() + "\n" + b2.describe());
      assertThat(b2.status().get("ha.dctun-private-v6.state")).as(b2.describe()).isEqualTo("MASTER");
      s.srvB.run(Duration.ofSeconds(10), "ping", "-6", "-n", "-c", "1", "-W", "3", VIP6 + "%" + s.lanBridge);
      // The operator's notify commands ran: backup at start, master at the takeover.
      long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (System.nanoTime() < until
          && !(java.nio.file.Files.exists(notified) && java.nio.file.Files.readString(notified).contains("MASTER"))) {
        Sites.sleep(100);
      }
      assertThat(java.nio.file.Files.readAllLines(notified)).containsExactly("BACKUP", "MASTER dctun-public");
      var st = b2.status();
      assertThat(Long.parseLong(st.get("firewall.reason.ESTABLISHED")))
          .as("the new master passed the stream as an established flow\n%s", b2.describe()).isPositive();
      assertThat(Long.parseLong(st.get("firewall.rule.a-to-b-tcp.packets")))
          .as("re-checked against the backup's own rule").isPositive();
      assertThat(Long.parseLong(st.get("ha.sync.flows-sent"))).isGreaterThanOrEqualTo(0);
    }
  }
}
