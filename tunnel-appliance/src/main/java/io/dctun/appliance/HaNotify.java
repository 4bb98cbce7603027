package io.dctun.appliance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the operator's {@code ha.notify} commands when the pair's state changes, as keepalived's
 * notify scripts do: {@code /bin/sh -c COMMAND} with {@code DCTUN_HA_STATE} (MASTER, BACKUP or
 * FAULT), {@code DCTUN_HA_INSTANCE} and {@code DCTUN_HA_INTERFACE} in the environment. Commands
 * run one at a time, in the order the changes happened, on their own thread (a slow script never
 * delays VRRP), each killed after {@link #TIMEOUT_SECONDS}; exit codes and output are logged.
 * They run with no capabilities, whatever the gateway holds (see {@link #argv}).
 *
 * <p>At most {@link #QUEUE} commands wait behind the running one. A pair that flaps faster than
 * its scripts run would otherwise queue without bound; when the queue is full the oldest waiting
 * command is dropped (the newer state is the one that matters), counted in {@link #dropped()}
 * and logged at most once per {@link io.dctun.core.LogLimiter#DEFAULT_PERIOD_NANOS}.
 */
final class HaNotify implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HaNotify.class);
  static final long TIMEOUT_SECONDS = 30;

  private final Map<String, String> commands;
  static final int QUEUE = 8;
  private static final io.dctun.core.LogLimiter REFUSED_LOG = new io.dctun.core.LogLimiter();

  private final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
  private final io.dctun.core.LogLimiter dropLog = new io.dctun.core.LogLimiter();
  private final java.util.concurrent.ThreadPoolExecutor runner = new java.util.concurrent.ThreadPoolExecutor(
      1, 1, 0, TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(QUEUE), r -> {
        Thread t = new Thread(r, "dctun-ha-notify");
        t.setDaemon(true);
        return t;
      }, (task, pool) -> {
        if (pool.isShutdown()) {
          return; // closing: a change after close runs nothing
        }
        pool.getQueue().poll();
        dropped.incrementAndGet();
        if (dropLog.allow()) {
          LOG.warn("HA notify: {} commands waiting already; the oldest was dropped ({} dropped so far)", QUEUE,
              dropped.get());
        }
        pool.execute(task);
      });

  HaNotify(Map<String, String> commands) {
    this.commands = Map.copyOf(commands);
    Optional<Privileges> p = Privileges.current();
    if (!commands.isEmpty() && p.isPresent() && argv("", p, findSetpriv()).isEmpty()) {
      LOG.warn("WARNING: HA notify commands will not run: this gateway holds capabilities ({}) that they would "
          + "inherit, and setpriv (util-linux), which clears them, is not installed", Privileges.names(
          p.get().ambient() | p.get().inheritable()));
    }
  }

  /** Queues the command for {@code state} ("master", "backup" or "fault"), if one is configured. */
  void fire(String state, String instance, String ifname) {
    String cmd = commands.get(state);
    if (cmd == null) {
      return;
    }
    runner.execute(() -> run(cmd, state, instance, ifname));
  }

  /** Commands dropped because {@link #QUEUE} were already waiting. */
  long dropped() {
    return dropped.get();
  }

  /**
   * The argument vector for {@code cmd}. A gateway started as README's "Least privilege" says
   * holds CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities, which every program it starts
   * would inherit; the command must run with none, so it goes through {@code setpriv} with the
   * inheritable and ambient sets cleared (the kernel then gives the shell no capabilities, as for
   * any unprivileged program). Empty when that is needed and no setpriv is installed: the command
   * is then not run at all rather than run with the gateway's capabilities.
   */
  static Optional<List<String>> argv(String cmd, Optional<Privileges> privileges, Optional<Path> setpriv) {
    List<String> sh = List.of("/bin/sh", "-c", cmd);
    if (privileges.isEmpty() || !privileges.get().childrenInheritCapabilities()) {
      return Optional.of(sh);
    }
    if (setpriv.isEmpty()) {
      return Optional.empty();
    }
    List<String> out = new ArrayList<>(List.of(setpriv.get().toString(), "--inh-caps=-all", "--ambient-caps=-all",
        "--"));
    out.addAll(sh);
    return Optional.of(out);
  }

  /** setpriv (util-linux) in the system's directories, else on PATH; or empty. */
  static Optional<Path> findSetpriv() {
    List<String> dirs = new ArrayList<>(List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin"));
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(":")));
    }
    for (String d : dirs) {
      if (d.isEmpty()) {
        continue;
      }
      Path p = Path.of(d, "setpriv");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** Runs one command to completion (bounded); returns its exit code, or -1. Package-private for tests. */
  static int run(String cmd, String state, String instance, String ifname) {
    Optional<Privileges> privileges = Privileges.current(); // this thread's: capabilities are per thread
    Optional<List<String>> argv = argv(cmd, privileges, findSetpriv());
    if (argv.isEmpty()) {
      if (REFUSED_LOG.allow()) { // a pair made to flap by forged adverts would repeat it
        LOG.warn("HA notify {} command not run: this gateway holds capabilities ({}) that the command would inherit, "
            + "and setpriv (util-linux), which clears them for it, is not installed: {}", state,
            Privileges.names(privileges.get().ambient() | privileges.get().inheritable()), cmd);
      }
      return -1;
    }
    ProcessBuilder pb = new ProcessBuilder(argv.get()).redirectErrorStream(true);
    pb.environment().put("DCTUN_HA_STATE", state.toUpperCase(java.util.Locale.ROOT));
    pb.environment().put("DCTUN_HA_INSTANCE", instance);
    pb.environment().put("DCTUN_HA_INTERFACE", ifname);
    try {
      Process p = pb.start();
      p.getOutputStream().close();
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        LOG.warn("HA notify {} command still running after {} s; killed: {}", state, TIMEOUT_SECONDS, cmd);
        return -1;
      }
      String out = new String(p.getInputStream().readNBytes(4096), StandardCharsets.UTF_8).strip();
      int rc = p.exitValue();
      if (rc != 0) {
        LOG.warn("HA notify {} command exited {}: {}{}", state, rc, cmd, out.isEmpty() ? "" : " (" + out + ")");
      } else {
        LOG.info("HA notify {} command ran: {}", state, cmd);
      }
      return rc;
    } catch (IOException e) {
      LOG.warn("HA notify {} command could not start ({}): {}", state, e.getMessage(), cmd);
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  @Override
  public void close() {
    runner.shutdown();
    try {
      runner.awaitTermination(TIMEOUT_SECONDS + 1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
