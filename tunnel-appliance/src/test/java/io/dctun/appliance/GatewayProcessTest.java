package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.engine.Engine;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The life of {@code dctun up} with a fake gateway, the signal and the failures driven by the
 * test at points it chooses: each race is forced into its bad interleaving by latches, never
 * hoped for with sleeps.
 */
@Timeout(30)
class GatewayProcessTest {
  private static final long WAIT_MS = 10_000;

  @TempDir Path dir;
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final List<Thread> threads = new CopyOnWriteArrayList<>();

  @AfterEach
  void joinThreads() throws InterruptedException {
    for (Thread t : threads) {
      t.interrupt();
      t.join(WAIT_MS);
    }
  }

  /** A fake gateway: records its life; the n-th status() can be made to block. */
  final class FakeGateway implements GatewayProcess.Running {
    final AtomicInteger statusCalls = new AtomicInteger();
    volatile int blockOnCall = -1;
    final CountDownLatch inStatus = new CountDownLatch(1);
    final CountDownLatch releaseStatus = new CountDownLatch(1);
    volatile String fatal;
    volatile boolean closed;

    @Override
    public String status() {
      int n = statusCalls.incrementAndGet();
      if (n == blockOnCall) {
        inStatus.countDown();
        try {
          releaseStatus.await(); // the writer is mid-write when the signal comes
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      events.add("status " + n);
      return "listen *:51820\nwrites " + n + "\n";
    }

    @Override
    public String fatalFailure() {
      return fatal;
    }

    @Override
    public void close() {
      closed = true;
      events.add("closed");
    }
  }

  private Thread thread(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
    return t;
  }

  /** Runs {@code p} with {@code starter} on its own thread; what it threw lands in {@code thrown}. */
  private Thread runInBackground(GatewayProcess p, GatewayProcess.Starter starter, AtomicReference<Throwable> thrown) {
    return thread("owner", () -> {
      try {
        p.run(starter);
        events.add("run returned");
      } catch (Throwable t) {
        thrown.set(t);
        events.add("run threw");
      }
    });
  }

  @Test
  void aSignalDuringAStatusWriteWaitsForTheWriterAndTheFileDoesNotOutliveTheGateway() throws Exception {
    Path status = dir.resolve("gw.status");
    GatewayProcess p = new GatewayProcess("dt0", status);
    FakeGateway g = new FakeGateway();
    g.blockOnCall = 2; // the first write happens at start, the second a second later
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread owner = runInBackground(p, f -> g, thrown);
    assertThat(g.inStatus.await(WAIT_MS, TimeUnit.MILLISECONDS)).as("the writer reached its second write").isTrue();
    assertThat(status).as("the first snapshot").exists();

    // SIGTERM now, while the writer holds a snapshot it has not yet renamed into place.
    Thread hook = thread("hook", () -> {
      p.stopFromSignal();
      events.add("hook returned, status file " + (Files.exists(status) ? "present" : "gone"));
    });
    // The hook can do nothing until the owner moves on: it only asked, and waits.
    assertThat(g.closed).isFalse();
    g.releaseStatus.countDown();
    hook.join(WAIT_MS);
    owner.join(WAIT_MS);

    assertThat(thrown.get()).isNull();
    assertThat(status).as("status file removed after the last write").doesNotExist();
    assertThat(events).containsSubsequence("status 2", "closed", "run returned");
    assertThat(events).contains("hook returned, status file gone");
    assertThat(events.indexOf("hook returned, status file gone")).as("the hook returns after the cleanup")
        .isGreaterThan(events.indexOf("closed"));
    try (var s = Files.list(dir)) {
      assertThat(s.toList()).as("no temporary file left either").isEmpty();
    }
  }

  @Test
  void aSignalWhileStartIsBlockedInterruptsItAndWhatItCreatedIsRemoved() throws Exception {
    Path status = dir.resolve("gw.status");
    GatewayProcess p = new GatewayProcess("dt0", status);
    CountDownLatch inStart = new CountDownLatch(1);
    AtomicReference<String> resource = new AtomicReference<>();
    GatewayProcess.Starter starter = f -> {
      resource.set("interface dt0"); // the first resource exists
      inStart.countDown();
      try {
        new CountDownLatch(1).await(); // blocked, e.g. on a slow network step
      } catch (InterruptedException e) {
        resource.set(null); // as Gateway.start does: undo what was created, then fail
        throw new InterruptedIOException("start interrupted");
      }
      throw new AssertionError("unreachable");
    };
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread owner = runInBackground(p, starter, thrown);
    assertThat(inStart.await(WAIT_MS, TimeUnit.MILLISECONDS)).isTrue();
    Thread hook = thread("hook", () -> {
      p.stopFromSignal();
      events.add("hook returned, resource " + resource.get());
    });
    hook.join(WAIT_MS);
    owner.join(WAIT_MS);
    assertThat(thrown.get()).as("a stop during start is no failure").isNull();
    // The hook returns once run() has undone the start ("run returned" is recorded after run()
    // itself has finished, so the two may come in either order).
    assertThat(events).containsExactlyInAnyOrder("run returned", "hook returned, resource null");
    assertThat(status).as("never written").doesNotExist();
  }

  @Test
  void aSignalDuringAStartThatCompletesAnywayClosesTheGatewayAtOnce() throws Exception {
    Path status = dir.resolve("gw.status");
    GatewayProcess p = new GatewayProcess("dt0", status);
    FakeGateway g = new FakeGateway();
    CountDownLatch inStart = new CountDownLatch(1);
    CountDownLatch signalled = new CountDownLatch(1);
    GatewayProcess.Starter starter = f -> {
      inStart.countDown();
      // Not interruptible: waits until the signal has been seen, then completes.
      while (true) {
        try {
          if (signalled.await(WAIT_MS, TimeUnit.MILLISECONDS)) {
            break;
          }
        } catch (InterruptedException e) {
          events.add("start interrupted");
        }
      }
      return g;
    };
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread owner = runInBackground(p, starter, thrown);
    assertThat(inStart.await(WAIT_MS, TimeUnit.MILLISECONDS)).isTrue();
    Thread hook = thread("hook", p::stopFromSignal);
    // The hook interrupts the start before it waits; the start then finishes.
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    while (!events.contains("start interrupted") && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    signalled.countDown();
    hook.join(WAIT_MS);
    owner.join(WAIT_MS);
    assertThat(thrown.get()).isNull();
    assertThat(g.closed).as("closed right after the start").isTrue();
    assertThat(g.statusCalls.get()).as("no status written for a gateway being stopped").isZero();
    assertThat(status).doesNotExist();
  }

  @Test
  void anEngineFailureShutsTheGatewayDownCleanlyAndRunThrows() throws Exception {
    Path status = dir.resolve("gw.status");
    GatewayProcess p = new GatewayProcess("dt0", status);
    FakeGateway g = new FakeGateway();
    AtomicReference<Engine.FailureListener> listener = new AtomicReference<>();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread owner = runInBackground(p, f -> {
      listener.set(f);
      return g;
    }, thrown);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    while (!Files.exists(status) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(status).exists();
    listener.get().engineFailed("dctun-tun-0", "reading packet device dt0 failed: errno 77", null);
    owner.join(WAIT_MS);
    assertThat(thrown.get()).isInstanceOf(GatewayProcess.GatewayFailedException.class)
        .hasMessage("gateway dt0 failed: dctun-tun-0: reading packet device dt0 failed: errno 77");
    assertThat(g.closed).isTrue();
    assertThat(status).doesNotExist();
    // The JVM's exit then runs the hook: it finds the work done and returns at once.
    assertThat(p.awaitFinished(0)).isTrue();
    p.stopFromSignal();
  }

  @Test
  void aFailureFoundByTheOnceASecondCheckIsFatalToo() throws Exception {
    GatewayProcess p = new GatewayProcess("dt0", null);
    FakeGateway g = new FakeGateway();
    g.fatal = "VRRP thread died: java.lang.IllegalStateException: bug";
    assertThatThrownBy(() -> p.run(f -> g)).isInstanceOf(GatewayProcess.GatewayFailedException.class)
        .hasMessageContaining("VRRP thread died");
    assertThat(g.closed).isTrue();
  }

  @Test
  void aStartThatFailsIsReportedAsIs() {
    GatewayProcess p = new GatewayProcess("dt0", null);
    assertThatThrownBy(() -> p.run(f -> {
      throw new java.io.IOException("bind 198.18.0.1:51820: address in use");
    })).hasMessage("bind 198.18.0.1:51820: address in use");
  }
}
