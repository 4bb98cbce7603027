package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * `dctun reload` on a running gateway: the new file is checked whole and applied as a difference
 * (a peer added and removed, allowed IPs widened, kernel routes with them) while the session with
 * the unchanged peer carries on without a new handshake; a file with an error and a file that
 * changes what only a restart applies change nothing, and say why.
 */
@Timeout(180)
class E2eReloadTest {
  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  @Test
  void aReloadAppliesTheDifferenceAndRefusesWhatItCannotApply() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "siteA", ka, PORT, TUN_A + "/24",
          List.of(new PeerSpec("siteB", publicKeyOf(kb), WAN_B + ":" + PORT, List.of(TUN_B + "/32", LAN_B), 0)), "");
      Sites.Gw b = s.startGateway(s.gwB, "siteB", kb, PORT, TUN_B + "/24",
          List.of(new PeerSpec("siteA", publicKeyOf(ka), WAN_A + ":" + PORT, List.of(TUN_A + "/32", LAN_A), 0)), "");
      assertPing(s.srvA, SRV_B, a.describe(), b.describe());
      long handshake = a.latestHandshake("siteB");
      assertThat(handshake).isPositive();
      Path cfg = s.dir().resolve("siteA.yaml");
      String original = Files.readString(cfg);
      String siteBAllowed = "allowed-ips: [" + TUN_B + "/32, " + LAN_B + "]";
      assertThat(original).contains(siteBAllowed).endsWith("]\n"); // the peers are the file's last section
      String grown = original.replace(siteBAllowed, "allowed-ips: [" + TUN_B + "/32, " + LAN_B + ", 198.18.21.0/24]")
          + "  - name: siteC\n"
          + "    public-key: " + PrivateKey.generate().publicKey().toBase64() + "\n"
          + "    allowed-ips: [198.18.30.0/24]\n";

      // 1. a peer added, another one's allowed IPs widened
      Files.writeString(cfg, grown);
      ExecResult r = reload(a, cfg);
      assertThat(r.ok()).as("reload\n%s\n%s", r.describe(), a.describe()).isTrue();
      assertThat(r.stdout()).contains("applied").contains("add peer siteC").contains("change peer siteB");
      assertThat(a.number("reload.count")).isEqualTo(1);
      assertThat(a.status()).containsKey("peer.siteC.latest-handshake-unix");
      assertThat(routes(a)).contains("198.18.30.0/24").contains("198.18.21.0/24").contains(LAN_B);
      assertPing(s.srvA, SRV_B, a.describe());
      assertThat(a.latestHandshake("siteB")).as("the unchanged session carries on: no new handshake").isEqualTo(handshake);

      // 2. an error in the file: reported with its line, nothing signalled
      Files.writeString(cfg, grown.replace("198.18.30.0/24", "198.18.300.0/24"));
      r = reload(a, cfg);
      assertThat(r.ok()).isFalse();
      assertThat(r.stderr()).contains(cfg.toString() + ":").contains("198.18.300.0/24").contains("nothing was signalled");
      assertThat(a.number("reload.failures")).isZero();

      // 3. what only a restart applies: refused by the gateway, whole, naming the field
      Files.writeString(cfg, grown.replace("mtu: ", "listen-port: " + (PORT + 1) + "\nmtu: ")
          .replace("listen-port: " + PORT + "\n", "").replace("198.18.30.0/24", "198.18.31.0/24"));
      r = reload(a, cfg);
      assertThat(r.ok()).as("%s", r.describe()).isFalse();
      assertThat(r.stderr()).contains("needs a restart: listen-port").contains("nothing was changed");
      assertThat(a.number("reload.failures")).isEqualTo(1);
      assertThat(routes(a)).as("nothing of that file applied").contains("198.18.30.0/24").doesNotContain("198.18.31.0/24");
      assertThat(a.status().get("listen")).endsWith(":" + PORT);

      // 4. back to the first file: the added peer and its route go, the widened prefix too
      Files.writeString(cfg, original);
      r = reload(a, cfg);
      assertThat(r.ok()).as("%s", r.describe()).isTrue();
      assertThat(r.stdout()).contains("remove peer siteC");
      assertThat(a.status()).doesNotContainKey("peer.siteC.latest-handshake-unix");
      assertThat(routes(a)).doesNotContain("198.18.30.0/24").doesNotContain("198.18.21.0/24").contains(LAN_B);
      assertPing(s.srvA, SRV_B, a.describe());
      assertThat(a.latestHandshake("siteB")).isEqualTo(handshake);

      a.stopAndAssertClean();
      b.stopAndAssertClean();
    }
  }

  /** `dctun reload -c FILE --status-file STATUS` in the gateway's namespace, bounded. */
  private static ExecResult reload(Sites.Gw g, Path cfg) {
    List<String> cmd = new ArrayList<>(javaCommand());
    cmd.addAll(List.of("io.dctun.appliance.Main", "reload", "-c", cfg.toString(), "--status-file", g.status.toString()));
    return g.ns.exec(Duration.ofSeconds(40), cmd.toArray(String[]::new));
  }

  private static String routes(Sites.Gw g) {
    return g.ns.run(Duration.ofSeconds(5), "ip", "-4", "route", "show", "dev", g.tun).stdout();
  }
}
