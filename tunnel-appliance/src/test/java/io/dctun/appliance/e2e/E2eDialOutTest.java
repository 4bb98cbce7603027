package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.PrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A site that can only dial out: gwB binds no listening port and gwA does not know where B is.
 * B initiates and keeps the path open (persistent keepalive), and traffic then flows both ways.
 */
@Timeout(90)
class E2eDialOutTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  @Test
  void dialOutOnlySiteIsReachableBothWays() {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          publicKeyOf(kb), null, List.of(LAN_B, TUN_B + "/32"), 0)));
      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, null, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32"), 1)));

      // B dials out on its own (keepalive set): A learns B's ephemeral address from the handshake.
      b.awaitHandshake("siteA", Duration.ofSeconds(10));
      a.awaitHandshake("siteB", Duration.ofSeconds(5));
      String bListen = b.status().get("listen");
      assertThat(bListen).as("gwB binds an ephemeral port").doesNotEndWith(":" + PORT);
      String learned = a.endpoint("siteB");
      assertThat(learned).as("gwA learned gwB's address").contains(WAN_B + ":");
      assertThat(learned.substring(learned.lastIndexOf(':'))).isEqualTo(bListen.substring(bListen.lastIndexOf(':')));
      assertThat(s.gwB.exec("ss", "-H", "-lun", "sport = :" + PORT).stdout()).as("nothing listens on B").isBlank();

      assertPing(s.srvA, SRV_B, a, b);
      assertPing(s.srvB, SRV_A, a, b);
      Payload p = s.payload(5L << 20);
      s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(30), a, b);
      s.assertTcpTransfer(s.srvB, s.srvA, SRV_A, p, Duration.ofSeconds(30), a, b);

      // Keepalives keep the path open without traffic: B's tx grows, A's handshake stays valid.
      long tx0 = b.number("peer.siteA.tx-bytes");
      long deadline = System.nanoTime() + Duration.ofSeconds(6).toNanos();
      long tx = tx0;
      for (int i = 0; i < 100 && tx <= tx0 && System.nanoTime() < deadline; i++) {
        Sites.sleep(200);
        tx = b.number("peer.siteA.tx-bytes");
      }
      assertThat(tx).as("gwB sends keepalives while idle").isGreaterThan(tx0);
      assertThat(a.drops("NO_ENDPOINT")).isZero();

      b.stopAndAssertClean();
      a.stopAndAssertClean();
    }
  }
}
