package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.core.uapi.SocketSettings;
import io.dctun.core.uapi.Uapi;
import io.dctun.core.uapi.UapiServer;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dctun status} reads a gateway's UAPI socket (here in a temporary directory: no root). */
class StatusCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();
  final PrivateKey key = PrivateKey.generate();
  final PrivateKey peer = PrivateKey.generate();
  UapiServer server;

  @BeforeEach
  void serve() throws Exception {
    Device d = new Device(key, 1420, new Output() {
      @Override
      public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {}

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    }, Clock.SYSTEM);
    d.addPeer(PeerConfig.of(peer.publicKey(), UdpEndpoint.of("198.18.224.2", 51820), "198.18.225.0/24", "198.18.226.0/24")
        .withPersistentKeepalive(25).withPresharedKey(PresharedKey.generate()));
    server = UapiServer.start(new Uapi(d, key, SocketSettings.fixed(51820)), dir, "du0st", UapiServer.Options.DEFAULT);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  int run(String... args) {
    var cl = Main.commandLine(new ByteArrayInputStream(new byte[0]), dir);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void printsThePeerTableWithoutSecrets() {
    assertThat(run("status", "-i", "du0st", "--socket-dir", dir.toString())).as(err.toString()).isZero();
    assertThat(out.toString()).isEqualTo("interface: du0st\n  public key: " + key.publicKey().toBase64()
        + "\n  listening port: 51820\n\npeer: " + peer.publicKey().toBase64()
        + "\n  endpoint: 198.18.224.2:51820\n  allowed ips: 198.18.225.0/24, 198.18.226.0/24\n  latest handshake: never"
        + "\n  transfer: 0 B received, 0 B sent\n  persistent keepalive: every 25 s\n  preshared key: (hidden)\n");
    assertThat(out.toString()).doesNotContain(key.toBase64());
  }

  @Test
  void jsonWithNamesFromTheFile() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), key);
    Files.writeString(dir.resolve("gw.yaml"), "interface: du0st\nprivate-key-file: gw.key\nlisten-port: 51820\npeers:\n"
        + "  - name: site-b\n    public-key: " + peer.publicKey().toBase64() + "\n    allowed-ips: [198.18.225.0/24]\n");
    assertThat(run("status", "-c", "gw.yaml", "--json", "--socket-dir", dir.toString())).as(err.toString()).isZero();
    assertThat(out.toString()).isEqualTo("{\"interface\":\"du0st\",\"publicKey\":\"" + key.publicKey().toBase64()
        + "\",\"listenPort\":51820,\"peers\":[{\"publicKey\":\"" + peer.publicKey().toBase64()
        + "\",\"name\":\"site-b\",\"presharedKey\":true,\"endpoint\":\"198.18.224.2:51820\","
        + "\"allowedIps\":[\"198.18.225.0/24\",\"198.18.226.0/24\"],\"latestHandshake\":0,\"rxBytes\":0,\"txBytes\":0,"
        + "\"persistentKeepalive\":25}]}\n");
  }

  @Test
  void noGatewayIsAClearFailure() {
    assertThat(run("status", "-i", "du0none", "--socket-dir", dir.toString())).isEqualTo(Main.EXIT_FAILED);
    assertThat(err.toString()).contains("du0none").contains("is dctun up running with uapi on?");
    assertThat(List.of(out.toString())).containsExactly("");
  }

  /** Lines as a running gateway writes them (taken from a real gwB of E2eFirewallPairTest, plus HA and a route). */
  static final String STATUS = String.join("\n",
      "interface du0st",
      "reload.count 1",
      "reload.failures 0",
      "reload.last add peer siteC [198.18.30.0/24]",
      "listen *:51820",
      "peer siteA cLIsqbiMW6VJIlUXldIE3trrATCaETbGlNRfSPUMNV8=",
      "peer.siteA.endpoint 198.18.0.1:51820",
      "peer.siteA.rx-bytes 13367824",
      "peer.siteA.latest-handshake-unix 1796408477",
      "peer siteC 3nKLsSj6lnG9Z3GX1FqOJ9ndiX6A1+zLcBvNQ1W7NF0=",
      "peer.siteC.endpoint tls://198.18.0.3:443",
      "peer.siteC.latest-handshake-unix 0",
      "drop.BAD_MAC1 0",
      "drop.FILTERED 3",
      "drop.NO_ROUTE 0",
      "route.198.18.70.5/32 gw2 learned from mesh",
      "firewall on",
      "firewall.reloads 1",
      "firewall.flows 3",
      "firewall.max-flows 262144",
      "firewall.rule.pg-in.packets 10",
      "firewall.rule.pg-in.bytes 558",
      "firewall.rule.bulk-in.packets 10292",
      "firewall.rule.bulk-in.bytes 13126380",
      "ha.state MASTER",
      "ha.takeovers 1",
      "transport.tcp.connections-timed-out 2",
      "uapi.sets 0",
      "");

  @Test
  void withTheStatusFileTheTablesShowTheWholeGateway() throws Exception {
    Files.writeString(dir.resolve("gw.status"), STATUS);
    assertThat(run("status", "-i", "du0st", "--socket-dir", dir.toString(), "--status-file", "gw.status"))
        .as(err.toString()).isZero();
    String text = out.toString();
    assertThat(text).startsWith("interface: du0st\n  public key: ");
    assertThat(text).contains("\nHA pair\n").containsPattern("\n  state +MASTER\n");
    assertThat(text).containsPattern("\n  connection table +3 of 262144 flows \\(0\\.0 %\\)\n");
    assertThat(text).contains("\nFirewall rules\n").containsPattern("\n  bulk-in +10292 +13126380\n")
        .containsPattern("\n  pg-in +10 +558\n");
    assertThat(text).containsPattern("\n  198\\.18\\.70\\.5/32 +gw2 +learned from mesh\n");
    assertThat(text).contains("\nDrops (non-zero)\n").containsPattern("\n  FILTERED +3\n").doesNotContain("BAD_MAC1");
    assertThat(text).containsPattern("\n  tcp\\.connections-timed-out +2\n").containsPattern("\n  last +add peer siteC");
    assertThat(text).contains("\nPeers\n").containsPattern("\n  siteA +udp +198\\.18\\.0\\.1:51820 +2026-")
        .containsPattern("\n  siteC +tls +tls://198\\.18\\.0\\.3:443 +never");
    assertThat(text).doesNotContain(key.toBase64());
  }

  @Test
  void withTheStatusFileJsonCarriesEveryKey() throws Exception {
    Files.writeString(dir.resolve("gw.status"), STATUS);
    assertThat(run("status", "-i", "du0st", "--json", "--socket-dir", dir.toString(), "--status-file", "gw.status"))
        .as(err.toString()).isZero();
    com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toString());
    assertThat(j.get("uapi").get("listenPort").asInt()).isEqualTo(51820);
    assertThat(j.get("status").get("firewall.rule.bulk-in.packets").isNumber()).isTrue();
    assertThat(j.get("status").get("firewall.rule.bulk-in.packets").asLong()).isEqualTo(10292);
    assertThat(j.get("status").get("ha.state").asText()).isEqualTo("MASTER");
    assertThat(j.get("status").get("route.198.18.70.5/32").asText()).isEqualTo("gw2 learned from mesh");
    assertThat(j.get("status").get("peer").isArray()).as("one 'peer' line per peer").isTrue();
    assertThat(j.get("status").get("peer").get(1).asText()).startsWith("siteC ");
    assertThat(j.get("status").size()).as("every key, the repeated one once").isEqualTo(STATUS.strip().split("\n").length - 1);
  }

  @Test
  void theStatusFileAloneWhenTheUapiIsOff() throws Exception {
    Files.writeString(dir.resolve("gw.status"), STATUS);
    assertThat(run("status", "-i", "du0off", "--socket-dir", dir.toString(), "--status-file", "gw.status")).isZero();
    assertThat(out.toString()).startsWith("interface: du0off (peers: du0off: cannot read").contains("\nFirewall rules\n");
    assertThat(run("status", "-i", "du0st", "--socket-dir", dir.toString(), "--status-file", "none.status"))
        .isEqualTo(Main.EXIT_FAILED);
    assertThat(err.toString()).contains("none.status is empty or missing");
  }

  @Test
  void theStatusFileOfAReverseForward() throws Exception {
    Files.writeString(dir.resolve("fwd.status"), String.join("\n", "forward-outer.listen 198.18.62.1:2222",
        "forward-outer.sessions 1", "forward-outer.listeners 1", "forward-outer.refused-keys 0",
        "forward-inner.state connected", "forward-inner.connects 2", ""));
    assertThat(run("status", "--status-file", "fwd.status")).as(err.toString()).isZero();
    assertThat(out.toString()).startsWith("\nReverse forwards, outer side\n").containsPattern("\n  sessions +1\n")
        .contains("\nReverse forwards, inner side\n").containsPattern("\n  state +connected\n")
        .doesNotContain("Drops").doesNotContain("cannot read");
  }
}
