package io.dctun.crypto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Key files as {@code wg genkey > key} leaves them: one line of base64, surrounding whitespace
 * ignored. Reading refuses a file that group or others may read or write, as ssh refuses a loose
 * identity file: a key that others could read must be treated as already leaked. Writing creates
 * the file with mode 0600 from the first byte and renames it into place, so the key is never
 * visible to others and a crash never leaves half a key.
 *
 * <p>No message produced here contains key material; they name the file and what is wrong with it.
 * On a file system without POSIX permissions the mode check is skipped. Stateless and thread-safe.
 */
public final class KeyFiles {
  /** Larger than any sane key file (44 characters of base64 plus a newline); bounds what we read. */
  private static final int MAX_FILE_BYTES = 1024;

  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rw-------");

  private KeyFiles() {}

  /** A key file that cannot be used: missing, unreadable, too open, or not holding a key. */
  public static final class KeyFileException extends IOException {
    private static final long serialVersionUID = 1L;
    private final Path file;

    public KeyFileException(Path file, String problem) {
      super(file + " " + problem);
      this.file = file;
    }

    /** The key file concerned. */
    public Path file() {
      return file;
    }
  }

  /** Reads a private key file (output of {@code wg genkey}). */
  public static PrivateKey readPrivateKey(Path file) throws KeyFileException {
    String text = readKeyText(file);
    try {
      return PrivateKey.fromBase64(text);
    } catch (IllegalArgumentException e) {
      throw new KeyFileException(file, "does not hold a private key: " + e.getMessage());
    }
  }

  /** Reads a preshared key file (output of {@code wg genpsk}). */
  public static PresharedKey readPresharedKey(Path file) throws KeyFileException {
    String text = readKeyText(file);
    try {
      return PresharedKey.fromBase64(text);
    } catch (IllegalArgumentException e) {
      throw new KeyFileException(file, "does not hold a preshared key: " + e.getMessage());
    }
  }

  /** Writes {@code key} to {@code file} atomically, mode 0600; replaces an existing file. */
  public static void writePrivateKey(Path file, PrivateKey key) throws IOException {
    writeKeyText(file, key.toBase64());
  }

  /** Writes {@code key} to {@code file} atomically, mode 0600; replaces an existing file. */
  public static void writePresharedKey(Path file, PresharedKey key) throws IOException {
    writeKeyText(file, key.toBase64());
  }

  /**
   * Refuses a file whose mode lets group or others read or write it.
   *
   * @throws KeyFileException naming the file, what is too open, the octal mode and the fix
   */
  public static void checkPermissions(Path file) throws KeyFileException {
    Path real;
    try {
      real = file.toRealPath();
    } catch (NoSuchFileException e) {
      throw new KeyFileException(file, "does not exist");
    } catch (IOException e) {
      throw new KeyFileException(file, "cannot be read: " + e.getMessage());
    }
    checkPermissions(file, real);
  }

  /** The file's identity (device and inode where the platform has them), not following links. */
  private static Object identity(Path file, Path real) throws KeyFileException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new KeyFileException(file, "does not exist");
    } catch (IOException e) {
      throw new KeyFileException(file, "cannot be read: " + e.getMessage());
    }
    if (a.isSymbolicLink()) {
      throw new KeyFileException(file, "became a symbolic link after it was checked; not followed");
    }
    if (!a.isRegularFile()) {
      throw new KeyFileException(file, "is not a regular file");
    }
    return a.fileKey() != null ? a.fileKey() : a.lastModifiedTime();
  }

  /** {@link #checkPermissions(Path)} of {@code real}, errors naming {@code file}; never follows a link. */
  private static void checkPermissions(Path file, Path real) throws KeyFileException {
    PosixFileAttributeView view =
        Files.getFileAttributeView(real, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
    if (view == null) {
      return; // no POSIX modes on this file system: nothing to check
    }
    Set<PosixFilePermission> perms;
    try {
      perms = view.readAttributes().permissions();
    } catch (NoSuchFileException e) {
      throw new KeyFileException(file, "does not exist");
    } catch (IOException e) {
      throw new KeyFileException(file, "cannot be read: " + e.getMessage());
    }
    List<String> readers = new ArrayList<>();
    List<String> writers = new ArrayList<>();
    if (perms.contains(PosixFilePermission.GROUP_READ)) readers.add("group");
    if (perms.contains(PosixFilePermission.OTHERS_READ)) readers.add("others");
    if (perms.contains(PosixFilePermission.GROUP_WRITE)) writers.add("group");
    if (perms.contains(PosixFilePermission.OTHERS_WRITE)) writers.add("others");
    if (readers.isEmpty() && writers.isEmpty()) {
      return;
    }
    StringBuilder why = new StringBuilder("is ");
    if (!readers.isEmpty()) {
      why.append("readable by ").append(String.join(" and ", readers));
    }
    if (!writers.isEmpty()) {
      why.append(readers.isEmpty() ? "" : ", ").append("writable by ").append(String.join(" and ", writers));
    }
    why.append(" (mode ").append(octal(perms)).append("); chmod 600 it");
    throw new KeyFileException(file, why.toString());
  }

  /** Runs between the checks and the open; tests swap files there. Null in production. */
  static volatile Runnable betweenCheckAndOpen;

  /**
   * The checks and the read concern one file: the path is resolved once (a symlinked key file,
   * as Kubernetes mounts secrets, is fine), the resolved file is checked without following links,
   * opened with O_NOFOLLOW (a symlink swapped in after the check is refused, never followed), and
   * its identity (device and inode) must be the same after the read as at the check, so a file
   * swapped in by rename is refused too. What this cannot see: a swap and a swap back inside the
   * read, which needs write access to the key's directory (and then the key is lost anyway).
   */
  private static String readKeyText(Path file) throws KeyFileException {
    Path real;
    try {
      real = file.toRealPath();
    } catch (NoSuchFileException e) {
      throw new KeyFileException(file, "does not exist");
    } catch (AccessDeniedException e) {
      throw new KeyFileException(file, "cannot be reached by this process's user" + processUid()
          + ": a directory on its path is not searchable by it");
    } catch (IOException e) {
      throw new KeyFileException(file, "cannot be read: " + e.getMessage());
    }
    Object identity = identity(file, real);
    checkPermissions(file, real);
    Runnable hook = betweenCheckAndOpen;
    if (hook != null) {
      hook.run();
    }
    byte[] bytes;
    try (FileChannel ch = FileChannel.open(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      ByteBuffer buf = ByteBuffer.allocate(MAX_FILE_BYTES + 1);
      while (buf.hasRemaining() && ch.read(buf) >= 0) {
        // keep reading until full or end of file
      }
      if (buf.position() > MAX_FILE_BYTES) {
        throw new KeyFileException(file, "is too large to be a key file (over " + MAX_FILE_BYTES + " bytes)");
      }
      bytes = Arrays.copyOf(buf.array(), buf.position());
      Arrays.fill(buf.array(), (byte) 0);
      if (!Objects.equals(identity, identity(file, real))) {
        Arrays.fill(bytes, (byte) 0);
        throw new KeyFileException(file, "was replaced while it was being read; not used");
      }
    } catch (KeyFileException e) {
      throw e;
    } catch (AccessDeniedException e) {
      // Mode 0600 and another owner: a gateway run unprivileged (README, "Least privilege") must own its key.
      throw new KeyFileException(file, "cannot be read by this process's user" + processUid() + owner(real)
          + ": chown it to the user the gateway runs as (and keep it mode 0600)");
    } catch (IOException e) {
      if (Files.isSymbolicLink(real)) { // O_NOFOLLOW's ELOOP
        throw new KeyFileException(file, "became a symbolic link after it was checked; not followed");
      }
      throw new KeyFileException(file, "cannot be read: " + e.getMessage());
    }
    try {
      String text = new String(bytes, StandardCharsets.US_ASCII).strip();
      if (text.isEmpty()) {
        throw new KeyFileException(file, "is empty");
      }
      if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) {
        throw new KeyFileException(file, "must hold a single line (a base64 key)");
      }
      return text;
    } finally {
      Arrays.fill(bytes, (byte) 0);
    }
  }

  /** " (uid 65534)", or "" where the platform cannot say. */
  private static String processUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
        if (line.startsWith("Uid:")) {
          return " (uid " + line.substring(4).strip().split("\\s+")[0] + ")";
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: say nothing
    }
    return "";
  }

  /** ", owned by uid 0", or "" where the platform cannot say. */
  private static String owner(Path real) {
    try {
      return ", owned by uid " + Files.getAttribute(real, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private static void writeKeyText(Path file, String base64) throws IOException {
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    boolean posix = Files.getFileAttributeView(dir, PosixFileAttributeView.class) != null;
    FileAttribute<?>[] attrs =
        posix ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)} : new FileAttribute<?>[0];
    // Created 0600 (umask can only remove bits), in the target's directory so the rename is atomic.
    Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp", attrs);
    boolean moved = false;
    byte[] bytes = (base64 + "\n").getBytes(StandardCharsets.US_ASCII);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      moved = true;
      syncDirectory(dir);
    } finally {
      Arrays.fill(bytes, (byte) 0);
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /** Makes the rename durable; best effort, as not every platform can open a directory. */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // the key is written; only durability across a power cut is weaker
    }
  }

  private static String octal(Set<PosixFilePermission> perms) {
    int mode = 0;
    for (PosixFilePermission p : perms) {
      mode |= 1 << (8 - p.ordinal()); // the enum is declared owner rwx, group rwx, others rwx
    }
    return String.format("0%03o", mode);
  }
}
