package io.dctun.core.mesh.etcd;

import io.dctun.crypto.KeyFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * How dctun proves itself to etcd and checks etcd: TLS (with {@code https://} endpoints) and
 * etcd's own user authentication. Every field may be null.
 *
 * <ul>
 *   <li>{@code caFile}: PEM CA certificates to trust for etcd's server certificate; null: the JDK's
 *       trust store. The server certificate must name the host (or IP, as a SAN) of the endpoint:
 *       hostname verification is always on.
 *   <li>{@code certFile} + {@code keyFile}: a client certificate (PEM, leaf first, chain after) and
 *       its PKCS#8 key (EC or RSA, mode 0600), for etcd's {@code --client-cert-auth}.
 *   <li>{@code user} + {@code passwordFile}: etcd authentication ({@code /v3/auth/authenticate});
 *       the password file (mode 0600) holds the password on its first line.
 * </ul>
 *
 * <p>Holds paths, never a password or key: {@link #toString()} is safe to log. Immutable.
 */
public record EtcdSecurity(Path caFile, Path certFile, Path keyFile, String user, Path passwordFile) {
  /** Plain etcd: no TLS material, no user. */
  public static final EtcdSecurity NONE = new EtcdSecurity(null, null, null, null, null);

  /** Longer than any sane password file; bounds what is read. */
  private static final int MAX_PASSWORD_FILE_BYTES = 4096;

  public EtcdSecurity {
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException("etcd client certificate and key go together (cert-file and key-file)");
    }
    if ((user == null) != (passwordFile == null)) {
      throw new IllegalArgumentException("etcd user and password file go together");
    }
  }

  /** Whether any TLS setting is given (then the endpoints must be https). */
  public boolean hasTlsFiles() {
    return caFile != null || certFile != null;
  }

  public boolean hasUser() {
    return user != null;
  }

  /**
   * The TLS context for https endpoints: the CA file's certificates (or the JDK's defaults) as
   * trust, the client certificate and key (if given) as identity.
   *
   * @throws IOException naming the file and what is wrong with it
   */
  public SSLContext sslContext() throws IOException {
    try {
      TrustManagerFactory tmf = null;
      if (caFile != null) {
        List<X509Certificate> cas = PemFiles.readCertificates(caFile);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
          trust.setCertificateEntry("ca" + i, cas.get(i));
        }
        tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
      }
      KeyManagerFactory kmf = null;
      if (certFile != null) {
        List<X509Certificate> chain = PemFiles.readCertificates(certFile);
        PrivateKey key = PemFiles.readPrivateKey(keyFile);
        if (!matches(chain.get(0), key)) {
          throw new PemFiles.PemException(keyFile, "is not the key of the certificate in " + certFile);
        }
        char[] none = new char[0];
        KeyStore identity = KeyStore.getInstance("PKCS12");
        identity.load(null, null);
        identity.setKeyEntry("client", key, none, chain.toArray(X509Certificate[]::new));
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(identity, none);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS to etcd: " + e.getMessage(), e);
    }
  }

  /** Whether the key belongs to the certificate: a probe signed with the key verifies with the certificate's public key. */
  private static boolean matches(X509Certificate cert, PrivateKey key) {
    String alg = key.getAlgorithm();
    if (!alg.equals(cert.getPublicKey().getAlgorithm())) {
      return false;
    }
    try {
      String sigAlg = alg.equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
      byte[] probe = "dctun etcd key check".getBytes(StandardCharsets.US_ASCII);
      java.security.Signature s = java.security.Signature.getInstance(sigAlg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      java.security.Signature v = java.security.Signature.getInstance(sigAlg);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /**
   * The password: the first line of the password file, which must be mode 0600 or tighter.
   * The caller clears the array when done.
   *
   * @throws IOException naming the file (never its content)
   */
  char[] password() throws IOException {
    if (passwordFile == null) {
      throw new IllegalStateException("no etcd password file");
    }
    KeyFiles.checkPermissions(passwordFile);
    long size = Files.size(passwordFile);
    if (size > MAX_PASSWORD_FILE_BYTES) {
      throw new IOException(passwordFile + " is too large for a password file (" + size + " bytes)");
    }
    byte[] bytes = Files.readAllBytes(passwordFile);
    try {
      int end = 0;
      while (end < bytes.length && bytes[end] != '\n' && bytes[end] != '\r') {
        end++;
      }
      if (end == 0) {
        throw new IOException(passwordFile + " is empty; it must hold the etcd password on its first line");
      }
      java.nio.CharBuffer cb = StandardCharsets.UTF_8.decode(java.nio.ByteBuffer.wrap(bytes, 0, end));
      char[] out = new char[cb.remaining()];
      cb.get(out);
      Arrays.fill(cb.array(), '\0');
      return out;
    } finally {
      Arrays.fill(bytes, (byte) 0);
    }
  }

  /** Checks the password file now (mode 0600, a non-empty first line): for configuration, before anything starts. */
  public void checkPasswordFile() throws IOException {
    Arrays.fill(password(), '\0');
  }
}
