package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two dctun sites with a firewall on each gateway. Only srvA -> srvB TCP 5432 (and ping, and the
 * bulk ports) are allowed, in that direction: the connection and its replies pass; the same port
 * the other way is dropped at the sending gateway (gwB); a port gwA does not allow never crosses
 * the WAN (gwA's counters and a WAN capture); reject answers with a TCP RST ("Connection
 * refused", at once) and an ICMP prohibited ("Packet filtered"); a SIGHUP reload in the middle of
 * a transfer, and a refused one with an error, leave it intact.
 */
@Timeout(120)
class E2eFirewallPairTest {
  /** gwA: what site A may send into the tunnel. */
  static final String FIREWALL_A = """
      firewall:
        max-flows: 4096
        rules:
          - name: reject-ping-99
            direction: out
            protocol: icmp
            destination: 198.18.20.99
            action: reject
          - name: ping-out
            direction: out
            protocol: icmp
            icmp-type: 8
            action: accept
          - name: pg-out
            direction: out
            peer: siteB
            source: 198.18.10.0/24
            destination: 198.18.20.10/32
            protocol: tcp
            destination-port: 5432
            action: accept
          - name: bulk-out
            direction: out
            protocol: tcp
            destination-port: 5001-5099
            action: accept
          - name: reject-6000
            direction: out
            protocol: tcp
            destination-port: 6000
            action: reject
      """;
  /** gwB: what site B accepts from the tunnel (it sends nothing new into it). */
  static final String FIREWALL_B = """
      firewall:
        groups:
          site-a: [siteA]
        rules:
          - name: ping-in
            direction: in
            protocol: icmp
            icmp-type: 8
            action: accept
          - name: pg-in
            direction: in
            group: site-a
            source: [198.18.10.0/24]
            destination: [198.18.20.10]
            protocol: tcp
            destination-port: 5432
            action: accept
          - name: bulk-in
            direction: in
            peer: siteA
            protocol: tcp
            destination-port: [5001-5099]
            action: accept
      """;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("tcpdump");
  }

  @Test
  void onlyWhatTheRulesAllowCrossesAndReloadKeepsAStreamAlive() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      String tunA = s.topology.ifName("dta");
      String tunB = s.topology.ifName("dtb");
      Path cfgA = writeConfig(s, "gwA", tunA, ka, TUN_A + "/24", "siteB", publicKeyOf(kb), WAN_B + ":" + PORT,
          List.of(LAN_B, TUN_B + "/32"), FIREWALL_A);
      Path cfgB = writeConfig(s, "gwB", tunB, kb, TUN_B + "/24", "siteA", publicKeyOf(ka), WAN_A + ":" + PORT,
          List.of(LAN_A, TUN_A + "/32"), FIREWALL_B);
      Sites.Gw a = s.launch(s.gwA, "gwA", tunA, ka, cfgA);
      Sites.Gw b = s.launch(s.gwB, "gwB", tunB, kb, cfgB);
      assertThat(a.status().get("firewall")).isEqualTo("on");

      // Ping srvA -> srvB: echo requests by rule on both gateways, replies as established.
      assertPing(s.srvA, SRV_B, a, b);
      a.awaitHandshake("siteB", Duration.ofSeconds(5));

      // 1. Allowed: srvA -> srvB tcp 5432; the replies (SYN-ACK, ACKs, echoed data) pass too.
      String echoed = tcpEcho(s.srvA, s.srvB, SRV_B, 5432, "hello-5432");
      assertThat(echoed).as("reply over the allowed connection\n%s\n%s", a.describe(), b.describe())
          .isEqualTo("hello-5432");
      assertThat(a.awaitNumber("firewall.rule.pg-out.packets", 3, Duration.ofSeconds(3))).isGreaterThanOrEqualTo(3);
      assertThat(b.awaitNumber("firewall.rule.pg-in.packets", 3, Duration.ofSeconds(3))).isGreaterThanOrEqualTo(3);

      // 2. The same port the other way (srvB -> srvA 5432): no rule on gwB, dropped there.
      long noRuleB = b.number("firewall.reason.NO_RULE");
      long rxA = a.number("peer.siteB.rx-bytes");
      ConnectResult back = connect(s.srvB, SRV_A, 5432, 3);
      assertThat(back.ok()).as("srvB -> srvA:5432 must not connect: %s", back).isFalse();
      assertThat(back.elapsedMillis()).as("dropped, not refused: connect times out").isGreaterThanOrEqualTo(2500);
      assertThat(b.awaitNumber("firewall.reason.NO_RULE", noRuleB + 1, Duration.ofSeconds(3)))
          .as("gwB counts the SYNs it drops").isGreaterThan(noRuleB);

      // 3. A port gwA does not allow (22): dropped at gwA, nothing crosses the WAN.
      Sites.Capture wan = s.capture(s.gwA, s.wanIfA, 128, 100, "udp port " + PORT + " and greater 100");
      long noRuleA = a.number("firewall.reason.NO_RULE");
      long txA = a.number("peer.siteB.tx-bytes");
      long noRuleB2 = b.number("firewall.reason.NO_RULE");
      ConnectResult ssh = connect(s.srvA, SRV_B, 22, 3);
      assertThat(ssh.ok()).isFalse();
      assertThat(ssh.elapsedMillis()).isGreaterThanOrEqualTo(2500);
      long droppedA = a.awaitNumber("firewall.reason.NO_RULE", noRuleA + 2, Duration.ofSeconds(3)) - noRuleA;
      Path pcap = wan.stop();
      List<Pcap.Ipv4> onWan = Pcap.ipv4(pcap);
      System.out.printf("srvA -> srvB:22: %d SYN(s) dropped at gwA, %d data-sized WireGuard packets on the WAN%n",
          droppedA, onWan.size());
      assertThat(droppedA).as("SYN and retransmissions dropped at gwA").isGreaterThanOrEqualTo(2);
      assertThat(onWan).as("no packet big enough to carry a SYN crossed the WAN").isEmpty();
      assertThat(a.number("peer.siteB.tx-bytes") - txA).as("gwA sent siteB no data for port 22").isLessThan(60);
      assertThat(b.number("firewall.reason.NO_RULE")).as("gwB never saw them").isEqualTo(noRuleB2);
      assertThat(a.number("peer.siteB.rx-bytes")).isGreaterThanOrEqualTo(rxA);

      // 4. reject: TCP RST at once (connection refused), ICMP prohibited for ping.
      ConnectResult refused = connect(s.srvA, SRV_B, 6000, 5);
      assertThat(refused.ok()).isFalse();
      assertThat(refused.output()).as("RST from gwA's reject rule").contains("Connection refused");
      assertThat(refused.elapsedMillis()).as("refused at once, not timed out").isLessThan(2000);
      ExecResult ping = s.srvA.exec(Duration.ofSeconds(10), "ping", "-n", "-c", "1", "-W", "3", "198.18.20.99");
      assertThat(ping.ok()).isFalse();
      assertThat(ping.stdout()).as("ICMP administratively prohibited\n%s", ping.describe()).contains("Packet filtered");
      assertThat(a.awaitNumber("firewall.rule.reject-6000.packets", 1, Duration.ofSeconds(3))).isPositive();
      assertThat(a.awaitNumber("firewall.reason.RULE_REJECT", 2, Duration.ofSeconds(3))).isGreaterThanOrEqualTo(2);

      // 5. A transfer of ~6 s; mid-way gwB reloads good rules, then refuses a broken file.
      Payload p = s.payload(12L << 20);
      CompletableFuture<String> transfer = CompletableFuture.supplyAsync(
          () -> slowTransfer(s.srvA, s.srvB, SRV_B, 5050, p, 48));
      sleep(1500);
      String reordered = FIREWALL_B.replace("    - name: ping-in\n", "    - name: extra-https\n"
          + "      direction: in\n      protocol: tcp\n      destination-port: 443\n      action: accept\n"
          + "    - name: ping-in\n");
      assertThat(reordered).contains("extra-https");
      Files.writeString(cfgB, baseConfig(s, "gwB", tunB, kb, TUN_B + "/24", "siteA", publicKeyOf(ka),
          WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32")) + reordered);
      hup(b);
      assertThat(b.awaitNumber("firewall.reloads", 1, Duration.ofSeconds(5))).as(b.describe()).isEqualTo(1);
      assertThat(b.number("firewall.rules-version")).isEqualTo(2);
      assertThat(b.number("firewall.rules")).isEqualTo(4);
      sleep(1000);
      String broken = reordered.replace("destination-port: 443", "destination-port: 443-80");
      Files.writeString(cfgB, baseConfig(s, "gwB", tunB, kb, TUN_B + "/24", "siteA", publicKeyOf(ka),
          WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32")) + broken);
      hup(b);
      assertThat(b.awaitNumber("firewall.reload-failures", 1, Duration.ofSeconds(5))).as(b.describe()).isEqualTo(1);
      assertThat(b.status().get("firewall.last-reload-error")).contains(cfgB.toString() + ":")
          .contains("extra-https").contains("443-80");
      assertThat(b.number("firewall.rules-version")).as("old rules stay").isEqualTo(2);
      String sha = transfer.get(60, TimeUnit.SECONDS);
      assertThat(sha).as("SHA-256 of the stream across both reloads").isEqualTo(p.sha256());
      assertThat(b.number("firewall.reason.REVOKED_BY_RELOAD")).isZero();
      assertThat(b.process.output()).contains("reload refused, nothing changed").contains(cfgB + ":");

      System.out.println("gwA status:\n" + a.status());
      a.stopAndAssertClean();
      b.stopAndAssertClean();
    }
  }

  // ------------------------------------------------------------------ helpers (shared with the wireguard-go test)

  /** The gateway YAML without a firewall section. */
  static String baseConfig(Sites s, String label, String tun, PrivateKey key, String address, String peer,
      String peerKey, String endpoint, List<String> allowed) {
    Path keyFile = s.dir().resolve(label + ".key");
    try {
      if (!Files.exists(keyFile)) {
        KeyFiles.writePrivateKey(keyFile, key);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return "interface: " + tun + "\n"
        + "private-key-file: " + keyFile + "\n"
        + "listen-port: " + PORT + "\n"
        + "addresses: [" + address + "]\n"
        + "mtu: 1420\n"
        + "peers:\n"
        + "  - name: " + peer + "\n"
        + "    public-key: " + peerKey + "\n"
        + (endpoint == null ? "" : "    endpoint: " + endpoint + "\n")
        + "    allowed-ips: [" + String.join(", ", allowed) + "]\n";
  }

  static Path writeConfig(Sites s, String label, String tun, PrivateKey key, String address, String peer,
      String peerKey, String endpoint, List<String> allowed, String firewall) throws IOException {
    Path cfg = s.dir().resolve(label + ".yaml");
    Files.writeString(cfg, baseConfig(s, label, tun, key, address, peer, peerKey, endpoint, allowed) + firewall);
    return cfg;
  }

  /** SIGHUP to a gateway process. */
  static void hup(Sites.Gw g) {
    NetNs.root().run(Duration.ofSeconds(5), "kill", "-HUP", Long.toString(g.process.pid()));
  }

  record ConnectResult(boolean ok, long elapsedMillis, String output) {}

  /** A TCP connect from {@code from} with socat, bounded by {@code timeoutSeconds}. */
  static ConnectResult connect(NetNs from, String addr, int port, int timeoutSeconds) {
    long t0 = System.nanoTime();
    ExecResult r = from.exec(Duration.ofSeconds(timeoutSeconds + 5), "socat", "-u", "/dev/null",
        "TCP:" + addr + ":" + port + ",connect-timeout=" + timeoutSeconds);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    return new ConnectResult(r.ok(), ms, r.stdout() + r.stderr());
  }

  /** Waits (bounded) until something listens on TCP {@code port} in {@code ns}. */
  static void awaitListening(NetNs ns, int port, Spawned server) {
    for (int i = 0; i < 250; i++) {
      if (!ns.exec("ss", "-H", "-ltn", "sport = :" + port).stdout().isBlank()) {
        return;
      }
      sleep(20);
    }
    throw new AssertionError("nothing listens on " + port + "\n" + server.describe());
  }

  /** srvB echoes one line back over TCP {@code port}; returns what srvA read back. */
  static String tcpEcho(NetNs client, NetNs server, String addr, int port, String line) {
    Spawned echo = server.spawn("socat", "TCP-LISTEN:" + port + ",bind=" + addr + ",reuseaddr", "EXEC:cat");
    try {
      awaitListening(server, port, echo);
      ExecResult r = client.exec(Duration.ofSeconds(15), java.util.Map.of(), (line + "\n").getBytes(),
          "socat", "-t", "2", "-T", "5", "STDIO", "TCP:" + addr + ":" + port + ",connect-timeout=5");
      assertThat(r.ok()).as("echo client\n%s\n%s", r.describe(), echo.describe()).isTrue();
      return r.stdout().strip();
    } finally {
      echo.close();
    }
  }

  private static final Pattern SHA = Pattern.compile("\\b([0-9a-f]{64})\\b");

  /**
   * Sends {@code p} from {@code from} to {@code addr:port} in {@code chunks} pieces with a pause
   * after each (so that the stream lasts seconds), and returns the SHA-256 the receiver computed.
   */
  static String slowTransfer(NetNs from, NetNs to, String addr, int port, Payload p, int chunks) {
    Spawned server = to.spawn("sh", "-c",
        "socat -u TCP-LISTEN:" + port + ",bind=" + addr + ",reuseaddr STDOUT | sha256sum");
    try {
      awaitListening(to, port, server);
      long chunk = (p.size() + chunks - 1) / chunks;
      String sender = "i=0; while [ $i -lt " + chunks + " ]; do dd if=" + p.file() + " bs=" + chunk
          + " skip=$i count=1 status=none; sleep 0.12; i=$((i+1)); done | socat -u STDIN TCP:" + addr + ":" + port
          + ",connect-timeout=5";
      ExecResult c = from.exec(Duration.ofSeconds(45), "sh", "-c", sender);
      assertThat(c.ok()).as("slow sender\n%s", c.describe()).isTrue();
      assertThat(server.process().waitFor(20, TimeUnit.SECONDS)).as(server.describe()).isTrue();
      Matcher m = SHA.matcher(server.output());
      assertThat(m.find()).as("receiver printed a SHA-256\n%s", server.describe()).isTrue();
      return m.group(1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } finally {
      server.close();
    }
  }
}
