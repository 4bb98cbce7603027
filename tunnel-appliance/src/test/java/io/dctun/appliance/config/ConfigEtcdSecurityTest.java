package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.mesh.RouteSharing;
import io.dctun.core.mesh.etcd.EtcdSecurity;
import io.dctun.core.testing.TestPki;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The etcd TLS and authentication fields of the mesh section: what they load to, and their errors with lines. */
class ConfigEtcdSecurityTest {
  @TempDir Path dir;
  TestPki pki;
  String gw2 = PrivateKey.generate().publicKey().toBase64();

  @BeforeEach
  void files() throws IOException {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    TestPki.assumeAvailable();
    pki = new TestPki(dir, "etcd-ca");
    pki.client("gw1", "ec");
    pki.client("other", "rsa");
    Files.writeString(dir.resolve("etcd.pw"), "pw\n");
    Files.setPosixFilePermissions(dir.resolve("etcd.pw"), PosixFilePermissions.fromString("rw-------"));
  }

  /** Lines 1-7; the mesh section starts at line 8. */
  String head() {
    return String.join("\n",
        "private-key-file: gw.key",          // 1
        "listen-port: 51820",                // 2
        "peers:",                            // 3
        "  - name: gw2",                     // 4
        "    public-key: " + gw2,            // 5
        "    allowed-ips: [198.18.66.0/24]", // 6
        "    role: gateway",                 // 7
        "mesh:",                             // 8
        "  mode: etcd",                      // 9
        "");
  }

  String full() {
    return head() + String.join("\n",
        "  etcd-endpoints:",                 // 10
        "    - https://198.18.40.1:2379",    // 11
        "    - https://198.18.40.2:2379",    // 12
        "  etcd-ca-file: etcd-ca-ca.pem",    // 13
        "  etcd-cert-file: gw1.pem",         // 14
        "  etcd-key-file: gw1.key",          // 15
        "  etcd-user: gw1",                  // 16
        "  etcd-password-file: etcd.pw",     // 17
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

  ConfigError only(String yaml) throws IOException {
    List<ConfigError> errs = errors(yaml);
    assertThat(errs).hasSize(1);
    return errs.get(0);
  }

  @Test
  void loadsTlsFilesAndUserAndRoundTrips() throws Exception {
    GatewayConfig c = load(full());
    MeshConfig m = c.mesh().orElseThrow();
    EtcdSecurity s = m.etcdSecurity();
    assertThat(s).isEqualTo(new EtcdSecurity(pki.caCert(), pki.cert("gw1"), pki.key("gw1"), "gw1", dir.resolve("etcd.pw")));
    assertThat(((RouteSharing.Etcd) m.routeSharing()).config().security()).isEqualTo(s);
    assertThat(s.toString()).doesNotContain("pw\n");
    assertThat(load(ConfigWriter.toYaml(c, dir))).isEqualTo(c);
    // https alone (the JDK's trust store), and a user over plain http, are fine too
    assertThat(load(head() + "  etcd-endpoints: [https://198.18.40.1:2379]\n").mesh().orElseThrow().etcdSecurity())
        .isEqualTo(EtcdSecurity.NONE);
    assertThat(load(head() + "  etcd-endpoints: [http://198.18.40.1:2379]\n  etcd-user: gw1\n"
        + "  etcd-password-file: etcd.pw\n").mesh().orElseThrow().etcdSecurity().user()).isEqualTo("gw1");
  }

  @Test
  void refusesMixedSchemes() throws IOException {
    ConfigError e = only(full().replace("    - https://198.18.40.2:2379", "    - http://198.18.40.2:2379"));
    assertThat(e.line()).isEqualTo(12);
    assertThat(e.field()).isEqualTo("mesh.etcd-endpoints[1]");
    assertThat(e.message()).contains("is http:// but the first endpoint is https://");
  }

  @Test
  void refusesTlsFilesWithHttpEndpoints() throws IOException {
    List<ConfigError> errs = errors(full().replace("https://", "http://"));
    assertThat(errs).extracting(ConfigError::line).containsExactly(13, 14, 15);
    assertThat(errs).extracting(ConfigError::field)
        .containsExactly("mesh.etcd-ca-file", "mesh.etcd-cert-file", "mesh.etcd-key-file");
    assertThat(errs).allSatisfy(e -> assertThat(e.message()).contains("needs https://"));
  }

  @Test
  void reportsAMissingHalfOfAPair() throws IOException {
    ConfigError e = only(full().replace("  etcd-key-file: gw1.key\n", ""));
    assertThat(e.line()).isEqualTo(14);
    assertThat(e.field()).isEqualTo("mesh.etcd-key-file");
    assertThat(e.message()).contains("is required with etcd-cert-file");
    e = only(full().replace("  etcd-user: gw1\n", ""));
    assertThat(e.field()).isEqualTo("mesh.etcd-user");
    assertThat(e.message()).contains("is required with etcd-password-file");
  }

  @Test
  void reportsBadFilesWithTheirLineAndFile() throws IOException {
    ConfigError e = only(full().replace("etcd-ca-file: etcd-ca-ca.pem", "etcd-ca-file: nowhere.pem"));
    assertThat(e.line()).isEqualTo(13);
    assertThat(e.field()).isEqualTo("mesh.etcd-ca-file");
    assertThat(e.message()).contains(dir.resolve("nowhere.pem").toString()).contains("does not exist");

    e = only(full().replace("etcd-cert-file: gw1.pem", "etcd-cert-file: gw1.key"));
    assertThat(e.line()).isEqualTo(14);
    assertThat(e.message()).contains("where certificates are expected");

    e = only(full().replace("etcd-key-file: gw1.key", "etcd-key-file: other.key"));
    assertThat(e.line()).isEqualTo(15);
    assertThat(e.field()).isEqualTo("mesh.etcd-key-file");
    assertThat(e.message()).contains("is not the key of the certificate in " + pki.cert("gw1"));

    Files.setPosixFilePermissions(pki.key("gw1"), PosixFilePermissions.fromString("rw-r--r--"));
    e = only(full());
    assertThat(e.line()).isEqualTo(15);
    assertThat(e.message()).contains(pki.key("gw1").toString()).contains("readable by group and others");
    Files.setPosixFilePermissions(pki.key("gw1"), PosixFilePermissions.fromString("rw-------"));

    Path legacy = dir.resolve("legacy.key");
    Files.writeString(legacy, Files.readString(pki.key("gw1")).replace("PRIVATE KEY", "EC PRIVATE KEY"));
    Files.setPosixFilePermissions(legacy, PosixFilePermissions.fromString("rw-------"));
    e = only(full().replace("etcd-key-file: gw1.key", "etcd-key-file: legacy.key"));
    assertThat(e.message()).contains("openssl pkcs8 -topk8 -nocrypt");

    Files.setPosixFilePermissions(dir.resolve("etcd.pw"), PosixFilePermissions.fromString("rw-r-----"));
    e = only(full());
    assertThat(e.line()).isEqualTo(17);
    assertThat(e.field()).isEqualTo("mesh.etcd-password-file");
    assertThat(e.message()).contains("readable by group").doesNotContain("pw\n");
  }

  @Test
  void etcdFieldsOnlyWithModeEtcd() throws IOException {
    ConfigError e = only(head().replace("  mode: etcd\n", "  mode: mesh\n") + "  etcd-user: gw1\n");
    assertThat(e.line()).isEqualTo(10);
    assertThat(e.field()).isEqualTo("mesh.etcd-user");
    assertThat(e.message()).contains("only with mode: etcd");
  }
}
