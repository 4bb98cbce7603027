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

  /**
   * Taken by the {@code dctun} launcher, which starts the JVM through setpriv as that user with
   * only CAP_NET_ADMIN and CAP_NET_RAW; a running JVM cannot give up root for all its threads (see
   * {@link Privileges}). Here only to refuse it clearly when the JVM was started some other way.
   */
  @Option(names = "--user", paramLabel = "NAME|UID",
      description = "run as this user with only CAP_NET_ADMIN and CAP_NET_RAW (done by the dctun launcher, started as root)")
  String user;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UpCommand.class);

  @Override
  public Integer call() throws Exception {
    if (user != null) {
      spec.commandLine().getErr().println("dctun up: --user " + user + " is done by the dctun launcher, which starts "
          + "the JVM through setpriv as that user; this JVM was started without it (a JVM cannot give up root for "
          + "all its threads itself: README, \"Least privilege\")");
      return Main.EXIT_USAGE;
    }
    GatewayConfig cfg;
    try {
      cfg = ConfigLoader.load(main.resolve(config));
    } catch (ConfigException e) {
      CheckCommand.printErrors(spec.commandLine().getErr(), e);
      return Main.EXIT_CONFIG;
    }
    Privileges.current().ifPresent(p -> p.warnIfOverPrivileged(LOG));
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
