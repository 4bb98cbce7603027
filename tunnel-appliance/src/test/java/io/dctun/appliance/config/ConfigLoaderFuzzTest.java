package io.dctun.appliance.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzz target for the configuration loader: any text is either a configuration or refused with a
 * {@link ConfigException} whose every error names a line of the file (or 0 for the file as a
 * whole), a field and a message; nothing else is thrown, and nothing is resolved over the network
 * (only literal addresses are parsed; host names stay names). The corpus starts from the
 * configurations the loader's tests use.
 */
class ConfigLoaderFuzzTest {
  private static Path dir;

  private static synchronized Path dir() {
    if (dir == null) {
      try {
        Path d = Files.createTempDirectory("dctun-config-fuzz");
        KeyFiles.writePrivateKey(d.resolve("gw.key"), PrivateKey.generate());
        KeyFiles.writePresharedKey(d.resolve("dc2.psk"), PresharedKey.generate());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try (var s = Files.list(d)) {
            for (Path p : (Iterable<Path>) s::iterator) {
              Files.deleteIfExists(p);
            }
            Files.deleteIfExists(d);
          } catch (IOException ignored) {
            // a temporary directory; the OS cleans it eventually
          }
        }));
        dir = d;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return dir;
  }

  @FuzzTest(maxDuration = "5s")
  void anyTextLoadsOrIsRefusedWithItsLine(byte[] input) {
    String yaml = new String(input, StandardCharsets.UTF_8);
    Path file = dir().resolve("gw.yaml");
    long lines = yaml.lines().count() + 1;
    try {
      GatewayConfig cfg = ConfigLoader.parse(file, yaml);
      assertThat(cfg).isNotNull();
    } catch (ConfigException e) {
      assertThat(e.errors()).isNotEmpty();
      for (ConfigError err : e.errors()) {
        assertThat(err.file()).isEqualTo(file);
        assertThat(err.line()).as("%s", err).isBetween(0, (int) Math.max(lines, 1));
        assertThat(err.field()).isNotNull();
        assertThat(err.message()).as("%s", err).isNotBlank();
      }
    }
  }
}
