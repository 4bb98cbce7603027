package io.dctun.appliance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a status snapshot so that readers never see half of one and no symlink is followed:
 * the text goes to a fresh temporary file in the same directory, created with {@code
 * CREATE_NEW} (O_EXCL: an existing file or symlink of that name makes it fail, never followed),
 * then renamed over the status file. rename(2) replaces a symlink at the status path itself and
 * never writes through it. Mode 0644: the status holds no secrets, and monitoring reads it.
 *
 * <p>Thread-safety: none; one owner writes and removes the file (see {@link GatewayProcess}).
 */
final class StatusFile {
  private StatusFile() {}

  static void write(Path file, String text) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = dir.resolve("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
        + ".tmp");
    boolean moved = false;
    try {
      try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW,
          StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")))) {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("cannot replace " + file + " atomically: " + e.getMessage(), e);
      }
      moved = true;
    } finally {
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /**
   * The {@code key value} lines of a status file (written whole by a rename, so never half a
   * snapshot); empty if there is none (yet). A key that repeats maps to its values joined by
   * newlines.
   */
  static java.util.Map<String, String> read(Path file) throws IOException {
    java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
    String text;
    try {
      text = java.nio.file.Files.readString(file);
    } catch (java.nio.file.NoSuchFileException e) {
      return m;
    }
    for (String line : text.split("\n")) {
      int sp = line.indexOf(' ');
      if (sp > 0) {
        // A key may repeat (one "peer NAME KEY" line per peer): its values, one per line.
        m.merge(line.substring(0, sp), line.substring(sp + 1).strip(), (a, b) -> a + "\n" + b);
      }
    }
    return m;
  }

  /** Removes the status file (a symlink there is removed, not its target). */
  static void remove(Path file) throws IOException {
    Files.deleteIfExists(file);
  }
}
