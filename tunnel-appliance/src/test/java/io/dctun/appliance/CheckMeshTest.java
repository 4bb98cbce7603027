package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dctun check} prints roles, groups, static routes and the mesh section. */
class CheckMeshTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String... args) {
    var cl = Main.commandLine(new ByteArrayInputStream(new byte[0]), dir);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void checkSummarisesRolesRoutesAndMesh() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: g2",
        "    public-key: " + PrivateKey.generate().publicKey(),
        "    allowed-ips: [198.18.80.2/32]",
        "    role: gateway",
        "  - name: laptop",
        "    public-key: " + PrivateKey.generate().publicKey(),
        "    allowed-ips: [198.18.90.5/32]",
        "    role: host",
        "    groups: [ops]",
        "routes:",
        "  - {prefix: 198.18.99.0/24, via: g2}",
        "mesh: {lease: 5s}",
        ""));
    assertThat(run("check", "-c", "gw.yaml")).as(err.toString()).isZero();
    assertThat(out.toString()).contains(
        "g2 (", "role gateway",
        "laptop (", "role host, groups ops",
        "  route 198.18.99.0/24 via g2\n",
        "  mesh: mesh, lease 5000 ms, 1 gateway(s), 1 host(s)\n");
  }

  @Test
  void checkReportsEtcdWithoutEndpointsOnItsLine() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: laptop",
        "    public-key: " + PrivateKey.generate().publicKey(),
        "    allowed-ips: [198.18.90.5/32]",
        "    role: host",
        "mesh:",
        "  mode: etcd",
        ""));
    assertThat(run("check", "-c", "gw.yaml")).isEqualTo(1);
    assertThat(err.toString()).contains("gw.yaml:9: mesh.etcd-endpoints: is required with mode: etcd");
  }

  @Test
  void checkSaysHowItReachesEtcd() throws Exception {
    io.dctun.core.testing.TestPki.assumeAvailable();
    io.dctun.core.testing.TestPki pki = new io.dctun.core.testing.TestPki(dir, "ca");
    pki.client("gw1", "ec");
    Files.writeString(dir.resolve("etcd.pw"), "pw-not-shown\n");
    Files.setPosixFilePermissions(dir.resolve("etcd.pw"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: laptop",
        "    public-key: " + PrivateKey.generate().publicKey(),
        "    allowed-ips: [198.18.90.5/32]",
        "    role: host",
        "mesh:",
        "  mode: etcd",
        "  etcd-endpoints: [https://198.18.40.1:2379, https://198.18.40.2:2379]",
        "  etcd-ca-file: ca-ca.pem",
        "  etcd-cert-file: gw1.pem",
        "  etcd-key-file: gw1.key",
        "  etcd-user: gw1",
        "  etcd-password-file: etcd.pw",
        ""));
    assertThat(run("check", "-c", "gw.yaml")).as(err.toString()).isZero();
    assertThat(out.toString()).contains("; etcd: 2 endpoint(s), TLS (trust: " + pki.caCert() + "), client certificate "
        + pki.cert("gw1") + ", user gw1\n").doesNotContain("pw-not-shown");
  }
}
