package io.dctun.core.mesh.etcd;

import io.dctun.crypto.KeyFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * PEM files for TLS to etcd, read with the JDK alone: certificates ({@code BEGIN CERTIFICATE},
 * one or several, via {@link CertificateFactory}) and an unencrypted PKCS#8 private key ({@code
 * BEGIN PRIVATE KEY}, EC or RSA, via {@link PKCS8EncodedKeySpec} and {@link KeyFactory}).
 *
 * <p>Other key formats ({@code BEGIN RSA PRIVATE KEY}, {@code BEGIN EC PRIVATE KEY}, {@code BEGIN
 * ENCRYPTED PRIVATE KEY}) are refused with the {@code openssl} command that converts them. A key
 * file that group or others may read is refused ({@link KeyFiles#checkPermissions}). Messages name
 * the file and the problem, never key material. Stateless and thread-safe.
 */
public final class PemFiles {
  /** Far larger than any certificate bundle or key an operator hands us; bounds what is read. */
  static final int MAX_FILE_BYTES = 1 << 20;

  private static final String BEGIN = "-----BEGIN ";
  private static final String END = "-----END ";
  private static final String DASHES = "-----";

  private PemFiles() {}

  /** A PEM file that cannot be used; the message names the file. */
  public static final class PemException extends IOException {
    private static final long serialVersionUID = 1L;

    PemException(Path file, String problem) {
      super(file + " " + problem);
    }

    private PemException(String message) {
      super(message);
    }
  }

  /** One PEM block: its label (CERTIFICATE, PRIVATE KEY, ...) and its decoded bytes. */
  private record Block(String label, byte[] der) {}

  /** Every certificate in {@code file} (a CA bundle or a certificate chain, leaf first). */
  public static List<X509Certificate> readCertificates(Path file) throws PemException {
    byte[] bytes = read(file);
    List<Block> blocks = blocks(file, new String(bytes, StandardCharsets.US_ASCII));
    List<X509Certificate> certs = new ArrayList<>();
    CertificateFactory cf;
    try {
      cf = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
    }
    for (Block b : blocks) {
      if (!b.label().equals("CERTIFICATE")) {
        throw new PemException(file, "holds a '" + b.label() + "' block where certificates are expected"
            + " (BEGIN CERTIFICATE)");
      }
      try (InputStream in = new ByteArrayInputStream(b.der())) {
        Certificate c = cf.generateCertificate(in);
        certs.add((X509Certificate) c);
      } catch (CertificateException | IOException | ClassCastException e) {
        throw new PemException(file, "holds a certificate that cannot be parsed (certificate " + (certs.size() + 1)
            + "): " + e.getMessage());
      }
    }
    if (certs.isEmpty()) {
      throw new PemException(file, "holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
    }
    return certs;
  }

  /** The private key in {@code file}: PKCS#8, unencrypted, EC or RSA; the file must be 0600 or tighter. */
  public static PrivateKey readPrivateKey(Path file) throws PemException {
    try {
      KeyFiles.checkPermissions(file);
    } catch (KeyFiles.KeyFileException e) {
      throw new PemException(e.getMessage()); // names the file already
    }
    byte[] bytes = read(file);
    List<Block> blocks;
    try {
      blocks = blocks(file, new String(bytes, StandardCharsets.US_ASCII));
    } finally {
      Arrays.fill(bytes, (byte) 0);
    }
    try {
      List<Block> keys = new ArrayList<>();
      for (Block b : blocks) {
        switch (b.label()) {
          case "PRIVATE KEY" -> keys.add(b);
          case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> throw new PemException(file, "holds a '" + b.label()
              + "' (PKCS#1/SEC1); convert it to PKCS#8: openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW");
          case "ENCRYPTED PRIVATE KEY" -> throw new PemException(file, "holds an encrypted key; dctun needs it"
              + " unencrypted (protected by the file's mode): openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW");
          case "EC PARAMETERS" -> { } // openssl ecparam -genkey writes these before the key
          default -> throw new PemException(file, "holds a '" + b.label() + "' block where a private key is"
              + " expected (-----BEGIN PRIVATE KEY-----, PKCS#8)");
        }
      }
      if (keys.size() != 1) {
        throw new PemException(file, keys.isEmpty()
            ? "holds no private key (expected PEM: -----BEGIN PRIVATE KEY-----, PKCS#8)"
            : "holds " + keys.size() + " private keys; expected one");
      }
      PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(keys.get(0).der());
      for (String alg : List.of("EC", "RSA")) {
        try {
          return KeyFactory.getInstance(alg).generatePrivate(spec);
        } catch (InvalidKeySpecException e) {
          // not this algorithm: try the next
        } catch (GeneralSecurityException e) {
          throw new IllegalStateException("the JDK has no " + alg + " key factory", e);
        }
      }
      throw new PemException(file, "holds a PKCS#8 key that is neither EC nor RSA, or is damaged");
    } finally {
      for (Block b : blocks) {
        Arrays.fill(b.der(), (byte) 0);
      }
    }
  }

  private static byte[] read(Path file) throws PemException {
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new PemException(file, "is too large for a PEM file (" + size + " bytes, at most " + MAX_FILE_BYTES + ")");
      }
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new PemException(file, "does not exist");
    } catch (PemException e) {
      throw e;
    } catch (IOException e) {
      throw new PemException(file, "cannot be read: " + e.getMessage());
    }
  }

  /** The PEM blocks of {@code text}; text outside blocks (openssl's "Bag Attributes" say) is ignored. */
  private static List<Block> blocks(Path file, String text) throws PemException {
    List<Block> out = new ArrayList<>();
    String[] lines = text.split("\r?\n");
    String label = null;
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (label == null) {
        if (line.startsWith(BEGIN) && line.endsWith(DASHES) && line.length() > BEGIN.length() + DASHES.length()) {
          label = line.substring(BEGIN.length(), line.length() - DASHES.length());
          body.setLength(0);
        } else if (line.startsWith(END)) {
          throw new PemException(file, "line " + (i + 1) + ": END without BEGIN");
        }
        continue;
      }
      if (line.startsWith(END)) {
        if (!line.equals(END + label + DASHES)) {
          throw new PemException(file, "line " + (i + 1) + ": the block '" + label + "' ends with a different label");
        }
        try {
          out.add(new Block(label, Base64.getDecoder().decode(body.toString())));
        } catch (IllegalArgumentException e) {
          throw new PemException(file, "the block '" + label + "' ending at line " + (i + 1) + " is not valid base64");
        } finally {
          body.setLength(0);
        }
        label = null;
      } else if (line.contains(":")) {
        throw new PemException(file, "line " + (i + 1) + ": PEM headers (" + (label.contains("KEY")
            ? "an encrypted legacy key" : "Proc-Type and the like") + ") are not supported");
      } else {
        body.append(line);
      }
    }
    if (label != null) {
      throw new PemException(file, "the block '" + label + "' has no END line");
    }
    if (out.isEmpty()) {
      throw new PemException(file, "is not a PEM file (no -----BEGIN ...----- line)");
    }
    return out;
  }
}
