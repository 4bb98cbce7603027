package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.PeerConfig;
import io.dctun.core.route.Prefix;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a reload would change, worked out from the running file and the new one (no device, no root). */
class GatewayReloadTest {
  @TempDir Path dir;
  final String siteB = PrivateKey.generate().publicKey().toBase64();
  final String siteC = PrivateKey.generate().publicKey().toBase64();
  final String gw2 = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void key() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
  }

  String file(String listenPort, String siteBAllowed, String extraPeers, String tail) {
    return "private-key-file: gw.key\n"
        + "listen-port: " + listenPort + "\n"
        + "addresses: [198.19.0.1/24]\n"
        + "peers:\n"
        + "  - name: siteB\n"
        + "    public-key: " + siteB + "\n"
        + "    endpoint: 198.18.0.2:51820\n"
        + "    allowed-ips: [" + siteBAllowed + "]\n"
        + extraPeers
        + tail;
  }

  String siteCPeer() {
    return "  - name: siteC\n"
        + "    public-key: " + siteC + "\n"
        + "    allowed-ips: [198.18.30.0/24]\n";
  }

  GatewayConfig load(String yaml) throws Exception {
    Path f = Files.createTempFile(dir, "gw", ".yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f);
  }

  @Test
  void theSameFileChangesNothing() throws Exception {
    GatewayConfig a = load(file("51820", "198.19.0.2/32, 198.18.20.0/24", "", ""));
    GatewayReload.Plan p = GatewayReload.plan(a, load(file("51820", "198.19.0.2/32, 198.18.20.0/24", "", "")));
    assertThat(p.applicable()).isTrue();
    assertThat(p.empty()).isTrue();
    assertThat(p.describe()).isEqualTo("no change");
  }

  @Test
  void peersAddedRemovedAndChangedAreEachNamed() throws Exception {
    GatewayConfig running = load(file("51820", "198.19.0.2/32, 198.18.20.0/24", siteCPeer(), ""));
    GatewayConfig next = load(file("51820", "198.19.0.2/32, 198.18.20.0/24, 198.18.21.0/24", "", ""));
    GatewayReload.Plan p = GatewayReload.plan(running, next);
    assertThat(p.applicable()).isTrue();
    assertThat(p.removed()).extracting(PeerConfig::label).containsExactly("siteC");
    assertThat(p.changed()).extracting(PeerConfig::label).containsExactly("siteB");
    assertThat(p.added()).isEmpty();
    assertThat(p.describe()).contains("change peer siteB").contains("remove peer siteC");

    GatewayReload.Plan back = GatewayReload.plan(next, running);
    assertThat(back.added()).extracting(PeerConfig::label).containsExactly("siteC");
    assertThat(GatewayReload.kernelRoutes(next))
        .containsExactly(Prefix.parse("198.19.0.2/32"), Prefix.parse("198.18.20.0/24"), Prefix.parse("198.18.21.0/24"));
    assertThat(GatewayReload.kernelRoutes(load(file("51820", "198.19.0.0/24, 0.0.0.0/0", "", ""))))
        .as("the interface's own network is the address's route, and /0 is never routed").isEmpty();
  }

  @Test
  void aNewPresharedKeyIsAChange() throws Exception {
    GatewayConfig a = load(file("51820", "198.18.20.0/24", "", ""));
    Path psk = dir.resolve("b.psk");
    KeyFiles.writePresharedKey(psk, PresharedKey.generate());
    GatewayConfig b = load(file("51820", "198.18.20.0/24", "", "").replace("    endpoint: 198.18.0.2:51820\n",
        "    endpoint: 198.18.0.2:51820\n    preshared-key-file: b.psk\n"));
    assertThat(GatewayReload.plan(a, b).changed()).extracting(PeerConfig::label).containsExactly("siteB");
    assertThat(GatewayReload.plan(b, b).changed()).isEmpty();
  }

  @Test
  void whatOnlyARestartAppliesRefusesTheWholeFileNamingEachField() throws Exception {
    GatewayConfig running = load(file("51820", "198.18.20.0/24", "", ""));
    GatewayConfig next = load(file("51821", "198.18.20.0/24, 198.18.21.0/24", siteCPeer(), "mtu: 1380\n"));
    GatewayReload.Plan p = GatewayReload.plan(running, next);
    assertThat(p.applicable()).isFalse();
    assertThat(p.needRestart()).containsExactly("listen-port", "mtu");
    assertThat(p.describe()).startsWith("needs a restart: listen-port; mtu");
  }

  @Test
  void routeSharingPeersAndTheFirewallTableSizeNeedARestart() throws Exception {
    String mesh = "  - name: gw2\n    public-key: " + gw2 + "\n    endpoint: 198.18.0.3:51820\n"
        + "    allowed-ips: [198.18.40.0/24]\n    role: gateway\n";
    String fw = "firewall:\n  max-flows: %d\n  rules:\n    - {name: ping, direction: out, protocol: icmp, action: accept}\n";
    GatewayConfig running = load(file("51820", "198.18.20.0/24", "", String.format(fw, 4096)));
    GatewayReload.Plan p = GatewayReload.plan(running, load(file("51820", "198.18.20.0/24", mesh, String.format(fw, 8192))));
    assertThat(p.needRestart()).anyMatch(s -> s.startsWith("peer gw2 (role gateway) added"))
        .anyMatch(s -> s.startsWith("firewall.max-flows"));
    assertThat(GatewayReload.plan(running, load(file("51820", "198.18.20.0/24", "", ""))).needRestart())
        .containsExactly("firewall (the section is gone)");
    GatewayReload.Plan same = GatewayReload.plan(running, load(file("51820", "198.18.20.0/24", "", String.format(fw, 4096))));
    assertThat(same.applicable()).isTrue();
    assertThat(same.firewallChanged()).as("the rules are swapped on every reload").isTrue();
  }
}
