package io.dctun.appliance;

import io.dctun.core.engine.Engine;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life of the gateway behind {@code dctun up}, as a supervisor sees it. One thread (the one
 * that calls {@link #run}) owns everything: it starts the gateway, writes the status file once a
 * second, and on the way out closes the gateway and removes the status file. Nobody else touches
 * them, so a shutdown can never race a status write (the file outliving the gateway).
 *
 * <ul>
 *   <li>SIGTERM/SIGINT (the shutdown hook, {@link #stopFromSignal}) only asks the owner to stop
 *       and waits for it to finish (at most {@link #HOOK_WAIT_MILLIS}). The hook exists before
 *       the first resource is created: a signal during start interrupts the start, which undoes
 *       what it created, or, if the start completes anyway, the gateway is closed at once.
 *   <li>A fatal failure (the engine's {@link Engine.FailureListener}, or {@link
 *       Running#fatalFailure()} found on the once-a-second check: the VRRP thread died, ...)
 *       shuts the gateway down the same clean way (HA releases the VIPs, the interface and its
 *       routes go) and then {@link #run} throws {@link GatewayFailedException}: {@code dctun up}
 *       exits 3, and the twin of an HA pair has taken over. If that clean shutdown hangs, a
 *       watchdog halts the process after {@link #FAILED_SHUTDOWN_MILLIS}.
 * </ul>
 */
final class GatewayProcess {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayProcess.class);
  /** How long the shutdown hook waits for the owner to finish before the JVM exits anyway. */
  static final long HOOK_WAIT_MILLIS = 30_000;
  /** How long the shutdown after a fatal failure may take before the process is halted. */
  static final long FAILED_SHUTDOWN_MILLIS = 30_000;
  static final long STATUS_INTERVAL_MILLIS = 1_000;

  /** What the process runs: a {@link Gateway}, or a fake in tests. */
  interface Running extends AutoCloseable {
    /** The status snapshot to write. */
    String status();

    /** Why this gateway can no longer do its job, or null; asked once a second. */
    String fatalFailure();

    /** Removes everything the gateway created; must be idempotent. */
    @Override
    void close();
  }

  /** Starts a gateway; on failure (or interruption) undoes what it did before throwing. */
  @FunctionalInterface
  interface Starter {
    Running start(Engine.FailureListener onFailure) throws Exception;
  }

  /** The gateway failed while running and was shut down: {@code dctun up} exits 3. */
  static final class GatewayFailedException extends Exception {
    GatewayFailedException(String message) {
      super(message);
    }
  }

  private final String name;
  private final Path statusFile;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private final AtomicReference<String> failure = new AtomicReference<>();
  private Thread owner; // guarded by this
  private boolean starting; // guarded by this

  /** @param statusFile where the status goes once a second; null for none */
  GatewayProcess(String name, Path statusFile) {
    this.name = name;
    this.statusFile = statusFile;
  }

  /**
   * Starts the gateway and runs it until a stop is requested or it fails; then shuts it down.
   * Returns normally after a requested stop (also one during start).
   *
   * @throws GatewayFailedException after a fatal failure, once the gateway is down
   * @throws Exception what {@code starter} threw, unless a stop had been requested
   */
  void run(Starter starter) throws Exception {
    try {
      Running g;
      synchronized (this) {
        owner = Thread.currentThread();
        starting = stopRequested.getCount() > 0;
      }
      if (!starting) {
        LOG.info("{}: stop requested before start; not starting", name);
        return;
      }
      try {
        g = starter.start(this::engineFailed);
      } catch (Exception e) {
        if (stopRequested.getCount() == 0) {
          LOG.info("{}: stopped during start; what was created is removed ({})", name, e.toString());
          return;
        }
        throw e;
      } finally {
        synchronized (this) {
          starting = false;
        }
        Thread.interrupted(); // an interrupt that came too late to stop the start
      }
      try {
        if (stopRequested.getCount() == 0) {
          LOG.info("{}: stop requested during start; undoing it", name);
          return;
        }
        writeStatus(g);
        while (!stopRequested.await(STATUS_INTERVAL_MILLIS, TimeUnit.MILLISECONDS)) {
          String f = g.fatalFailure();
          if (f != null) {
            fail(f);
            break;
          }
          writeStatus(g);
        }
      } finally {
        String f = failure.get();
        if (f != null) {
          LOG.error("FATAL: {}: {}; shutting the gateway down so that an HA twin takes over", name, f);
          startWatchdog(f);
        } else {
          LOG.info("stopping {}", name);
        }
        g.close();
        removeStatus();
      }
      String f = failure.get();
      if (f != null) {
        throw new GatewayFailedException("gateway " + name + " failed: " + f);
      }
    } finally {
      finished.countDown();
    }
  }

  private void engineFailed(String thread, String reason, Throwable cause) {
    fail(thread + ": " + reason);
  }

  /** Records a fatal failure (the first one wins) and asks the owner to shut down. */
  void fail(String reason) {
    failure.compareAndSet(null, reason);
    stopRequested.countDown();
  }

  /** The failure that stopped (or is stopping) the gateway, or null. */
  String failure() {
    return failure.get();
  }

  /**
   * The shutdown hook's body: asks the owner to stop (interrupting a start in progress) and waits
   * until the gateway is down and the status file removed, at most {@link #HOOK_WAIT_MILLIS}.
   */
  void stopFromSignal() {
    stopRequested.countDown();
    synchronized (this) {
      if (starting && owner != null) {
        owner.interrupt();
      }
    }
    try {
      if (!finished.await(HOOK_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        LOG.error("{}: not down {} ms after the stop signal; exiting anyway (the kernel removes the TUN "
            + "interface with the process; VIPs left behind are removed at the next start)", name, HOOK_WAIT_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** True once {@link #run} has returned or thrown. */
  boolean awaitFinished(long millis) throws InterruptedException {
    return finished.await(millis, TimeUnit.MILLISECONDS);
  }

  private void writeStatus(Running g) {
    if (statusFile == null) {
      return;
    }
    try {
      StatusFile.write(statusFile, g.status());
    } catch (IOException | RuntimeException e) {
      LOG.warn("writing status to {}: {}", statusFile, e.toString());
    }
  }

  private void removeStatus() {
    if (statusFile == null) {
      return;
    }
    try {
      StatusFile.remove(statusFile);
    } catch (IOException e) {
      LOG.warn("removing {}: {}", statusFile, e.getMessage());
    }
  }

  private void startWatchdog(String why) {
    Thread w = new Thread(() -> {
      try {
        if (!finished.await(FAILED_SHUTDOWN_MILLIS, TimeUnit.MILLISECONDS)) {
          LOG.error("{}: the shutdown after \"{}\" did not finish in {} ms; halting", name, why,
              FAILED_SHUTDOWN_MILLIS);
          Runtime.getRuntime().halt(Main.EXIT_FAILED);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "dctun-failed-watchdog");
    w.setDaemon(true);
    w.start();
  }
}
