package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyFilesTest {
  @TempDir Path dir;

  private Path keyFile(String content, String mode) throws IOException {
    Path f = dir.resolve("k");
    Files.writeString(f, content, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  @Test
  void writesOwnerOnlyAndReadsBack() throws IOException {
    PrivateKey key = PrivateKey.generate();
    Path f = dir.resolve("gw.key");
    KeyFiles.writePrivateKey(f, key);
    assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(Files.readString(f)).isEqualTo(key.toBase64() + "\n");
    assertThat(KeyFiles.readPrivateKey(f).publicKey()).isEqualTo(key.publicKey());
    try (var listing = Files.list(dir)) {
      assertThat(listing).containsExactly(f); // no temporary file left behind
    }
  }

  @Test
  void replacesAnExistingFileAndTightensItsMode() throws IOException {
    Path f = keyFile("old\n", "rw-r--r--");
    PrivateKey key = PrivateKey.generate();
    KeyFiles.writePrivateKey(f, key);
    assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(KeyFiles.readPrivateKey(f).publicKey()).isEqualTo(key.publicKey());
  }

  @Test
  void trimsSurroundingWhitespace() throws IOException {
    PrivateKey key = PrivateKey.generate();
    Path f = keyFile("  \n" + key.toBase64() + " \r\n\n", "rw-------");
    assertThat(KeyFiles.readPrivateKey(f).publicKey()).isEqualTo(key.publicKey());
  }

  @Test
  void readsPresharedKey() throws IOException {
    PresharedKey psk = PresharedKey.generate();
    Path f = dir.resolve("peer.psk");
    KeyFiles.writePresharedKey(f, psk);
    assertThat(KeyFiles.readPresharedKey(f).toBase64()).isEqualTo(psk.toBase64());
  }

  @Test
  void refusesWorldReadableWithoutLeakingTheKey() throws IOException {
    String secret = PrivateKey.generate().toBase64();
    Path f = keyFile(secret + "\n", "rw-r--r--");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f))
        .isInstanceOf(KeyFiles.KeyFileException.class)
        .hasMessage(f + " is readable by group and others (mode 0644); chmod 600 it")
        .message().doesNotContain(secret);
  }

  @Test
  void refusesGroupWritable() throws IOException {
    Path f = keyFile(PrivateKey.generate().toBase64(), "rw--w----");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f))
        .hasMessage(f + " is writable by group (mode 0620); chmod 600 it");
  }

  @Test
  void refusesOthersReadableAndWritable() throws IOException {
    Path f = keyFile(PrivateKey.generate().toBase64(), "r-----rw-");
    assertThatThrownBy(() -> KeyFiles.readPresharedKey(f))
        .hasMessage(f + " is readable by others, writable by others (mode 0406); chmod 600 it");
  }

  @Test
  void acceptsReadOnlyForOwner() throws IOException {
    PrivateKey key = PrivateKey.generate();
    Path f = keyFile(key.toBase64(), "r--------");
    assertThat(KeyFiles.readPrivateKey(f).publicKey()).isEqualTo(key.publicKey());
  }

  @Test
  void reportsMissingFile() {
    Path f = dir.resolve("absent.key");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f)).hasMessage(f + " does not exist");
  }

  @Test
  void reportsBadContentWithoutEchoingIt() throws IOException {
    String junk = "c2VjcmV0LWJ1dC1ub3QtYS1rZXk=";
    Path f = keyFile(junk + "\n", "rw-------");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f))
        .hasMessageStartingWith(f + " does not hold a private key: ")
        .message().doesNotContain(junk);
  }

  @Test
  void refusesTwoLines() throws IOException {
    Path f = keyFile(PrivateKey.generate().toBase64() + "\n" + PrivateKey.generate().toBase64() + "\n", "rw-------");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f)).hasMessage(f + " must hold a single line (a base64 key)");
  }

  @Test
  void refusesEmptyFile() throws IOException {
    Path f = keyFile(" \n", "rw-------");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f)).hasMessage(f + " is empty");
  }

  @Test
  void refusesDirectory() {
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(dir)).hasMessage(dir + " is not a regular file");
  }

  @AfterEach
  void noHook() {
    KeyFiles.betweenCheckAndOpen = null;
  }

  @Test
  void aSymlinkedKeyFileIsReadThroughItsTarget() throws IOException {
    // Kubernetes mounts secrets this way: key -> ..data/key, both links.
    PrivateKey key = PrivateKey.generate();
    Path real = dir.resolve("real.key");
    KeyFiles.writePrivateKey(real, key);
    Path link = Files.createSymbolicLink(dir.resolve("gw.key"), real);
    assertThat(KeyFiles.readPrivateKey(link).publicKey()).isEqualTo(key.publicKey());
    Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(link)).hasMessageContaining("readable by group and others");
  }

  @Test
  void aSymlinkSwappedInAfterTheCheckIsNotFollowed() throws IOException {
    PrivateKey good = PrivateKey.generate();
    PrivateKey planted = PrivateKey.generate();
    Path f = dir.resolve("gw.key");
    KeyFiles.writePrivateKey(f, good);
    Path elsewhere = dir.resolve("planted.key");
    KeyFiles.writePrivateKey(elsewhere, planted);
    Files.setPosixFilePermissions(elsewhere, PosixFilePermissions.fromString("rw-rw-rw-"));
    KeyFiles.betweenCheckAndOpen = () -> swap(f, () -> Files.createSymbolicLink(f.resolveSibling("swap"), elsewhere));
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f))
        .isInstanceOf(KeyFiles.KeyFileException.class)
        .hasMessage(f + " became a symbolic link after it was checked; not followed");
  }

  @Test
  void aFileRenamedInAfterTheCheckIsRefused() throws IOException {
    Path f = dir.resolve("gw.key");
    KeyFiles.writePrivateKey(f, PrivateKey.generate());
    PrivateKey planted = PrivateKey.generate();
    KeyFiles.betweenCheckAndOpen = () -> swap(f, () -> {
      Path p = f.resolveSibling("swap");
      Files.writeString(p, planted.toBase64() + "\n");
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-rw-rw-"));
      return p;
    });
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(f))
        .isInstanceOf(KeyFiles.KeyFileException.class)
        .hasMessage(f + " was replaced while it was being read; not used");
  }

  interface Make {
    Path make() throws IOException;
  }

  /** Replaces {@code f} by rename with what {@code make} creates beside it. */
  private static void swap(Path f, Make make) {
    try {
      Files.move(make.make(), f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
