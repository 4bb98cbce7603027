package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code dctun up -c FILE}: validates the configuration, then hands it to the {@link GatewayRunner}. */
@Command(name = "up", description = "Check a gateway configuration and run the gateway.")
final class UpCommand implements Callable<Integer> {
  @ParentCommand Main main;

  @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "the YAML configuration")
  Path config;

  @Option(names = "--status-file", paramLabel = "FILE",
      description = "rewrite a status snapshot (peers, handshakes, bytes, drop counters) here every second")
  Path statusFile;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    GatewayConfig cfg;
    try {
      cfg = ConfigLoader.load(main.resolve(config));
    } catch (ConfigException e) {
      CheckCommand.printErrors(spec.commandLine().getErr(), e);
      return Main.EXIT_CONFIG;
    }
    // SIGHUP (or `dctun reload`) applies this file again: Gateway.reload.
    if (statusFile != null) {
      Gateway.runUntilStopped(cfg, main.resolve(statusFile), main.resolve(config)); // failures: exit 3
    } else if (GatewayRunner.current() == Gateway.RUNNER) {
      Gateway.runUntilStopped(cfg, null, main.resolve(config));
    } else {
      GatewayRunner.current().run(cfg);
    }
    return Main.EXIT_OK;
  }
}
