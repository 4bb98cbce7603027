package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.testing.TestPki;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEM certificates and PKCS#8 keys for TLS to etcd: what is read, and every refusal naming its file. */
class PemFilesTest {
  @TempDir Path dir;

  static String pem(String label, byte[] der) {
    return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END " + label + "-----\n";
  }

  Path write(String name, String text, String mode) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    return p;
  }

  static byte[] pkcs8(String alg) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
    g.initialize(alg.equals("EC") ? 256 : 2048);
    return g.generateKeyPair().getPrivate().getEncoded();
  }

  @Test
  void readsPkcs8EcAndRsaKeys() throws Exception {
    for (String alg : List.of("EC", "RSA")) {
      byte[] der = pkcs8(alg);
      PrivateKey k = PemFiles.readPrivateKey(write(alg + ".key", "Bag Attributes: ignored\n" + pem("PRIVATE KEY", der),
          "rw-------"));
      assertThat(k.getAlgorithm()).isEqualTo(alg);
      assertThat(k.getEncoded()).isEqualTo(der);
    }
  }

  @Test
  void refusesOtherKeyFormatsWithTheConversion() throws Exception {
    byte[] der = pkcs8("EC");
    for (String label : List.of("RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY")) {
      Path p = write("legacy.key", pem(label, der), "rw-------");
      assertThatThrownBy(() -> PemFiles.readPrivateKey(p))
          .isInstanceOf(PemFiles.PemException.class)
          .hasMessageStartingWith(p.toString())
          .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
    }
  }

  @Test
  void refusesAKeyOthersCanRead() throws Exception {
    String text = pem("PRIVATE KEY", pkcs8("EC"));
    Path p = write("open.key", text, "rw-r-----");
    assertThatThrownBy(() -> PemFiles.readPrivateKey(p))
        .hasMessageStartingWith(p.toString())
        .hasMessageContaining("readable by group")
        .hasMessageContaining("chmod 600")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(text.split("\n")[1]));
  }

  @Test
  void refusesDamagedOrMisplacedPem() throws Exception {
    String good = pem("PRIVATE KEY", pkcs8("RSA"));
    String body = good.split("\n")[1];
    record Case(String text, String message) {}
    List<Case> cases = List.of(
        new Case("", "is not a PEM file"),
        new Case("just text\n", "is not a PEM file"),
        new Case(good.replace("-----END PRIVATE KEY-----\n", ""), "has no END line"),
        new Case(good.replace("END PRIVATE KEY", "END CERTIFICATE"), "ends with a different label"),
        new Case(good.replace(body, body.substring(0, 10) + "!!!" + body.substring(13)), "is not valid base64"),
        new Case(pem("PRIVATE KEY", new byte[] {1, 2, 3}), "neither EC nor RSA, or is damaged"),
        new Case(good + good, "holds 2 private keys"),
        new Case(pem("CERTIFICATE", new byte[] {1}), "'CERTIFICATE' block where a private key is expected"),
        new Case("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nabc\n-----END RSA PRIVATE KEY-----\n",
            "PEM headers"));
    for (Case c : cases) {
      Path p = write("bad.key", c.text(), "rw-------");
      assertThatThrownBy(() -> PemFiles.readPrivateKey(p)).as(c.message())
          .isInstanceOf(PemFiles.PemException.class)
          .hasMessageStartingWith(p.toString())
          .hasMessageContaining(c.message())
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(body));
    }
    assertThatThrownBy(() -> PemFiles.readPrivateKey(dir.resolve("missing.key"))).hasMessageContaining("does not exist");
  }

  @Test
  void certificatesAreReadAsABundleAndKeysAreNotCertificates() throws Exception {
    Path key = write("k.key", pem("PRIVATE KEY", pkcs8("EC")), "rw-------");
    assertThatThrownBy(() -> PemFiles.readCertificates(key))
        .hasMessageStartingWith(key.toString()).hasMessageContaining("where certificates are expected");
    Path junk = write("junk.pem", pem("CERTIFICATE", new byte[] {48, 3, 1, 2, 3}), "rw-r--r--");
    assertThatThrownBy(() -> PemFiles.readCertificates(junk))
        .hasMessageStartingWith(junk.toString()).hasMessageContaining("certificate that cannot be parsed (certificate 1)");
    assertThatThrownBy(() -> PemFiles.readCertificates(dir.resolve("none.pem"))).hasMessageContaining("does not exist");

    TestPki.assumeAvailable();
    TestPki a = new TestPki(dir, "a");
    TestPki b = new TestPki(dir, "b");
    Path bundle = write("bundle.pem", Files.readString(a.caCert()) + Files.readString(b.caCert()), "rw-r--r--");
    assertThat(PemFiles.readCertificates(bundle)).extracting(c -> c.getSubjectX500Principal().getName())
        .containsExactly("CN=a", "CN=b");
  }

  @Test
  void sslContextRefusesAKeyThatIsNotTheCertificates() throws Exception {
    TestPki.assumeAvailable();
    TestPki pki = new TestPki(dir, "ca");
    pki.client("one", "ec");
    pki.client("two", "ec");
    pki.client("rsa", "rsa");
    assertThat(new EtcdSecurity(pki.caCert(), pki.cert("one"), pki.key("one"), null, null).sslContext()).isNotNull();
    assertThat(new EtcdSecurity(null, pki.cert("rsa"), pki.key("rsa"), null, null).sslContext()).isNotNull();
    for (String wrongKey : List.of("two", "rsa")) {
      assertThatThrownBy(() -> new EtcdSecurity(pki.caCert(), pki.cert("one"), pki.key(wrongKey), null, null).sslContext())
          .hasMessageStartingWith(pki.key(wrongKey).toString())
          .hasMessageContaining("is not the key of the certificate in " + pki.cert("one"));
    }
  }

  @Test
  void passwordFileIsOwnerOnlyAndItsFirstLineIsThePassword() throws Exception {
    EtcdSecurity s = new EtcdSecurity(null, null, null, "gw", write("pw", "hunter2\nignored\n", "rw-------"));
    assertThat(new String(s.password())).isEqualTo("hunter2");
    assertThat(s.toString()).doesNotContain("hunter2");
    Path open = write("open.pw", "hunter2\n", "rw-r--r--");
    assertThatThrownBy(() -> new EtcdSecurity(null, null, null, "gw", open).password())
        .hasMessageStartingWith(open.toString()).hasMessageContaining("readable by group and others")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    Path empty = write("empty.pw", "\n", "rw-------");
    assertThatThrownBy(() -> new EtcdSecurity(null, null, null, "gw", empty).password())
        .hasMessageContaining("is empty");
  }

  @Test
  void endpointsMustNotMixSchemesAndTlsFilesNeedHttps() {
    List<java.net.URI> mixed = List.of(java.net.URI.create("https://198.18.0.1:2379"),
        java.net.URI.create("http://198.18.0.2:2379"));
    assertThatThrownBy(() -> EtcdClient.tls(mixed)).hasMessageContaining("mix http:// and https://");
    Path ca = dir.resolve("ca.pem");
    assertThatThrownBy(() -> new EtcdHostStore.Config(List.of(java.net.URI.create("http://198.18.0.1:2379")), "m", 3000,
        java.time.Duration.ofSeconds(1), new EtcdSecurity(ca, null, null, null, null)))
        .hasMessageContaining("use https://");
    assertThat(EtcdClient.tls(List.of(java.net.URI.create("https://198.18.0.1:2379")))).isTrue();
  }
}
