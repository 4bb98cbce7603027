package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.crypto.PrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code dctun up} with {@code metrics:} serves Prometheus text that a scraper in the gateway's
 * namespace reads: the WireGuard exporters' per-peer names with the bytes the tunnel carried, and
 * dctun's drop counters, and neither they nor the status file nor the log hold a private key.
 * Without {@code metrics:}, nothing listens.
 */
class E2eMetricsTest {
  static final int METRICS_PORT = 9586;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  static ExecResult scrape(Sites.Gw gw, String host) {
    return gw.ns.exec(Duration.ofSeconds(20), "python3", "-c",
        "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('http://" + host + ":" + METRICS_PORT
            + "/metrics',timeout=10).read().decode())");
  }

  @Test
  void aRunningGatewayExportsItsPeersAndDropsAndAGatewayWithoutMetricsListensOnNothing() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          publicKeyOf(kb), WAN_B + ":" + PORT, List.of(LAN_B, TUN_B + "/32"), 0)), "metrics: " + WAN_A + ":" + METRICS_PORT + "\n");
      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, PORT, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32"), 0)));
      assertPing(s.srvA, SRV_B, a, b);
      long rx = a.awaitNumber("peer.siteB.rx-bytes", 1, Duration.ofSeconds(5));
      assertThat(rx).isPositive();

      ExecResult r = scrape(a, WAN_A);
      assertThat(r.ok()).as(r.describe()).isTrue();
      String text = r.stdout();
      String rxLine = text.lines().filter(l -> l.startsWith("wireguard_peer_receive_bytes_total{")
          && l.contains("public_key=\"" + publicKeyOf(kb) + "\"")).findFirst().orElse("");
      assertThat(rxLine).as(text).contains("device=\"" + a.tun + "\"");
      assertThat(Double.parseDouble(rxLine.replaceAll(".*} ", ""))).as("bytes received from site B").isGreaterThanOrEqualTo(rx);
      assertThat(text).contains("wireguard_latest_handshake_seconds{", "friendly_name=\"siteB\"",
          "dctun_drop_total{reason=\"NO_ROUTE\"}", "dctun_peer_tx_bytes_total{peer=\"siteB\"}");

      // No secret anywhere an operator or a scraper looks: metrics, status file, log.
      for (PrivateKey k : List.of(ka, kb)) {
        String b64 = k.toBase64();
        String hex = java.util.HexFormat.of().formatHex(java.util.Base64.getDecoder().decode(b64));
        for (Sites.Gw g : List.of(a, b)) {
          String status = java.nio.file.Files.readString(g.status);
          String log = g.process.output();
          for (String[] place : new String[][] {{"metrics", text}, {"status of " + g.label, status}, {"log of " + g.label, log}}) {
            assertThat(place[1]).as("a private key in the %s", place[0]).doesNotContain(b64).doesNotContainIgnoringCase(hex);
          }
        }
      }

      ExecResult none = scrape(b, WAN_B);
      assertThat(none.ok()).as("gwB has no metrics: section, so nothing answers").isFalse();
    }
  }
}
