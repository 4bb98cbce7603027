package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * DESIGN: "a module never reaches into another's internals". Every source file of the reactor
 * (main and test) is read; a mention of {@code io.dctun.X.internal} is allowed only inside the
 * module that owns {@code io.dctun.X} (tunnel-X). Runs from tunnel-appliance, which sees them all.
 */
class ModuleBoundariesTest {
  static final Pattern INTERNAL = Pattern.compile("io\\.dctun\\.([a-z]+)\\.internal");

  @Test
  void noModuleMentionsAnotherModulesInternalPackages() throws IOException {
    Path root = Path.of("").toAbsolutePath().getParent();
    assertThat(root.resolve("pom.xml")).as("run from a module directory of the reactor").exists();
    List<String> violations = new ArrayList<>();
    int files = 0;
    try (Stream<Path> modules = Files.list(root)) {
      for (Path module : modules.filter(m -> Files.isDirectory(m.resolve("src"))).toList()) {
        String owner = module.getFileName().toString().replaceFirst("^tunnel-", "");
        try (Stream<Path> sources = Files.walk(module.resolve("src"))) {
          for (Path f : sources.filter(p -> p.toString().endsWith(".java")).toList()) {
            files++;
            Matcher m = INTERNAL.matcher(Files.readString(f));
            while (m.find()) {
              if (!m.group(1).equals(owner)) {
                violations.add(root.relativize(f) + ": " + m.group());
              }
            }
          }
        }
      }
    }
    assertThat(files).as("source files read").isGreaterThan(100);
    assertThat(violations).isEmpty();
  }
}
