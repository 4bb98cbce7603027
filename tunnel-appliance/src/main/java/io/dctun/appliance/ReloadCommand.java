package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code dctun reload -c FILE}: checks FILE as {@code dctun check} does, then tells the running
 * {@code dctun up -c FILE} to apply it ({@link Gateway#reload}, by SIGHUP). A file with errors is
 * reported here and nothing is signalled. With {@code --status-file}, the one that gateway writes,
 * it waits for the outcome and prints it: applied (what changed) or refused (why; nothing changed).
 */
@Command(name = "reload", description = "Check a configuration file and make the running `dctun up -c FILE` apply it "
    + "as a difference (SIGHUP does the same).")
final class ReloadCommand implements Callable<Integer> {
  private static final Duration OUTCOME_WAIT = Duration.ofSeconds(10);

  @ParentCommand Main main;

  @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE",
      description = "the configuration file the running gateway was started with")
  Path config;

  @Option(names = "--status-file", paramLabel = "FILE",
      description = "the running gateway's --status-file: wait for the outcome of the reload and print it")
  Path statusFile;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path file = main.resolve(config);
    try {
      ConfigLoader.load(file);
    } catch (ConfigException e) {
      CheckCommand.printErrors(err, e);
      err.println("dctun reload: nothing was signalled; the gateway keeps its configuration");
      err.flush();
      return Main.EXIT_CONFIG;
    }
    List<Long> pids = runningGateways(file.toRealPath());
    if (pids.isEmpty()) {
      err.println("dctun reload: no running `dctun up -c " + file + "` found");
      err.flush();
      return Main.EXIT_CONFIG;
    }
    if (pids.size() > 1) {
      err.println("dctun reload: several gateways run " + file + " (pids " + pids + "); signal the one you mean: "
          + "kill -HUP <pid>");
      err.flush();
      return Main.EXIT_CONFIG;
    }
    long pid = pids.get(0);
    Map<String, String> before = statusFile == null ? Map.of() : StatusFile.read(main.resolve(statusFile));
    Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(pid)).redirectErrorStream(true).start();
    String killOut = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      err.println("dctun reload: kill -HUP " + pid + " failed: " + killOut);
      err.flush();
      return Main.EXIT_CONFIG;
    }
    if (statusFile == null) {
      out.println("dctun reload: SIGHUP sent to dctun up (pid " + pid + "); the outcome is in its log and in "
          + "reload.last of its status");
      out.flush();
      return Main.EXIT_OK;
    }
    long count0 = number(before, "reload.count");
    long fail0 = number(before, "reload.failures");
    long deadline = System.nanoTime() + OUTCOME_WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      Map<String, String> now = StatusFile.read(main.resolve(statusFile));
      if (number(now, "reload.count") > count0) {
        out.println("dctun reload: applied: " + now.getOrDefault("reload.last", "?"));
        out.flush();
        return Main.EXIT_OK;
      }
      if (number(now, "reload.failures") > fail0) {
        err.println("dctun reload: " + now.getOrDefault("reload.last", "refused") + " (nothing was changed; the "
            + "gateway's log has every reason)");
        err.flush();
        return Main.EXIT_CONFIG;
      }
      Thread.sleep(100);
    }
    err.println("dctun reload: SIGHUP sent to pid " + pid + ", but its status file showed no outcome within "
        + OUTCOME_WAIT.toSeconds() + " s");
    err.flush();
    return Main.EXIT_CONFIG;
  }

  private static long number(Map<String, String> status, String key) {
    try {
      return Long.parseLong(status.getOrDefault(key, "0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The processes running {@code dctun up} on {@code file}: found by their command lines in /proc. */
  static List<Long> runningGateways(Path file) {
    List<Long> found = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
          continue;
        }
        try {
          String[] args = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).split("\0");
          if (runs(args, file, p.resolve("cwd"))) {
            found.add(Long.parseLong(name));
          }
        } catch (IOException | RuntimeException gone) {
          // exited meanwhile, or not ours to read
        }
      }
    } catch (IOException e) {
      return found;
    }
    return found;
  }

  /** Whether {@code args} is a dctun JVM running {@code up -c file} (relative to {@code cwd}). */
  static boolean runs(String[] args, Path file, Path cwd) throws IOException {
    boolean dctun = false;
    int up = -1;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("io.dctun.appliance.Main") || args[i].endsWith("dctun.jar")) {
        dctun = true;
      } else if (dctun && up < 0 && args[i].equals("up")) {
        up = i;
      } else if (up >= 0 && (args[i].equals("-c") || args[i].equals("--config")) && i + 1 < args.length) {
        return sameFile(args[i + 1], file, cwd);
      } else if (up >= 0 && args[i].startsWith("--config=")) {
        return sameFile(args[i].substring("--config=".length()), file, cwd);
      }
    }
    return false;
  }

  private static boolean sameFile(String arg, Path file, Path cwd) throws IOException {
    Path p = Path.of(arg);
    if (!p.isAbsolute()) {
      p = cwd.toRealPath().resolve(p);
    }
    return Files.exists(p) && p.toRealPath().equals(file);
  }
}
