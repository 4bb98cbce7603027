package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;
  PrivateKey own;
  String peer1 = PrivateKey.generate().publicKey().toBase64();
  String peer2 = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void keys() throws IOException {
    own = PrivateKey.generate();
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), own);
    KeyFiles.writePresharedKey(dir.resolve("dc2.psk"), PresharedKey.generate());
  }

  String valid() {
    return String.join("\n",
        "interface: dc1",                          // 1
        "private-key-file: gw.key",                // 2
        "listen-port: 51820",                      // 3
        "addresses: [10.10.0.1/24, fd00:10::1/64]", // 4
        "peers:",                                  // 5
        "  - name: dc2",                           // 6
        "    public-key: " + peer1,                // 7
        "    endpoint: gw.dc2.example.net:51820",  // 8
        "    allowed-ips: [10.20.0.0/16]",         // 9
        "    persistent-keepalive: 25",            // 10
        "    preshared-key-file: dc2.psk",         // 11
        "  - name: dc3",                           // 12
        "    public-key: " + peer2,                // 13
        "    endpoint: \"[2001:db8::3]:51820\"",   // 14
        "    allowed-ips:",                        // 15
        "      - 10.30.0.0/16",                    // 16
        "      - fd00:30::/64",                    // 17
        "");
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
  void loadsValidConfig() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, valid());
    GatewayConfig c = ConfigLoader.load(f);
    assertThat(c.interfaceName()).isEqualTo("dc1");
    assertThat(c.publicKey()).isEqualTo(own.publicKey());
    assertThat(c.privateKeyFile()).isEqualTo(dir.resolve("gw.key"));
    assertThat(c.listenPort()).hasValue(51820);
    assertThat(c.mtu()).isEqualTo(1420);
    assertThat(c.addresses()).extracting(Object::toString).containsExactly("10.10.0.1/24", "fd00:10::1/64");
    assertThat(c.peers()).hasSize(2);
    assertThat(c.peers().get(0).endpoint()).contains(new Endpoint("gw.dc2.example.net", 51820));
    assertThat(c.peers().get(0).persistentKeepalive()).isEqualTo(25);
    assertThat(c.peers().get(0).presharedKeyFile()).contains(dir.resolve("dc2.psk"));
    assertThat(c.peers().get(1).endpoint().get().toString()).isEqualTo("[2001:db8::3]:51820");
    assertThat(c.peers().get(1).allowedIps()).extracting(Object::toString).containsExactly("10.30.0.0/16", "fd00:30::/64");
  }

  @Test
  void roundTripsThroughTheWriter() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, valid());
    GatewayConfig c = ConfigLoader.load(f);
    String yaml = ConfigWriter.toYaml(c, dir);
    Path g = dir.resolve("again.yaml");
    Files.writeString(g, yaml);
    GatewayConfig again = ConfigLoader.load(g);
    assertThat(again).isEqualTo(c);
    assertThat(ConfigWriter.toYaml(again, dir)).isEqualTo(yaml);
    assertThat(yaml).doesNotContain(own.toBase64());
  }

  @Test
  void reportsBadPublicKeyWithLine() throws IOException {
    assertThat(errors(valid().replace(peer1, "not-a-key")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(7);
          assertThat(e.field()).isEqualTo("peers[0].public-key");
          assertThat(e.message()).contains("not valid base64");
        });
  }

  /** All zeros, 1, an order-8 point, p - 1, and p + 1 with the top bit set: every one unusable. */
  static final String[] LOW_ORDER_KEYS = {
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    java.util.Base64.getEncoder().encodeToString(java.util.HexFormat.of().parseHex(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")),
    java.util.Base64.getEncoder().encodeToString(java.util.HexFormat.of().parseHex(
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")),
    java.util.Base64.getEncoder().encodeToString(java.util.HexFormat.of().parseHex(
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")),
  };

  @Test
  void refusesALowOrderPeerKeyWithLineAndWithoutRepeatingIt() throws IOException {
    for (String bad : LOW_ORDER_KEYS) {
      assertThat(errors(valid().replace(peer2, bad)))
          .as(bad).singleElement().satisfies(e -> {
            assertThat(e.line()).isEqualTo(13);
            assertThat(e.field()).isEqualTo("peers[1].public-key");
            assertThat(e.message()).contains("low-order point").doesNotContain(bad);
            assertThat(e.toString()).doesNotContain(bad);
          });
    }
  }

  @Test
  void aLowOrderPeerKeyDoesNotHideTheOtherErrorsOfItsPeer() throws IOException {
    List<ConfigError> es = errors(valid().replace(peer2, LOW_ORDER_KEYS[0]).replace("10.30.0.0/16", "10.300.0.0/16"));
    assertThat(es).extracting(ConfigError::line).containsExactly(13, 16);
  }

  @Test
  void mtuUpToTheLargestEveryCarrierTakesIsAcceptedAndAboveItRefusedWithLine() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, valid().replace("listen-port: 51820", "listen-port: 51820\nmtu: 9000"));
    assertThat(ConfigLoader.load(f).mtu()).isEqualTo(9000);
    assertThat(errors(valid().replace("listen-port: 51820", "listen-port: 51820\nmtu: 9001")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(4);
          assertThat(e.field()).isEqualTo("mtu");
          assertThat(e.message()).contains("9001 is outside 1280-9000");
        });
  }

  @Test
  void reportsBadCidrWithLine() throws IOException {
    assertThat(errors(valid().replace("10.30.0.0/16", "10.300.0.0/16")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(16);
          assertThat(e.field()).isEqualTo("peers[1].allowed-ips[0]");
          assertThat(e.message()).contains("10.300.0.0/16");
        });
  }

  @Test
  void reportsHostBitsInAllowedIps() throws IOException {
    assertThat(errors(valid().replace("10.20.0.0/16", "10.20.1.0/16")))
        .singleElement().satisfies(e -> assertThat(e.message()).contains("did you mean 10.20.0.0/16"));
  }

  @Test
  void reportsUnknownFieldWithSuggestion() throws IOException {
    assertThat(errors(valid().replace("    allowed-ips: [10.20.0.0/16]", "    allowed-ips: [10.20.0.0/16]\n    alowed_ips: []")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(10);
          assertThat(e.field()).isEqualTo("peers[0].alowed_ips");
          assertThat(e.message()).isEqualTo("unknown field; did you mean 'allowed-ips'?");
        });
  }

  @Test
  void reportsDuplicatePeerKey() throws IOException {
    assertThat(errors(valid().replace(peer2, peer1)))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(13);
          assertThat(e.message()).isEqualTo("is the same key as the peer at line 7");
        });
  }

  @Test
  void reportsOwnKeyAsPeer() throws IOException {
    assertThat(errors(valid().replace(peer2, own.publicKey().toBase64())))
        .singleElement().satisfies(e -> assertThat(e.message()).isEqualTo("is this gateway's own public key"));
  }

  @Test
  void reportsAllowedIpsRoutedToTwoPeers() throws IOException {
    assertThat(errors(valid().replace("10.30.0.0/16", "10.20.0.0/16")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(16);
          assertThat(e.message()).isEqualTo("10.20.0.0/16 is already routed to peer 'dc2' (line 9)");
        });
  }

  @Test
  void uapiIsOnUnlessTurnedOffAndSurvivesTheWriter() throws Exception {
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, valid());
    assertThat(ConfigLoader.load(f).uapi()).isTrue();
    Files.writeString(f, valid().replace("mtu: 1420\n", "").replace("listen-port: 51820", "listen-port: 51820\nuapi: false"));
    GatewayConfig off = ConfigLoader.load(f);
    assertThat(off.uapi()).isFalse();
    Path g = dir.resolve("again.yaml");
    Files.writeString(g, ConfigWriter.toYaml(off, dir));
    assertThat(ConfigLoader.load(g)).isEqualTo(off);
  }

  @Test
  void reportsANonBooleanUapi() throws IOException {
    assertThat(errors(valid().replace("listen-port: 51820", "listen-port: 51820\nuapi: maybe")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(4);
          assertThat(e.toString()).startsWith(dir.resolve("gw.yaml") + ":4: uapi: ");
        });
  }

  @Test
  void reportsBadPort() throws IOException {
    assertThat(errors(valid().replace("listen-port: 51820", "listen-port: 70000")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(3);
          assertThat(e.toString()).isEqualTo(dir.resolve("gw.yaml") + ":3: listen-port: 70000 is outside 1-65535");
        });
  }

  @Test
  void reportsMissingPrivateKeyFile() throws IOException {
    assertThat(errors(valid().replace("gw.key", "absent.key")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(2);
          assertThat(e.message()).isEqualTo(dir.resolve("absent.key") + " does not exist");
        });
  }

  @Test
  void reportsWorldReadableKeyFile() throws IOException {
    Files.setPosixFilePermissions(dir.resolve("gw.key"), PosixFilePermissions.fromString("rw-r--r--"));
    assertThat(errors(valid()))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(2);
          assertThat(e.field()).isEqualTo("private-key-file");
          assertThat(e.message()).endsWith("(mode 0644); chmod 600 it").doesNotContain(own.toBase64());
        });
  }

  @Test
  void collectsEveryErrorInLineOrder() throws IOException {
    String yaml = valid().replace("listen-port: 51820", "listen-port: 0")
        .replace("gw.dc2.example.net:51820", "gw.dc2.example.net")
        .replace("fd00:30::/64", "fd00:30::/129")
        .replace("interface: dc1", "interface: a-name-far-too-long");
    assertThat(errors(yaml)).extracting(ConfigError::line).containsExactly(1, 3, 8, 17);
  }

  @Test
  void reportsYamlSyntaxWithLine() throws IOException {
    assertThat(errors("private-key-file: gw.key\npeers: [\n  - x: y\n"))
        .singleElement().satisfies(e -> assertThat(e.message()).startsWith("YAML syntax"));
  }

  @Test
  void reportsDuplicateFieldAndPeerName() throws IOException {
    List<ConfigError> es = errors(valid().replace("mtu", "x").replace("  - name: dc3", "  - name: dc2")
        .replace("listen-port: 51820", "listen-port: 51820\nlisten-port: 51821"));
    assertThat(es).extracting(ConfigError::toString).anySatisfy(s -> assertThat(s).endsWith(":4: listen-port: is given twice (first at line 3)"))
        .anySatisfy(s -> assertThat(s).endsWith(":13: peers[1].name: 'dc2' is already the name of the peer at line 7"));
  }

  @Test
  void refusesPeerNobodyCanReach() throws IOException {
    assertThat(errors(valid().replace("listen-port: 51820\n", "").replace("    endpoint: gw.dc2.example.net:51820\n", "")))
        .singleElement().satisfies(e -> {
          assertThat(e.line()).isEqualTo(5);
          assertThat(e.field()).isEqualTo("peers[0]");
        });
  }

  @Test
  void appliesDefaults() throws Exception {
    Path f = dir.resolve("min.yaml");
    Files.writeString(f, "private-key-file: gw.key\n");
    GatewayConfig c = ConfigLoader.load(f);
    assertThat(c.interfaceName()).isEqualTo("dctun0");
    assertThat(c.mtu()).isEqualTo(1420);
    assertThat(c.listenPort()).isEmpty();
    assertThat(c.peers()).isEmpty();
  }

  @Test
  void reportsMissingConfigFile() {
    assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("nope.yaml")))
        .isInstanceOf(ConfigException.class).hasMessage(dir.resolve("nope.yaml") + ": does not exist");
  }
}
