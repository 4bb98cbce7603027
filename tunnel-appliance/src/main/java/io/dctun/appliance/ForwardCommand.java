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
import java.util.concurrent.CountDownLatch;
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

  @Option(names = "--status-file", paramLabel = "FILE", description = "rewrite a status snapshot here every second")
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
    List<AutoCloseable> running = start(cfg);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      closeAll(running);
      stopped.countDown();
    }, "dctun-forward-shutdown"));
    Path status = statusFile == null ? null : main.resolve(statusFile);
    while (!stopped.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
      if (status != null) {
        StatusText t = new StatusText();
        for (AutoCloseable c : running) {
          ((io.dctun.core.status.StatusSource) c).report(t);
        }
        java.nio.file.Path tmp = status.resolveSibling(status.getFileName() + ".tmp");
        java.nio.file.Files.writeString(tmp, t.toString());
        java.nio.file.Files.move(tmp, status, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
    }
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
