package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ForwardConfig;
import io.dctun.appliance.forward.ForwardInner;
import io.dctun.appliance.forward.ForwardKeys;
import io.dctun.appliance.forward.ForwardOuter;
import io.dctun.core.status.StatusText;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code dctun forward}: reverse TCP forwards, without root and without a TUN device. {@code -c
 * FILE} runs the sides the file configures until SIGINT/SIGTERM; {@code genkey FILE} makes a key;
 * {@code pubkey FILE} prints a key's public line for the other side's file.
 */
@Command(name = "forward", description = "Reverse TCP forwards (no root, no TUN): run, genkey, pubkey.",
    subcommands = {ForwardCommand.Genkey.class, ForwardCommand.Pubkey.class})
final class ForwardCommand implements Callable<Integer> {
  @ParentCommand Main main;

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "the forward configuration (YAML)")
  Path config;

  @Option(names = "--status-file", paramLabel = "FILE",
      description = "rewrite a status snapshot here every second (removed on exit)")
  Path statusFile;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (config == null) {
      throw new CommandLine.ParameterException(spec.commandLine(), "-c FILE, or a subcommand (genkey, pubkey), is required");
    }
    ForwardConfig cfg;
    try {
      cfg = ForwardConfig.load(main.resolve(config));
    } catch (ConfigException e) {
      CheckCommand.printErrors(spec.commandLine().getErr(), e);
      return Main.EXIT_CONFIG;
    }
    // One owner for the sides and the status file (GatewayProcess): the shutdown hook only asks,
    // so a status write can never race the shutdown, and a SIGTERM during start still closes.
    GatewayProcess p = new GatewayProcess("forward", statusFile == null ? null : main.resolve(statusFile));
    Runtime.getRuntime().addShutdownHook(new Thread(p::stopFromSignal, "dctun-forward-shutdown"));
    p.run(onFailure -> {
      List<AutoCloseable> running = start(cfg);
      return new GatewayProcess.Running() {
        @Override
        public String status() {
          StatusText t = new StatusText();
          for (AutoCloseable c : running) {
            ((io.dctun.core.status.StatusSource) c).report(t);
          }
          return t.toString();
        }

        @Override
        public String fatalFailure() {
          return null; // the sides reconnect by themselves (ForwardInner's keeper)
        }

        @Override
        public void close() {
          closeAll(running);
        }
      };
    });
    return Main.EXIT_OK;
  }

  /** Starts the sides {@code cfg} configures; all or nothing. */
  static List<AutoCloseable> start(ForwardConfig cfg) throws IOException {
    List<AutoCloseable> running = new ArrayList<>();
    try {
      if (cfg.outer().isPresent()) {
        running.add(ForwardOuter.start(cfg.outer().get()));
      }
      if (cfg.inner().isPresent()) {
        running.add(ForwardInner.start(cfg.inner().get()));
      }
      return running;
    } catch (IOException | RuntimeException e) {
      closeAll(running);
      throw e;
    }
  }

  static void closeAll(List<AutoCloseable> running) {
    for (int i = running.size() - 1; i >= 0; i--) {
      try {
        running.get(i).close();
      } catch (Exception e) {
        // shutting down: nothing better to do
      }
    }
  }

  @Command(name = "genkey", description = "Write a new forward key to FILE (0600) and print its public line.")
  static final class Genkey implements Callable<Integer> {
    @ParentCommand ForwardCommand parent;
    @Parameters(paramLabel = "FILE") Path file;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      KeyPair k = ForwardKeys.generate();
      try {
        ForwardKeys.write(parent.main.resolve(file), k);
      } catch (IOException e) {
        spec.commandLine().getErr().println("dctun forward genkey: " + e.getMessage());
        spec.commandLine().getErr().flush();
        return Main.EXIT_CONFIG;
      }
      spec.commandLine().getOut().println(ForwardKeys.publicLine(k.getPublic()));
      spec.commandLine().getOut().flush();
      return Main.EXIT_OK;
    }
  }

  @Command(name = "pubkey", description = "Print the public line of the forward key in FILE.")
  static final class Pubkey implements Callable<Integer> {
    @ParentCommand ForwardCommand parent;
    @Parameters(paramLabel = "FILE") Path file;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      try {
        KeyPair k = ForwardKeys.read(parent.main.resolve(file));
        spec.commandLine().getOut().println(ForwardKeys.publicLine(k.getPublic()));
        spec.commandLine().getOut().flush();
        return Main.EXIT_OK;
      } catch (IOException e) {
        spec.commandLine().getErr().println("dctun forward pubkey: " + e.getMessage());
        spec.commandLine().getErr().flush();
        return Main.EXIT_CONFIG;
      }
    }
  }
}
