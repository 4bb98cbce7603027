package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The status file is replaced whole and never written through a symlink. */
class StatusFileTest {
  @TempDir Path dir;

  @Test
  void replacesTheFileWholeWithMode0644AndLeavesNoTemporaryFile() throws Exception {
    Path f = dir.resolve("gw.status");
    StatusFile.write(f, "listen *:51820\n");
    StatusFile.write(f, "listen *:51821\n");
    assertThat(Files.readString(f)).isEqualTo("listen *:51821\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-r--r--");
    try (var s = Files.list(dir)) {
      assertThat(s.toList()).containsExactly(f);
    }
    StatusFile.remove(f);
    assertThat(f).doesNotExist();
  }

  @Test
  void aSymlinkAtTheStatusPathIsReplacedNotFollowed() throws Exception {
    Path victim = dir.resolve("victim");
    Files.writeString(victim, "precious\n");
    Path f = dir.resolve("gw.status");
    Files.createSymbolicLink(f, victim);
    StatusFile.write(f, "listen *:51820\n");
    assertThat(Files.readString(victim)).as("the symlink's target is untouched").isEqualTo("precious\n");
    assertThat(Files.isSymbolicLink(f)).isFalse();
    assertThat(Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).isTrue();
    assertThat(Files.readString(f)).isEqualTo("listen *:51820\n");

    Files.delete(f);
    Files.createSymbolicLink(f, victim);
    StatusFile.remove(f);
    assertThat(victim).as("removing the status removes the link, not its target").exists();
  }
}
