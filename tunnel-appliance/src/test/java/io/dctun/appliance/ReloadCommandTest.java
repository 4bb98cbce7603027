package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dctun reload} finds the gateway by its command line in /proc: that must hold for every
 * form the launcher has used (today {@code -cp dctun.jar:modules... io.dctun.appliance.Main}, before
 * {@code -jar dctun.jar}), and for nothing else.
 */
class ReloadCommandTest {
  @TempDir Path dir;

  @Test
  void findsTheGatewayAsTheLauncherStartsItWithOrWithoutModuleJars() throws Exception {
    Path file = Files.writeString(dir.resolve("gw.yaml"), "{}\n").toRealPath();
    String java = "/usr/lib/jvm/jdk/bin/java";
    String jar = "/opt/dctun/tunnel-appliance/target/dctun.jar";
    assertThat(ReloadCommand.runs(new String[] {java, "-XX:+ExitOnOutOfMemoryError", "-cp",
        jar + ":/etc/dctun/modules/even-port.jar", "io.dctun.appliance.Main", "up", "-c", "gw.yaml"}, file, dir))
        .as("launcher with a modules directory, relative -c").isTrue();
    assertThat(ReloadCommand.runs(new String[] {java, "-cp", jar, "io.dctun.appliance.Main", "up",
        "--config=" + file}, file, dir)).as("launcher without modules").isTrue();
    assertThat(ReloadCommand.runs(new String[] {java, "-jar", jar, "up", "-c", file.toString()}, file, dir))
        .as("the launcher before the modules directory").isTrue();
  }

  @Test
  void ignoresOtherCommandsOtherFilesAndOtherPrograms() throws Exception {
    Path file = Files.writeString(dir.resolve("gw.yaml"), "{}\n").toRealPath();
    Path other = Files.writeString(dir.resolve("other.yaml"), "{}\n").toRealPath();
    String java = "/usr/lib/jvm/jdk/bin/java";
    String cp = "/opt/dctun/tunnel-appliance/target/dctun.jar:/etc/dctun/modules/even-port.jar";
    assertThat(ReloadCommand.runs(new String[] {java, "-cp", cp, "io.dctun.appliance.Main", "check", "-c", file.toString()},
        file, dir)).isFalse();
    assertThat(ReloadCommand.runs(new String[] {java, "-cp", cp, "io.dctun.appliance.Main", "up", "-c", other.toString()},
        file, dir)).isFalse();
    assertThat(ReloadCommand.runs(new String[] {java, "-cp", "/srv/app.jar", "com.example.Main", "up", "-c", file.toString()},
        file, dir)).isFalse();
  }
}
