package io.dctun.appliance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the operator's {@code ha.notify} commands when the pair's state changes, as keepalived's
 * notify scripts do: {@code /bin/sh -c COMMAND} with {@code DCTUN_HA_STATE} (MASTER, BACKUP or
 * FAULT), {@code DCTUN_HA_INSTANCE} and {@code DCTUN_HA_INTERFACE} in the environment. Commands
 * run one at a time, in the order the changes happened, on their own thread (a slow script never
 * delays VRRP), each killed after {@link #TIMEOUT_SECONDS}; exit codes and output are logged.
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

  /** Runs one command to completion (bounded); returns its exit code, or -1. Package-private for tests. */
  static int run(String cmd, String state, String instance, String ifname) {
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", cmd).redirectErrorStream(true);
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
