package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import io.dctun.ha.VrrpConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HaSectionTest {
  @TempDir Path dir;
  String peer = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void key() throws IOException {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
  }

  String base(String listen) {
    return String.join("\n",
        "private-key-file: gw.key",                // 1
        listen,                                    // 2
        "peers:",                                  // 3
        "  - public-key: " + peer,                 // 4
        "    endpoint: 198.18.0.1:51820",          // 5
        "    allowed-ips: [198.18.10.0/24]",       // 6
        "");
  }

  static final String HA = String.join("\n",
      "ha:",                                       // 7
      "  priority: 150",                           // 8
      "  advert-interval: 100",                    // 9
      "  preempt: false",                          // 10
      "  preempt-delay: 2000",                     // 11
      "  public:",                                 // 12
      "    interface: eth0",                       // 13
      "    vrid: 51",                              // 14
      "    vip: 198.18.0.100/24",                  // 15
      "    unicast-peers: [198.18.0.12]",          // 16
      "  private:",                                // 17
      "    interface: eth1",                       // 18
      "    vrid: 52",                              // 19
      "    vip: 198.18.20.1/24",                   // 20
      "  track:",                                  // 21
      "    interfaces: [eth2]",                    // 22
      "    peer-handshake: {within: 200, weight: 60}", // 23
      "");

  GatewayConfig load(String yaml) throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f);
  }

  List<String> errors(String yaml) throws Exception {
    try {
      load(yaml);
    } catch (ConfigException e) {
      return e.errors().stream().map(ConfigError::toString).map(s -> s.substring(s.indexOf("gw.yaml"))).toList();
    }
    throw new AssertionError("no errors");
  }

  @Test
  void aFullSectionBecomesASyncGroupOfTwoInstances() throws Exception {
    GatewayConfig cfg = load(base("listen-port: 51820") + HA);
    HaSection ha = cfg.ha().orElse(null);
    assertThat(ha).isNotNull();
    assertThat(ha.pair().priority()).isEqualTo(150);
    assertThat(ha.pair().advertIntervalMillis()).isEqualTo(100);
    assertThat(ha.pair().preempt()).isFalse();
    assertThat(ha.pair().preemptDelay()).isEqualTo(Duration.ofSeconds(2));
    assertThat(ha.pair().trackInterfaces()).containsExactly("eth2");
    List<VrrpConfig> g = ha.pair().syncGroup();
    assertThat(g).hasSize(2);
    VrrpConfig pub = g.get(0);
    assertThat(pub.interfaceName()).isEqualTo("eth0");
    assertThat(pub.vrid()).isEqualTo(51);
    assertThat(pub.advertIntervalCentis()).isEqualTo(10);
    assertThat(pub.vips()).hasToString("[198.18.0.100/24]");
    assertThat(pub.unicastPeers()).hasSize(1);
    assertThat(pub.tracks()).contains(VrrpConfig.Track.fault("link:eth2"),
        VrrpConfig.Track.weight(io.dctun.ha.PairConfig.HANDSHAKE_CONDITION, 60));
    VrrpConfig priv = g.get(1);
    assertThat(priv.interfaceName()).isEqualTo("eth1");
    assertThat(priv.vrid()).isEqualTo(52);
    assertThat(priv.vips()).hasToString("[198.18.20.1/24]");
    assertThat(priv.preempt()).isFalse();
  }

  @Test
  void notifyCommandsAndStateSyncAreParsedAndCheckedWithTheirLines() throws Exception {
    String extra = String.join("\n",
        "  notify:",                                            // 24
        "    master: logger dctun is master",                   // 25
        "    fault: ''",                                        // 26
        "    standby: x",                                       // 27
        "  state-sync: {local: 198.18.20.2:51900, peer: 198.18.20.3:99999}", // 28
        "");
    assertThat(errors(base("listen-port: 51820") + HA + extra)).containsExactly(
        "gw.yaml:26: ha.notify.fault: is empty",
        "gw.yaml:27: ha.notify.standby: unknown field",
        "gw.yaml:28: ha.state-sync.peer: port 99999 is not in 1..65535");
    String good = extra.replace("    fault: ''\n", "").replace("    standby: x\n", "").replace("99999", "51900");
    HaSection ha = load(base("listen-port: 51820") + HA + good).ha().orElseThrow();
    assertThat(ha.notifyCommands()).containsExactly(java.util.Map.entry("master", "logger dctun is master"));
    assertThat(ha.pair().stateSync().peer().getPort()).isEqualTo(51900);
    assertThat(ha.pair().stateSync().bytesPerSecond()).isEqualTo(1_000_000);
  }

  @Test
  void stateSyncAddressesAreStrictLiteralsNeverResolved() throws Exception {
    // InetAddress.getByName took 198.18.3 for 198.18.0.3 and sent 999.18.20.3 to the resolver.
    String extra = "  state-sync: {local: 198.18.3:51900, peer: 999.18.20.3:51900}\n"; // 24
    assertThat(errors(base("listen-port: 51820") + HA + extra)).containsExactly(
        "gw.yaml:24: ha.state-sync.local: '198.18.3:51900' is not IPv4-ADDRESS:PORT",
        "gw.yaml:24: ha.state-sync.peer: '999.18.20.3:51900' is not IPv4-ADDRESS:PORT");
  }

  @Test
  void noSectionNoHa() throws Exception {
    assertThat(load(base("listen-port: 51820")).ha()).isEmpty();
  }

  @Test
  void everyErrorHasItsLineAndField() throws Exception {
    String bad = HA.replace("priority: 150", "priority: 255")
        .replace("advert-interval: 100", "advert-interval: 105")
        .replace("preempt: false", "preempt: maybe")
        .replace("vrid: 52", "vrid: 0")
        .replace("vip: 198.18.20.1/24", "vip: 198.18.20.1")
        .replace("unicast-peers: [198.18.0.12]", "unicast-peers: [fd00::1]")
        .replace("weight: 60", "weigth: 60");
    assertThat(errors(base("listen-port: 51820") + bad)).containsExactly(
        "gw.yaml:8: ha.priority: 255 is outside 1-254",
        "gw.yaml:9: ha.advert-interval: 105 ms is not a multiple of 10 ms (VRRPv3 counts centiseconds)",
        "gw.yaml:10: ha.preempt: 'maybe' is not true or false",
        "gw.yaml:16: ha.public.unicast-peers[0]: 'fd00::1' is not an IPv4 address",
        "gw.yaml:19: ha.private.vrid: 0 is outside 1-255",
        "gw.yaml:20: ha.private.vip: '198.18.20.1' needs a prefix length, e.g. 198.18.20.1/24",
        "gw.yaml:23: ha.track.peer-handshake.weigth: unknown field; did you mean 'weight'?",
        "gw.yaml:23: ha.track.peer-handshake.weight: is required (1-254, subtracted from priority)");
  }

  @Test
  void haNeedsAListenPortAndNoListenAddressAndBothSides() throws Exception {
    String noPrivate = HA.substring(0, HA.indexOf("  private:")) + HA.substring(HA.indexOf("  track:"));
    assertThat(errors(base("mtu: 1420") + noPrivate)).containsExactly(
        "gw.yaml:8: ha: needs listen-port: the tunnel listens on public.vip:listen-port", // the section's first line
        "gw.yaml:8: ha.private: is required (interface, vrid, vip)");
    assertThat(errors(base("listen-port: 51820\nlisten-address: 198.18.0.11") + HA.replace("peers", "")))
        .anyMatch(s -> s.contains("ha: listen-address must not be set with ha"));
    assertThat(errors(base("listen-port: 51820") + "ha: yes\n"))
        .containsExactly("gw.yaml:7: ha: must be a mapping (priority, advert-interval, public, private, ...)");
  }

  @Test
  void privateVip6AddsAnIpv6InstanceToTheSyncGroup() throws Exception {
    String yaml = base("listen-port: 51820")
        + HA.replace("    vip: 198.18.20.1/24\n", "    vip: 198.18.20.1/24\n    vip6: fe80::52:1/64\n");
    HaSection ha = load(yaml).ha().orElseThrow();
    assertThat(ha.pair().privateSide().instances()).containsExactly("dctun-private", "dctun-private-v6");
    List<VrrpConfig> g = ha.pair().syncGroup();
    assertThat(g).extracting(VrrpConfig::name).containsExactly("dctun-public", "dctun-private", "dctun-private-v6");
    VrrpConfig v6 = g.get(2);
    assertThat(v6.family()).isEqualTo(6);
    assertThat(v6.vrid()).isEqualTo(52);
    assertThat(v6.interfaceName()).isEqualTo("eth1");
    assertThat(v6.vips()).extracting(Object::toString).containsExactly("fe80:0:0:0:0:0:52:1/64");
    assertThat(v6.unicastPeers()).isEmpty();
    assertThat(v6.priority()).isEqualTo(150);
    assertThat(v6.tracks()).isEqualTo(g.get(1).tracks());
    assertThat(g.get(1).family()).isEqualTo(4);
  }

  @Test
  void vip6ErrorsNameTheirLineAndField() throws Exception {
    String onPublic = HA.replace("    vip: 198.18.0.100/24\n", "    vip: 198.18.0.100/24\n    vip6: fe80::51:1/64\n");
    assertThat(errors(base("listen-port: 51820") + onPublic)).containsExactly(
        "gw.yaml:16: ha.public.vip6: is not supported on the public side: the tunnel listens on one address, "
            + "public.vip (an IPv6 VRRP instance is for the private side's servers)");
    String wrong = HA.replace("    vip: 198.18.20.1/24\n", "    vip: 198.18.20.1/24\n    vip6: 198.18.20.9/24\n");
    assertThat(errors(base("listen-port: 51820") + wrong))
        .containsExactly("gw.yaml:21: ha.private.vip6: '198.18.20.9/24' is not an IPv6 address (IPv4 goes in vip)");
    String noLen = HA.replace("    vip: 198.18.20.1/24\n", "    vip: 198.18.20.1/24\n    vip6: fe80::52:1\n");
    assertThat(errors(base("listen-port: 51820") + noLen))
        .containsExactly("gw.yaml:21: ha.private.vip6: 'fe80::52:1' needs a prefix length, e.g. fe80::52:1/64");
    String longLen = HA.replace("    vip: 198.18.20.1/24\n", "    vip: 198.18.20.1/24\n    vip6: fe80::52:1/129\n");
    assertThat(errors(base("listen-port: 51820") + longLen))
        .containsExactly("gw.yaml:21: ha.private.vip6: 'fe80::52:1/129' has a prefix length outside 0-128");
    String v6InVip = HA.replace("vip: 198.18.20.1/24", "vip: fe80::52:1/64");
    assertThat(errors(base("listen-port: 51820") + v6InVip))
        .containsExactly("gw.yaml:20: ha.private.vip: 'fe80::52:1/64' is not an IPv4 address (an IPv6 one goes in vip6)");
  }

  @Test
  void unicastTtlCheckIsOnByDefaultCanBeTurnedOffAndNeedsUnicastPeers() throws Exception {
    List<VrrpConfig> g = load(base("listen-port: 51820") + HA).ha().orElseThrow().pair().syncGroup();
    assertThat(g.get(0).unicastTtlCheck()).isTrue();
    assertThat(g.get(0).checksTtl()).isTrue();
    String off = HA.replace("    unicast-peers: [198.18.0.12]\n",
        "    unicast-peers: [198.18.0.12]\n    unicast-ttl-check: false\n");
    g = load(base("listen-port: 51820") + off).ha().orElseThrow().pair().syncGroup();
    assertThat(g.get(0).unicastTtlCheck()).isFalse();
    assertThat(g.get(0).checksTtl()).isFalse();
    assertThat(g.get(1).checksTtl()).as("the private side multicasts: always 255").isTrue();
    String misplaced = HA.replace("    vip: 198.18.20.1/24\n",
        "    vip: 198.18.20.1/24\n    unicast-ttl-check: false\n");   // line 21
    assertThat(errors(base("listen-port: 51820") + misplaced)).containsExactly(
        "gw.yaml:21: ha.private.unicast-ttl-check: only applies with unicast-peers (multicast adverts always "
            + "need TTL 255)");
    String notBool = off.replace("unicast-ttl-check: false", "unicast-ttl-check: sometimes");
    assertThat(errors(base("listen-port: 51820") + notBool)).containsExactly(
        "gw.yaml:17: ha.public.unicast-ttl-check: 'sometimes' is not true or false");
  }
}
