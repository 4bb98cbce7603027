package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.peers;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.firewall.spi.RuleModule;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A module jar an operator dropped in is input: a services file naming a class that is not there,
 * or a class compiled for a newer JDK, is a configuration error on the rule that names a module,
 * saying which provider failed and why; the modules that do load still work.
 */
class BrokenModuleTest {
  @TempDir Path dir;

  @Test
  void providersThatFailToLoadAreNamedInTheRuleErrorAndTheOthersStillLoad() throws Exception {
    Path services = dir.resolve("META-INF/services/" + RuleModule.class.getName());
    Files.createDirectories(services.getParent());
    Files.writeString(services, "com.example.fw.Missing\ncom.example.fw.FromTheFuture\n", StandardCharsets.UTF_8);
    Path future = dir.resolve("com/example/fw/FromTheFuture.class");
    Files.createDirectories(future.getParent());
    // A class file of major version 99: what a module built for a far newer JDK looks like here.
    Files.write(future, new byte[] {(byte) 0xCA, (byte) 0xFE, (byte) 0xBA, (byte) 0xBE, 0, 0, 0, 99, 0, 0, 0, 0});

    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    try (URLClassLoader jar = new URLClassLoader(new URL[] {dir.toUri().toURL()}, before)) {
      t.setContextClassLoader(jar); // ServiceLoader.load looks where the thread's loader looks
      RuleSetException e = null;
      try {
        peers().rule(Rule.named("even").inbound().protocol("tcp").match("even-port", Map.of()).action(Action.ACCEPT))
            .build();
      } catch (RuleSetException x) {
        e = x;
      }
      assertThat(e).as("a rule naming a module that did not load is refused").isNotNull();
      assertThat(e.errors()).hasSize(1);
      RuleError err = e.errors().get(0);
      assertThat(err.field()).isEqualTo("match.even-port");
      assertThat(err.message()).startsWith("no rule module named 'even-port' (loaded: [rate-limit, time-window]); failed to load: ")
          .contains("com.example.fw.Missing not found")
          .contains("UnsupportedClassVersionError").contains("FromTheFuture");

      // The modules that load are still there for rules that use them.
      assertThat(peers()
          .rule(Rule.named("night").inbound().match("time-window", Map.of("from", "22:00", "to", "04:00")).action(Action.ACCEPT))
          .build().size()).isEqualTo(1);
    } finally {
      t.setContextClassLoader(before);
    }
  }
}
