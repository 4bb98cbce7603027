package io.dctun.appliance;

import java.io.InputStream;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code dctun} command line. Exit codes: 0 success, 1 configuration or input errors, 2 usage
 * errors, 3 the gateway failed while running.
 */
@Command(
    name = "dctun",
    mixinStandardHelpOptions = true,
    version = "dctun 0.1.0",
    description = "Inter-datacenter WireGuard-compatible tunnel.",
    subcommands = {
      CheckCommand.class, UpCommand.class, ReloadCommand.class, GenkeyCommand.class, PubkeyCommand.class,
      ImportWgCommand.class, FirewallCommand.class, StatusCommand.class, ForwardCommand.class, CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  public static final int EXIT_OK = 0;
  public static final int EXIT_CONFIG = 1;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_FAILED = 3;

  final InputStream stdin;
  /** Where relative command-line paths resolve; null means the process's working directory. */
  final Path workingDir;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  Main(InputStream stdin, Path workingDir) {
    this.stdin = stdin;
    this.workingDir = workingDir;
  }

  public static void main(String[] args) {
    GatewayRunner.install(Gateway.RUNNER);
    System.exit(commandLine(System.in, null).execute(args));
  }

  /** The command line, reading {@code stdin} and resolving relative paths against {@code workingDir}. */
  static CommandLine commandLine(InputStream stdin, Path workingDir) {
    CommandLine cl = new CommandLine(new Main(stdin, workingDir));
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("dctun " + cmd.getCommandName() + ": " + (e.getMessage() != null ? e.getMessage() : e));
      return EXIT_FAILED;
    });
    return cl;
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
  }

  Path resolve(Path p) {
    return workingDir == null || p.isAbsolute() ? p : workingDir.resolve(p);
  }

  Path currentDir() {
    return workingDir != null ? workingDir : Path.of("").toAbsolutePath();
  }
}
