package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.mesh.HostDirectory;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Peer roles and groups, the mesh section and static routes: what they load to, and their errors with lines. */
class ConfigMeshTest {
  @TempDir Path dir;
  String gw2 = PrivateKey.generate().publicKey().toBase64();
  String site = PrivateKey.generate().publicKey().toBase64();
  String laptop = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void keys() throws IOException {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
  }

  String valid() {
    return String.join("\n",
        "private-key-file: gw.key",                // 1
        "listen-port: 51820",                      // 2
        "addresses: [198.18.64.1/24]",             // 3
        "peers:",                                  // 4
        "  - name: gw2",                           // 5
        "    public-key: " + gw2,                  // 6
        "    endpoint: 198.18.65.2:51820",         // 7
        "    allowed-ips: [198.18.66.0/24]",       // 8
        "    role: gateway",                       // 9
        "  - name: laptop",                        // 10
        "    public-key: " + laptop,               // 11
        "    allowed-ips: [198.18.70.5/32]",       // 12
        "    role: host",                          // 13
        "    groups: [ops, db]",                   // 14
        "  - name: dc9",                           // 15
        "    public-key: " + site,                 // 16
        "    allowed-ips: [198.18.67.0/24]",       // 17
        "routes:",                                 // 18
        "  - prefix: 198.18.99.0/24",              // 19
        "    via: gw2",                            // 20
        "  - {prefix: 198.18.98.0/24, via: dc9}",  // 21
        "");
  }

  GatewayConfig load(String yaml) throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f);
  }

  List<ConfigError> errors(String yaml) throws IOException {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, yaml);
    try {
      ConfigLoader.load(f);
    } catch (ConfigException e) {
      return e.errors();
    }
    throw new AssertionError("expected errors");
  }

  @Test
  void loadsRolesGroupsRoutesAndDefaultMesh() throws Exception {
    GatewayConfig c = load(valid());
    assertThat(c.peers()).extracting(PeerConfig::role)
        .containsExactly(PeerConfig.Role.GATEWAY, PeerConfig.Role.HOST, PeerConfig.Role.SITE);
    assertThat(c.peers().get(1).groups()).containsExactly("ops", "db");
    assertThat(c.peers().get(2).groups()).isEmpty();
    assertThat(c.routes()).extracting(Object::toString)
        .containsExactly("198.18.99.0/24 via gw2", "198.18.98.0/24 via dc9");
    assertThat(c.mesh()).contains(new MeshConfig(MeshConfig.Mode.MESH, HostDirectory.DEFAULT_LEASE_MILLIS));
  }

  @Test
  void noMeshWithoutGatewaysOrHosts() throws Exception {
    GatewayConfig c = load(valid().replace("    role: gateway\n", "").replace("    role: host\n", ""));
    assertThat(c.mesh()).isEmpty();
    assertThat(c.peers()).extracting(PeerConfig::role).containsOnly(PeerConfig.Role.SITE);
  }

  @Test
  void readsMeshLease() throws Exception {
    assertThat(load(valid() + "mesh:\n  mode: mesh\n  lease: 3s\n").mesh()).contains(new MeshConfig(MeshConfig.Mode.MESH, 3000));
    assertThat(load(valid() + "mesh: {lease: 1500ms}\n").mesh().get().leaseMillis()).isEqualTo(1500);
    assertThat(load(valid() + "mesh: {lease: 2m}\n").mesh().get().leaseMillis()).isEqualTo(120_000);
  }

  @Test
  void roundTripsThroughTheWriter() throws Exception {
    GatewayConfig c = load(valid() + "mesh: {lease: 5s}\n");
    String yaml = ConfigWriter.toYaml(c, dir);
    GatewayConfig again = load(yaml);
    assertThat(again).isEqualTo(c);
  }

  @Test
  void etcdModeNeedsItsEndpointsAndRoundTrips() throws Exception {
    assertThat(errors(valid() + "mesh:\n  mode: etcd\n")).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(23);
      assertThat(e.field()).isEqualTo("mesh.etcd-endpoints");
      assertThat(e.message()).contains("required with mode: etcd");
    });
    GatewayConfig c = load(valid() + "mesh:\n  mode: etcd\n  lease: 5s\n  name: prod\n"
        + "  etcd-endpoints: [http://198.18.40.1:2379, http://198.18.40.2:2379]\n");
    MeshConfig m = c.mesh().orElseThrow();
    assertThat(m.mode()).isEqualTo(MeshConfig.Mode.ETCD);
    assertThat(m.etcdEndpoints()).extracting(Object::toString)
        .containsExactly("http://198.18.40.1:2379", "http://198.18.40.2:2379");
    assertThat(m.routeSharing()).isInstanceOf(io.dctun.core.mesh.RouteSharing.Etcd.class);
    assertThat(load(ConfigWriter.toYaml(c, dir))).isEqualTo(c);
  }

  @Test
  void metricsAreOffUnlessAnAddressIsGiven() throws Exception {
    assertThat(load(valid()).metrics()).isEmpty();
    GatewayConfig c = load(valid() + "metrics: 127.0.0.1:9586\n");
    assertThat(c.metrics()).contains(new java.net.InetSocketAddress("127.0.0.1", 9586));
    assertThat(load(ConfigWriter.toYaml(c, dir))).isEqualTo(c);
    assertThat(errors(valid() + "metrics: localhost:9586\n")).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(22);
      assertThat(e.field()).isEqualTo("metrics");
      assertThat(e.message()).contains("not ADDRESS:PORT with an IP address");
    });
  }

  @Test
  void reportsBadEtcdSettingsWithTheirLines() throws IOException {
    assertThat(errors(valid() + "mesh:\n  mode: etcd\n  lease: 1s\n  etcd-endpoints: [ftp://198.18.40.1:2379, nope]\n"))
        .satisfiesExactly(
            e -> {
              assertThat(e.line()).isEqualTo(24);
              assertThat(e.field()).isEqualTo("mesh.lease");
              assertThat(e.message()).contains("etcd's shortest lease");
            },
            e -> {
              assertThat(e.line()).isEqualTo(25);
              assertThat(e.field()).isEqualTo("mesh.etcd-endpoints[0]");
              assertThat(e.message()).contains("not an etcd client URL");
            },
            e -> {
              assertThat(e.field()).isEqualTo("mesh.etcd-endpoints[1]");
            });
    assertThat(errors(valid() + "mesh:\n  etcd-endpoints: [http://198.18.40.1:2379]\n")).singleElement()
        .satisfies(e -> assertThat(e.message()).contains("only with mode: etcd"));
  }

  @Test
  void reportsBadLeaseAndUnknownMeshField() throws IOException {
    assertThat(errors(valid() + "mesh:\n  lease: 10 years\n  leese: 3s\n")).satisfiesExactly(
        e -> {
          assertThat(e.line()).isEqualTo(23);
          assertThat(e.field()).isEqualTo("mesh.lease");
          assertThat(e.message()).contains("not a duration");
        },
        e -> {
          assertThat(e.line()).isEqualTo(24);
          assertThat(e.message()).contains("did you mean 'lease'");
        });
    assertThat(errors(valid() + "mesh: {lease: 100ms}\n")).singleElement()
        .satisfies(e -> assertThat(e.message()).contains("outside"));
  }

  @Test
  void reportsMeshWithoutMeshPeers() throws IOException {
    String siteOnly = valid().replace("    role: gateway\n", "").replace("    role: host\n", "");
    assertThat(errors(siteOnly + "mesh: {lease: 5s}\n")).singleElement().satisfies(e -> {
      assertThat(e.field()).isEqualTo("mesh");
      assertThat(e.message()).contains("no peer has role gateway or host");
    });
  }

  @Test
  void reportsUnknownRole() throws IOException {
    assertThat(errors(valid().replace("role: gateway", "role: router"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(9);
      assertThat(e.field()).isEqualTo("peers[0].role");
      assertThat(e.message()).contains("'router' is not a role");
    });
  }

  @Test
  void reportsHostWithANetwork() throws IOException {
    assertThat(errors(valid().replace("198.18.70.5/32", "198.18.70.0/24"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(12);
      assertThat(e.field()).isEqualTo("peers[1].allowed-ips[0]");
      assertThat(e.message()).contains("is a network");
    });
    assertThat(errors(valid().replace("[198.18.70.5/32]", "[]"))).singleElement()
        .satisfies(e -> assertThat(e.message()).contains("fixed virtual IP"));
  }

  @Test
  void reportsBadGroupName() throws IOException {
    assertThat(errors(valid().replace("[ops, db]", "[ops, \"d b\", ops]"))).satisfiesExactly(
        e -> assertThat(e.message()).contains("'d b' is not a group name"),
        e -> assertThat(e.message()).contains("'ops' is listed twice"));
  }

  @Test
  void reportsStaticRouteConflictingWithAllowedIps() throws IOException {
    assertThat(errors(valid().replace("prefix: 198.18.99.0/24", "prefix: 198.18.67.0/24"))).singleElement()
        .satisfies(e -> {
          assertThat(e.file()).isEqualTo(dir.resolve("gw.yaml"));
          assertThat(e.line()).isEqualTo(19);
          assertThat(e.field()).isEqualTo("routes[0].prefix");
          assertThat(e.message()).isEqualTo("198.18.67.0/24 is already routed to peer 'dc9' (line 17)");
        });
  }

  @Test
  void reportsStaticRouteConflictingWithAnotherRoute() throws IOException {
    assertThat(errors(valid().replace("198.18.98.0/24", "198.18.99.0/24"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(21);
      assertThat(e.field()).isEqualTo("routes[1].prefix");
      assertThat(e.message()).isEqualTo("198.18.99.0/24 is already routed to routes[0] (line 19)");
    });
  }

  @Test
  void reportsStaticRouteViaUnknownPeerOrHost() throws IOException {
    assertThat(errors(valid().replace("via: gw2", "via: gw7"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(20);
      assertThat(e.field()).isEqualTo("routes[0].via");
      assertThat(e.message()).isEqualTo("unknown peer 'gw7' (peers: dc9, gw2, laptop)");
    });
    assertThat(errors(valid().replace("via: gw2", "via: laptop"))).singleElement()
        .satisfies(e -> assertThat(e.message()).contains("is a roaming host"));
  }

  @Test
  void reportsStaticRouteProblems() throws IOException {
    assertThat(errors(valid().replace("198.18.99.0/24", "198.18.99.1/24"))).singleElement()
        .satisfies(e -> assertThat(e.message()).contains("did you mean 198.18.99.0/24"));
    assertThat(errors(valid().replace("  - {prefix: 198.18.98.0/24, via: dc9}", "  - {via: dc9, dest: x}")))
        .satisfiesExactly(
            e -> assertThat(e.field()).isEqualTo("routes[1].dest"),
            e -> assertThat(e.field()).isEqualTo("routes[1].prefix"));
  }

  static final String FIREWALL = String.join("\n",
      "firewall:",                                  // 22
      "  groups:",                                  // 23
      "    sites: [dc9]",                           // 24
      "  rules:",                                   // 25
      "    - name: ops-to-db",                      // 26
      "      source: [group:ops, peer:dc9]",        // 27
      "      destination: peer:laptop",             // 28
      "      action: accept",                       // 29
      "");

  @Test
  void firewallRulesNamePeersAndGroupsByTheirAddresses() throws Exception {
    GatewayConfig c = load(valid() + FIREWALL);
    assertThat(c.firewall()).isPresent();
    assertThat(c.firewall().get().groups()).containsKeys("sites", "ops", "db");
    assertThat(c.firewall().get().groups().get("ops")).containsExactly("laptop");
    // The rule resolved to the peers' allowed IPs: explain it on the compiled rule set.
    io.dctun.firewall.Firewall fw = new io.dctun.firewall.Firewall(c.firewall().get().ruleSet(),
        c.firewall().get().options());
    assertThat(decide(fw, "198.18.70.5", "198.18.70.5")).isEqualTo(io.dctun.core.session.PacketFilter.ACCEPT);
    assertThat(decide(fw, "198.18.67.9", "198.18.70.5")).isEqualTo(io.dctun.core.session.PacketFilter.ACCEPT);
    assertThat(decide(fw, "198.18.66.9", "198.18.70.5")).isNotEqualTo(io.dctun.core.session.PacketFilter.ACCEPT);
    assertThat(decide(fw, "198.18.67.9", "198.18.70.6")).isNotEqualTo(io.dctun.core.session.PacketFilter.ACCEPT);
  }

  static int decide(io.dctun.firewall.Firewall fw, String src, String dst) {
    byte[] p = new byte[28];
    p[0] = 0x45;
    p[3] = 28;
    p[8] = 64;
    p[9] = 17;
    byte[] s = io.dctun.core.route.Prefix.parse(src + "/32").address();
    byte[] d = io.dctun.core.route.Prefix.parse(dst + "/32").address();
    System.arraycopy(s, 0, p, 12, 4);
    System.arraycopy(d, 0, p, 16, 4);
    p[20] = 0x30;
    p[22] = 0x10;
    p[25] = 8;
    return fw.decide(io.dctun.firewall.Direction.OUTBOUND, null, p, 0, p.length, 1, false);
  }

  @Test
  void firewallReportsUnknownPeerAndGroupNamesWithTheirLines() throws IOException {
    assertThat(errors(valid() + FIREWALL.replace("group:ops", "group:opz").replace("peer:laptop", "peer:lapt0p")))
        .satisfiesExactly(
            e -> {
              assertThat(e.line()).isEqualTo(27);
              assertThat(e.field()).isEqualTo("firewall.rules[0] (ops-to-db).source[0]");
              assertThat(e.message()).startsWith("unknown group 'opz' (groups: sites, ");
            },
            e -> {
              assertThat(e.line()).isEqualTo(28);
              assertThat(e.field()).isEqualTo("firewall.rules[0] (ops-to-db).destination");
              assertThat(e.message()).isEqualTo("unknown peer 'lapt0p' (peers: gw2, laptop, dc9)");
            });
  }
}
