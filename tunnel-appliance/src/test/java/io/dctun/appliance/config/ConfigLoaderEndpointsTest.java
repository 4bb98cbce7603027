package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code endpoints:}, a peer with several endpoints, beside the single {@code endpoint:}. */
class ConfigLoaderEndpointsTest {
  @TempDir Path dir;
  String peer = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void keys() throws IOException {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
  }

  String config(String endpointLines) {
    return String.join("\n",
        "private-key-file: gw.key",     // 1
        "addresses: [10.10.0.1/24]",    // 2
        "peers:",                       // 3
        "  - name: dc2",                // 4
        "    public-key: " + peer,      // 5
        endpointLines,                  // 6
        "    allowed-ips: [10.20.0.0/16]",
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
  void readsSeveralEndpointsInPreferenceOrder() throws Exception {
    GatewayConfig c = load(config("    endpoints: [198.18.128.2:51820, gw2.dc2.example.net:51820, \"[2001:db8::2]:51820\"]"));
    PeerConfig p = c.peers().get(0);
    assertThat(p.endpoints()).extracting(Object::toString)
        .containsExactly("198.18.128.2:51820", "gw2.dc2.example.net:51820", "[2001:db8::2]:51820");
    assertThat(p.endpoint()).as("the first is the endpoint").contains(new Endpoint("198.18.128.2", 51820));
  }

  @Test
  void aSingleEndpointIsAListOfOne() throws Exception {
    PeerConfig p = load(config("    endpoint: 198.18.128.2:51820")).peers().get(0);
    assertThat(p.endpoints()).containsExactly(new Endpoint("198.18.128.2", 51820));
    PeerConfig q = load(config("    endpoints: [198.18.128.2:51820]")).peers().get(0);
    assertThat(q).isEqualTo(p);
  }

  @Test
  void roundTripsThroughTheWriter() throws Exception {
    GatewayConfig c = load(config("    endpoints: [198.18.128.2:51820, 198.18.128.6:51820]"));
    String yaml = ConfigWriter.toYaml(c, dir);
    assertThat(yaml).contains("    endpoints: [\"198.18.128.2:51820\", \"198.18.128.6:51820\"]\n");
    Path g = dir.resolve("again.yaml");
    Files.writeString(g, yaml);
    assertThat(ConfigLoader.load(g)).isEqualTo(c);
  }

  @Test
  void refusesBothFieldsWithTheLine() throws IOException {
    String yaml = config("    endpoint: 198.18.128.2:51820\n    endpoints: [198.18.128.6:51820, 198.18.128.10:51820]");
    assertThat(errors(yaml)).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(7);
      assertThat(e.field()).isEqualTo("peers[0].endpoints");
      assertThat(e.message()).contains("either endpoint: or endpoints:");
    });
  }

  @Test
  void reportsABadOrRepeatedEntryByIndex() throws IOException {
    assertThat(errors(config("    endpoints: [198.18.128.2:51820, 198.18.128.6]"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(6);
      assertThat(e.field()).isEqualTo("peers[0].endpoints[1]");
      assertThat(e.message()).contains("no port");
    });
    assertThat(errors(config("    endpoints:\n      - 198.18.128.2:51820\n      - 198.18.128.2:51820"))).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(8);
      assertThat(e.field()).isEqualTo("peers[0].endpoints[1]");
      assertThat(e.message()).contains("listed twice (first at line 7)");
    });
    assertThat(errors(config("    endpoints: []"))).singleElement().satisfies(e -> {
      assertThat(e.field()).isEqualTo("peers[0].endpoints");
      assertThat(e.message()).contains("is empty");
    });
  }
}
