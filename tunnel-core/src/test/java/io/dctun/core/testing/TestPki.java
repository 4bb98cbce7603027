package io.dctun.core.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * A throw-away certificate authority made with {@code openssl} in a test's temporary directory:
 * {@code NAME-ca.pem}/{@code NAME-ca.key}, and certificates it issues ({@code NAME.pem} +
 * {@code NAME.key}, PKCS#8, mode 0600), valid for one day. {@link #assumeAvailable()} skips
 * without openssl.
 */
public final class TestPki {
  private final Path dir;
  private final String name;
  private int serial = 1;

  /** Skips the test unless openssl is installed. */
  public static void assumeAvailable() {
    assumeTrue(Requirements.findCommand("openssl").isPresent(), "needs openssl (apt-get install openssl)");
  }

  /** A new CA named {@code name} (subject CN=NAME, EC P-256) in {@code dir}. */
  public TestPki(Path dir, String name) {
    this.dir = dir;
    this.name = name;
    Shell.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key(name + "-ca").toString(), "-out", cert(name + "-ca").toString(), "-days", "1",
        "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    ownerOnly(key(name + "-ca"));
  }

  public Path caCert() {
    return cert(name + "-ca");
  }

  public Path cert(String n) {
    return dir.resolve(n + ".pem");
  }

  public Path key(String n) {
    return dir.resolve(n + ".key");
  }

  /** A server certificate (and client: etcd's gateway dials itself with it) for these IPs, EC key. */
  public void server(String n, List<String> ips) {
    List<String> san = new ArrayList<>();
    for (String ip : ips) {
      san.add("IP:" + ip);
    }
    issue(n, "/CN=" + n, "ec", "subjectAltName=" + String.join(",", san) + "\nextendedKeyUsage=serverAuth,clientAuth\n");
  }

  /**
   * A client certificate; {@code keyType} "ec" or "rsa". Subject without a CommonName (O=NAME):
   * etcd's HTTP gateway refuses client certificates that have one.
   */
  public void client(String n, String keyType) {
    issue(n, "/O=" + n, keyType, "extendedKeyUsage=clientAuth\n");
  }

  /** A client certificate with a CommonName (CN=NAME), as most tools issue them; EC key. */
  public void clientWithCommonName(String n) {
    issue(n, "/CN=" + n, "ec", "extendedKeyUsage=clientAuth\n");
  }

  private void issue(String n, String subject, String keyType, String ext) {
    Path csr = dir.resolve(n + ".csr");
    Path extFile = dir.resolve(n + ".ext");
    List<String> req = new ArrayList<>(List.of("openssl", "req", "-newkey"));
    if (keyType.equals("ec")) {
      req.addAll(List.of("ec", "-pkeyopt", "ec_paramgen_curve:P-256"));
    } else {
      req.addAll(List.of("rsa:2048"));
    }
    req.addAll(List.of("-nodes", "-keyout", key(n).toString(), "-out", csr.toString(), "-subj", subject));
    Shell.run(req.toArray(String[]::new));
    ownerOnly(key(n));
    try {
      Files.writeString(extFile, ext);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Shell.run("openssl", "x509", "-req", "-in", csr.toString(), "-CA", caCert().toString(), "-CAkey",
        key(name + "-ca").toString(), "-set_serial", Integer.toString(serial++), "-out", cert(n).toString(),
        "-days", "1", "-extfile", extFile.toString());
  }

  private static void ownerOnly(Path p) {
    try {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
