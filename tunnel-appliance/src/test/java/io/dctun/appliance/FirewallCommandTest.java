package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The firewall section (parsing, errors with lines) and {@code dctun firewall explain}. */
class FirewallCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();
  String prodKey;
  String stagingKey;

  /** The README's example, staging-dc2's gateway: narrow prod -> staging, wide staging <-> staging. */
  static final String README_FIREWALL = """
      firewall:
        max-flows: 262144
        groups:
          prod: [prod-dc1]
          staging: [staging-dc3]
        rules:
          # narrow: production streams its database to the staging replica, nothing else
          - name: pg-replication
            direction: in
            group: prod
            source: 10.1.0.0/16
            destination: 10.2.5.10
            protocol: tcp
            destination-port: 5432
            action: accept
            log: true
          - name: nightly-backup
            direction: in
            peer: prod-dc1
            source: 10.1.9.0/24
            destination: 10.2.6.0/24
            protocol: tcp
            destination-port: 873
            match: {module: time-window, from: "22:00", to: "04:00"}
            action: accept
          - name: no-ssh-from-prod
            direction: in
            group: prod
            protocol: tcp
            destination-port: 22
            action: reject
          # wide: staging spans both datacenters, anything between its LANs, both ways
          - name: staging-intra
            group: staging
            source: [10.2.0.0/16, 10.3.0.0/16]
            destination: [10.2.0.0/16, 10.3.0.0/16]
            action: accept
      """;

  @BeforeEach
  void keys() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    prodKey = PrivateKey.generate().publicKey().toBase64();
    stagingKey = PrivateKey.generate().publicKey().toBase64();
  }

  String base() {
    return "private-key-file: gw.key\n"        // 1
        + "listen-port: 51820\n"                // 2
        + "peers:\n"                            // 3
        + "  - name: prod-dc1\n"                // 4
        + "    public-key: " + prodKey + "\n"   // 5
        + "    allowed-ips: [10.1.0.0/16]\n"    // 6
        + "  - name: staging-dc3\n"             // 7
        + "    public-key: " + stagingKey + "\n" // 8
        + "    allowed-ips: [10.3.0.0/16]\n";   // 9
  }

  int run(String... args) {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
    var cl = Main.commandLine(new ByteArrayInputStream(new byte[0]), dir);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void readmeExampleLoadsAndDecidesPerPeer() throws Exception {
    Files.writeString(dir.resolve("gw.yaml"), base() + README_FIREWALL);
    GatewayConfig cfg = ConfigLoader.load(dir.resolve("gw.yaml"));
    assertThat(cfg.firewall()).isPresent();
    assertThat(cfg.firewall().get().ruleSet().ruleNames())
        .containsExactly("pg-replication", "nightly-backup", "no-ssh-from-prod", "staging-intra");
    assertThat(cfg.firewall().get().where("pg-replication")).isEqualTo(dir.resolve("gw.yaml") + ":17");

    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "prod-dc1", "--proto", "tcp",
        "--src", "10.1.0.5", "--dst", "10.2.5.10", "--dport", "5432")).isZero();
    assertThat(out.toString()).startsWith("ACCEPT").contains("rule 'pg-replication' (#0, " + dir.resolve("gw.yaml") + ":17)");
    // the steps the data path's decision took, in order, ending with its verdict
    assertThat(out.toString()).containsSubsequence("steps", "first matching rule: 'pg-replication' #0",
        "verdict: RULE_ACCEPT");

    // prod may not reach the rest of staging's LAN...
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "prod-dc1", "--src", "10.1.0.5",
        "--dst", "10.2.7.7", "--dport", "5432")).isZero();
    assertThat(out.toString()).startsWith("DROP").contains("no rule matches: default deny (NO_RULE");
    // ...and ssh from prod is refused with a RST
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "prod-dc1", "--src", "10.1.0.5",
        "--dst", "10.2.7.7", "--dport", "22")).isZero();
    assertThat(out.toString()).startsWith("REJECT").contains("no-ssh-from-prod");
    // while staging's other datacenter reaches anything in staging, any protocol, both ways
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "staging-dc3", "--proto", "udp",
        "--src", "10.3.0.5", "--dst", "10.2.7.7", "--dport", "53")).isZero();
    assertThat(out.toString()).startsWith("ACCEPT").contains("staging-intra");
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--to", "staging-dc3", "--direction", "out",
        "--proto", "icmp", "--src", "10.2.0.5", "--dst", "10.3.7.7")).isZero();
    assertThat(out.toString()).startsWith("ACCEPT").contains("staging-intra");
    // but prod gets nothing into the tunnel from here
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--to", "prod-dc1", "--direction", "out",
        "--src", "10.2.5.10", "--dst", "10.1.0.5", "--dport", "5432")).isZero();
    assertThat(out.toString()).startsWith("DROP");

    assertThat(run("check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains("firewall: default deny, 4 rule(s), 2 group(s)");
    assertThat(run("firewall", "rules", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains("#3 staging-intra").contains("(anything else: dropped)");
  }

  @Test
  void everyErrorNamesFileLineRuleAndField() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, base()
        + "firewall:\n"                                  // 10
        + "  groups:\n"                                  // 11
        + "    prod: [prod-dc1, prod-dc9]\n"             // 12
        + "  rules:\n"                                   // 13
        + "    - name: pg\n"                             // 14
        + "      peer: prod-dc2\n"                       // 15
        + "      source: [10.1.0.0/16, 10.300.0.0/16]\n" // 16
        + "      protocol: icmp\n"                       // 17
        + "      destination-port: 5432\n"               // 18
        + "      action: accept\n"                       // 19
        + "    - name: pg\n"                             // 20
        + "      action: accept\n"                       // 21
        + "    - name: ports\n"                          // 22
        + "      protocol: tcp\n"                        // 23
        + "      destination-port: [22, 70000]\n"        // 24
        + "      direction: sideways\n"                  // 25
        + "      action: permit\n"                       // 26
        + "    - name: window\n"                         // 27
        + "      match: {module: time-window, from: 8am, to: \"18:00\"}\n" // 28
        + "      action: drop\n"                         // 29
        + "    - name: nomodule\n"                       // 30
        + "      match: {module: geoip}\n"               // 31
        + "      action: drop\n");                       // 32
    assertThat(run("check", "-c", "gw.yaml")).isEqualTo(1);
    String e = err.toString();
    assertThat(e).contains(
        f + ":12: firewall.groups.prod[1]: unknown peer 'prod-dc9'",
        f + ":15: firewall.rules[0] (pg).peer: rule 'pg': unknown peer 'prod-dc2'",
        f + ":16: firewall.rules[0] (pg).source[1]: rule 'pg': invalid IP address in prefix '10.300.0.0/16'",
        f + ":18: firewall.rules[0] (pg).destination-port: rule 'pg': ports need protocol tcp or udp",
        f + ":20: firewall.rules[1].name: 'pg' is already the name of the rule at line 14",
        f + ":25: firewall.rules[2] (ports).direction: 'sideways' is not a direction",
        f + ":26: firewall.rules[2] (ports).action: 'permit' is not an action",
        f + ":28: firewall.rules[3] (window).match: rule 'window': parameter 'from': not a time HH:MM: '8am'",
        f + ":31: firewall.rules[4] (nomodule).match: rule 'nomodule': no rule module named 'geoip'");
    // explain refuses a broken configuration the same way
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--src", "10.1.0.5", "--dst", "10.2.0.1", "--dport", "1"))
        .isEqualTo(1);
    assertThat(err.toString()).contains(f + ":15:");

    // a bad port in an otherwise valid rule: the list item's line
    Files.writeString(f, base() + "firewall:\n  rules:\n    - name: p\n      protocol: tcp\n"
        + "      destination-port:\n        - 22\n        - 70000\n      action: accept\n");
    ConfigException ce = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, () -> ConfigLoader.load(f));
    assertThat(ce.errors()).hasSize(1);
    assertThat(ce.errors().get(0).line()).isEqualTo(16);
    assertThat(ce.errors().get(0).field()).isEqualTo("firewall.rules[0] (p).destination-port[1]");
  }

  @Test
  void maxFlowsPerPeerIsReadCheckedAndShown() throws Exception {
    Path f = dir.resolve("gw.yaml");
    // Default: two peers share the table in halves.
    Files.writeString(f, base() + "firewall:\n  max-flows: 4096\n");
    assertThat(run("check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains("max 4096 flows, 2048 per peer");
    Files.writeString(f, base() + "firewall:\n  max-flows-per-peer: 1000\n  max-flows: 4096\n");
    assertThat(ConfigLoader.load(f).firewall().get().options().maxFlowsPerPeer()).isEqualTo(1000);
    assertThat(run("check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains("max 4096 flows, 1000 per peer");

    Files.writeString(f, base()
        + "firewall:\n"                   // 10
        + "  max-flows: 4096\n"           // 11
        + "  max-flows-per-peer: 5000\n"); // 12
    assertThat(run("check", "-c", "gw.yaml")).isEqualTo(1);
    assertThat(err.toString()).contains(f + ":12: firewall.max-flows-per-peer: 5000 is more than max-flows (4096)");
    for (String bad : new String[] {"0", "-3", "lots", "[1, 2]"}) {
      Files.writeString(f, base() + "firewall:\n  max-flows-per-peer: " + bad + "\n");
      assertThat(run("check", "-c", "gw.yaml")).as(bad).isEqualTo(1);
      assertThat(err.toString()).as(bad).contains(f + ":11: firewall.max-flows-per-peer:");
    }
  }

  @Test
  void noSectionAcceptsAllWithAWarningAndAnEmptySectionDeniesAll() throws Exception {
    Files.writeString(dir.resolve("gw.yaml"), base());
    assertThat(run("check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains("WARNING: no firewall section: every packet is accepted");
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "prod-dc1", "--src", "10.1.0.5",
        "--dst", "10.2.0.1", "--dport", "22")).isZero();
    assertThat(out.toString()).startsWith("ACCEPT").contains("no firewall section");

    Files.writeString(dir.resolve("gw.yaml"), base() + "firewall:\n");
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "prod-dc1", "--src", "10.1.0.5",
        "--dst", "10.2.0.1", "--dport", "22")).isZero();
    assertThat(out.toString()).startsWith("DROP").contains("default deny");
  }

  @Test
  void badPacketDescriptionIsAUsageError() throws Exception {
    Files.writeString(dir.resolve("gw.yaml"), base() + README_FIREWALL);
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--from", "nobody", "--src", "10.1.0.5",
        "--dst", "10.2.0.1", "--dport", "22")).isEqualTo(2);
    assertThat(err.toString()).contains("unknown peer 'nobody'");
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--src", "10.1.0.500", "--dst", "10.2.0.1")).isEqualTo(2);
    assertThat(run("firewall", "explain", "-c", "gw.yaml", "--direction", "up", "--src", "10.1.0.5",
        "--dst", "10.2.0.1")).isEqualTo(2);
  }

  @Test
  void reloadRefusesABrokenFileAndKeepsTheRules() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, base() + README_FIREWALL);
    GatewayConfig cfg = ConfigLoader.load(f);
    io.dctun.core.session.Device device = new io.dctun.core.session.Device(
        KeyFiles.readPrivateKey(dir.resolve("gw.key")), 1420, new NullOutput(), io.dctun.core.Clock.SYSTEM);
    System.setProperty("dctun.noSighup", "true");
    try (GatewayFirewall g = GatewayFirewall.attach(cfg, device)) {
      assertThat(g.firewall().rulesVersion()).isEqualTo(1);
      Files.writeString(f, base() + README_FIREWALL.replace("destination-port: 873", "destination-port: 99999"));
      assertThat(g.reload()).isFalse();
      assertThat(g.firewall().rulesVersion()).isEqualTo(1);
      assertThat(io.dctun.core.status.StatusText.of(g)).contains("firewall.reload-failures 1", "firewall.last-reload-error " + f + ":")
          .contains("nightly-backup").contains("firewall.rule.pg-replication.packets 0");
      Files.writeString(f, base() + README_FIREWALL.replace("destination-port: 873", "destination-port: 874"));
      assertThat(g.reload()).isTrue();
      assertThat(g.firewall().rulesVersion()).isEqualTo(2);
      assertThat(g.firewall().ruleSet().ruleNames()).hasSize(4);
    }
  }

  @Test
  void idleFlowsExpireOnTheEngineTick() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, base() + README_FIREWALL);
    GatewayConfig cfg = ConfigLoader.load(f);
    io.dctun.core.session.Device device = new io.dctun.core.session.Device(
        KeyFiles.readPrivateKey(dir.resolve("gw.key")), 1420, new NullOutput(), io.dctun.core.Clock.SYSTEM);
    System.setProperty("dctun.noSighup", "true");
    try (GatewayFirewall g = GatewayFirewall.attach(cfg, device)) {
      io.dctun.firewall.Firewall fw = g.firewall();
      byte[] syn = io.dctun.firewall.Packets.tcp("10.1.0.5", 40000, "10.2.5.10", 5432, io.dctun.core.packet.IpPacket.TCP_SYN);
      long t0 = 1_000_000_000_000L;
      assertThat(fw.filterInbound(io.dctun.crypto.PublicKey.fromBase64(prodKey), syn, 0, syn.length, t0))
          .as("pg-replication accepts it").isEqualTo(io.dctun.core.session.PacketFilter.ACCEPT);
      assertThat(fw.flowCount()).as("a tracked flow").isEqualTo(1);
      g.tick(t0);
      assertThat(fw.flowCount()).as("not idle yet").isEqualTo(1);
      long later = t0 + 3_600_000_000_000L; // an hour: past every idle timeout
      g.tick(later);
      assertThat(fw.flowCount()).as("expired on the tick").isZero();
      assertThat(io.dctun.core.status.StatusText.of(g)).contains("firewall.expired-flows 1\n");
    }
  }

  /** An Output that discards everything. */
  static final class NullOutput implements io.dctun.core.session.Output {
    @Override
    public void sendToNetwork(io.dctun.core.transport.Endpoint to, byte[] buf, int off, int len) {}

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {}
  }
}
