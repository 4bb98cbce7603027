package io.dctun.appliance.forward;

import io.dctun.crypto.KeyFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Iterator;
import org.apache.sshd.common.config.keys.AuthorizedKeyEntry;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.PublicKeyEntryResolver;
import org.apache.sshd.common.config.keys.writer.openssh.OpenSSHKeyPairResourceWriter;
import org.apache.sshd.common.util.security.SecurityUtils;

/**
 * The keys of reverse forwards: ECDSA P-256 key pairs in OpenSSH's private-key format (so
 * {@code ssh-keygen -y -f FILE} reads them too), public keys as one {@code authorized_keys} line.
 * Key files are written 0600 and refused when others may read them, as the tunnel's are
 * ({@link KeyFiles#checkPermissions}). No key material reaches a message.
 */
public final class ForwardKeys {
  private ForwardKeys() {}

  public static KeyPair generate() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK has no EC P-256", e);
    }
  }

  /** Writes {@code key} to a new file {@code file}, mode 0600; refuses to overwrite one. */
  public static void write(Path file, KeyPair key) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      OpenSSHKeyPairResourceWriter.INSTANCE.writePrivateKey(key, "dctun forward", null, out);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot encode the key: " + e.getClass().getSimpleName(), e);
    }
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (FileAlreadyExistsException e) {
      throw new IOException(file + " already exists; not overwriting a key", e);
    }
    Files.write(file, out.toByteArray(), StandardOpenOption.TRUNCATE_EXISTING);
  }

  /** Reads a key file written by {@link #write} (or ssh-keygen, unencrypted). */
  public static KeyPair read(Path file) throws IOException {
    KeyFiles.checkPermissions(file);
    byte[] bytes = Files.readAllBytes(file);
    try {
      Iterable<KeyPair> pairs = SecurityUtils.loadKeyPairIdentities(null, () -> file.toString(),
          new ByteArrayInputStream(bytes), null);
      Iterator<KeyPair> it = pairs == null ? null : pairs.iterator();
      if (it == null || !it.hasNext()) {
        throw new IOException(file + " holds no key pair");
      }
      return it.next();
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new IOException(file + " is not an unencrypted OpenSSH private key (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** {@code ecdsa-sha2-nistp256 AAAA...}: the public half as one authorized_keys line. */
  public static String publicLine(PublicKey key) {
    return PublicKeyEntry.toString(key);
  }

  /** Parses an authorized_keys line. */
  public static PublicKey parsePublic(String line) {
    try {
      AuthorizedKeyEntry e = AuthorizedKeyEntry.parseAuthorizedKeyEntry(line.strip());
      if (e == null) {
        throw new IllegalArgumentException("is empty");
      }
      return e.resolvePublicKey(null, PublicKeyEntryResolver.FAILING);
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      throw new IllegalArgumentException("is not an SSH public key line (ecdsa-sha2-nistp256 AAAA...)");
    }
  }
}
