package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's {@code dctun up --user}: every way it cannot work is refused before a JVM starts,
 * with exit 2 and a message that names what is wrong. (That it works is E2eLeastPrivilegeTest.)
 */
class LauncherUserTest {
  @TempDir Path dir;
  private Path launcher;

  @BeforeEach
  void findLauncher() {
    Requirements.assumeCommand("bash");
    launcher = Path.of("").toAbsolutePath().getParent().resolve("dctun");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(launcher), "no launcher at " + launcher);
  }

  private ExecResult launch(Map<String, String> env, String... args) {
    List<String> cmd = new ArrayList<>(List.of("/bin/bash", launcher.toString()));
    cmd.addAll(List.of(args));
    return Shell.exec(Duration.ofSeconds(20), env, null, cmd);
  }

  @Test
  void unknownUserIsRefusedByName() {
    Requirements.assumeRoot();
    Requirements.assumeCommand("setpriv");
    ExecResult r = launch(Map.of(), "up", "--user", "lp-no-such-user-7f3a", "-c", "gw.yaml");
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).contains("--user lp-no-such-user-7f3a: no such user");
  }

  @Test
  void rootAsTheUserIsRefused() {
    Requirements.assumeRoot();
    Requirements.assumeCommand("setpriv");
    for (String root : List.of("0", "root")) {
      ExecResult r = launch(Map.of(), "up", "--user=" + root, "-c", "gw.yaml");
      assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
      assertThat(r.stderr()).contains("--user " + root + " is root");
    }
  }

  @Test
  void notRootIsRefusedWithTheAlternative() {
    Requirements.assumeRoot(); // to become someone else first
    Requirements.assumeCommand("setpriv");
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
        "/bin/bash", launcher.toString(), "up", "--user", "65534", "-c", "gw.yaml"));
    ExecResult r = Shell.exec(Duration.ofSeconds(20), Map.of(), null, cmd);
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).contains("needs dctun to be started as root (it runs as uid 65534)")
        .contains("packaging/dctun@.service");
  }

  @Test
  void missingSetprivIsNamed() throws Exception {
    Requirements.assumeRoot();
    // A PATH with only what the launcher needs before it looks for setpriv.
    Path bin = Files.createDirectory(dir.resolve("bin"));
    for (String c : List.of("readlink", "dirname")) {
      Files.createSymbolicLink(bin.resolve(c), Requirements.findCommand(c).orElseThrow());
    }
    ExecResult r = launch(Map.of("PATH", bin.toString()), "up", "--user", "nobody", "-c", "gw.yaml");
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).contains("needs setpriv (util-linux");
  }

  @Test
  void aJarTheUserCannotReadIsNamed() throws Exception {
    Requirements.assumeRoot();
    Requirements.assumeCommand("setpriv");
    Path hidden = Files.createDirectory(dir.resolve("hidden"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
    Path jar = Files.createFile(hidden.resolve("dctun.jar"));
    ExecResult r = launch(Map.of("DCTUN_JAR", jar.toString(), "DCTUN_JAVA_HOME", System.getProperty("java.home")),
        "up", "--user", "65534", "-c", "gw.yaml");
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).contains("--user 65534 cannot read " + jar);
  }

  @Test
  void userWithoutAValueIsAUsageError() {
    ExecResult r = launch(Map.of(), "up", "-c", "gw.yaml", "--user");
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).contains("--user needs a user name or uid");
  }
}
