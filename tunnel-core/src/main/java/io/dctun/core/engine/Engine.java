package io.dctun.core.engine;

import io.dctun.core.Clock;
import io.dctun.core.device.PacketDevice;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.Transport;
import io.dctun.core.transport.Transports;
import io.dctun.crypto.WireFormat;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongConsumer;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link Device} between a {@link PacketDevice} and one or more {@link Transport}s.
 *
 * <pre>
 *   thread "dctun-tun-N" (one per device queue), a batch of up to 32 packets at a time:
 *       PacketDevice.readBatch -> buf[16..] -> Device.outbound -> seal in place
 *           -> Output -> Transports.send (the first transport that carries the peer's endpoint)
 *       ... then flush every transport (one sendmmsg where the transport batches)
 *   each transport's receive thread (NIO: "dctun-udp"; epoll: its event loop, recvmmsg batches):
 *       message -> Device.inbound -> open in place -> PacketDevice.write
 *   the scheduler (the engine's own "dctun-timers", or one the embedder shares between modules):
 *       every 100 ms: Device.tick, then flush
 * </pre>
 *
 * Each TUN thread owns its buffers for its whole life and processes a batch in order, so a
 * peer's packets leave in the order they were read. The protocol path allocates nothing per
 * packet; the cipher and the JDK's datagram API do (see benchmarks/README.md).
 *
 * <p><b>Failures.</b> No thread of the engine dies silently. Per thread:
 * <ul>
 *   <li>A RuntimeException while handling one packet (a bug, on the outbound path, the inbound
 *       path or in a filter) is counted, logged at a bounded rate ({@link ErrorBudget}), and the
 *       next packet is handled. {@link #MAX_ERRORS_IN_A_ROW} of them with no success in between
 *       mean the path is broken, not unlucky: fatal.
 *   <li>A RuntimeException from the packet device's read itself is counted the same way, and the
 *       thread backs off (up to {@link #MAX_BACKOFF_MILLIS}) before the next read.
 *   <li>An IOException from the packet device's read (the interface was deleted, the fd went bad),
 *       the device reporting end-of-stream while the engine runs, or a transport that reports it
 *       can no longer receive ({@link Transport.Receiver#failed}): fatal at once. Nothing the
 *       engine could do would bring the device back.
 *   <li>A tick in which the device's timers or a tick task throw is counted; {@link
 *       #MAX_TICKS_FAILED_IN_A_ROW} such ticks in a row (5 s) are fatal.
 *   <li>An Error (StackOverflowError, LinkageError, ...) on any engine thread: fatal.
 *       OutOfMemoryError is the JVM's business: run with {@code -XX:+ExitOnOutOfMemoryError}
 *       (the {@code dctun} launcher does).
 * </ul>
 * Fatal means: the {@link FailureListener} set with {@link #onFailure} is called once, on the
 * failing thread, and {@link #failure()} says why from then on. <b>The library's default
 * listener only logs</b> at ERROR: an embedder decides what a dead engine means for its process
 * (the appliance shuts the whole gateway down and exits non-zero, so an HA twin takes over). The
 * engine itself never calls {@code System.exit}, and keeps its other threads running until
 * {@link #close()}.
 */
public final class Engine implements AutoCloseable, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  /** Room in front of the inner packet for the transport header. */
  public static final int HEADROOM = WireFormat.TRANSPORT_HEADER_LENGTH;
  public static final long TICK_NANOS = 100_000_000L;

  private final Device device;
  private final List<PacketDevice> queues;
  private final Transports transports;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final boolean ownScheduler;
  private final List<Thread> threads = new ArrayList<>();
  private final List<LongConsumer> tickTasks = new CopyOnWriteArrayList<>();
  private ScheduledFuture<?> ticks;
  private volatile boolean running;

  /** Per-packet errors in a row, with no packet handled in between, that are fatal. */
  public static final int MAX_ERRORS_IN_A_ROW = 100;
  /** Ticks in a row in which something threw (5 s of them) that are fatal. */
  public static final int MAX_TICKS_FAILED_IN_A_ROW = 50;
  /** The longest pause of a TUN thread after its device's read threw a RuntimeException. */
  public static final long MAX_BACKOFF_MILLIS = 10;

  /**
   * Told when the engine cannot go on (see the class comment for what is fatal). Called at most
   * once per engine, on the failing thread: it must not block for long, and must not call
   * {@link #close()} on that thread (hand the shutdown to another thread).
   */
  @FunctionalInterface
  public interface FailureListener {
    /**
     * @param thread the failing thread's name ("dctun-tun-0", "dctun-timers", "transport epoll")
     * @param reason what failed, in words, for logs and status; contains no secrets
     * @param cause the exception, or null
     */
    void engineFailed(String thread, String reason, Throwable cause);
  }

  /** The default: log the failure at ERROR; nothing else. */
  public static final FailureListener LOG_ONLY = (thread, reason, cause) ->
      LOG.error("FATAL: {}: {}; this engine no longer moves packets (no failure listener acts on it)", thread, reason);

  private volatile FailureListener failureListener = LOG_ONLY;
  private final AtomicReference<String> failure = new AtomicReference<>();
  private final List<ErrorBudget> outboundBudgets = new CopyOnWriteArrayList<>();
  private final List<ErrorBudget> inboundBudgets = new CopyOnWriteArrayList<>();
  private final ErrorBudget tickBudget = new ErrorBudget("timers (device tick and tick tasks)",
      MAX_TICKS_FAILED_IN_A_ROW, LOG);

  /**
   * An engine with its own timer thread.
   *
   * @param queues the packet device's queues (one reader thread each); the first is also written
   */
  public Engine(Device device, List<PacketDevice> queues, Transport transport, Clock clock) {
    this(device, queues, Transports.of(transport), clock, null);
  }

  /**
   * @param queues the packet device's queues (one reader thread each); the first is also written
   * @param transports what carries messages; must be the same set the device's {@link #output} sends through
   * @param scheduler runs {@link #tick()} every {@link #TICK_NANOS}; null: the engine starts its
   *     own "dctun-timers" thread. A scheduler passed in is shared, and not shut down by {@link #close()}.
   */
  public Engine(Device device, List<PacketDevice> queues, Transports transports, Clock clock,
      ScheduledExecutorService scheduler) {
    this(device, queues, transports, clock, scheduler != null ? scheduler : ownTimerThread(), scheduler == null);
  }

  private Engine(Device device, List<PacketDevice> queues, Transports transports, Clock clock,
      ScheduledExecutorService scheduler, boolean ownScheduler) {
    for (Transport t : transports.list()) {
      if (t.maxMessageLength() < device.maxMessageLength()) {
        if (ownScheduler) {
          scheduler.shutdownNow();
        }
        throw new IllegalArgumentException("transport " + t.kind() + " receives messages of at most "
            + t.maxMessageLength() + " bytes, but an MTU of " + device.mtu() + " needs "
            + device.maxMessageLength() + " (MTU + 32 bytes of WireGuard framing): lower the MTU or give it"
            + " larger receive buffers");
      }
    }
    this.device = device;
    this.queues = List.copyOf(queues);
    this.transports = transports;
    this.clock = clock;
    this.scheduler = scheduler;
    this.ownScheduler = ownScheduler;
  }

  private static ScheduledExecutorService ownTimerThread() {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "dctun-timers");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * An engine no thread ticks: its owner calls {@link #tick()} (tests with a manual clock, or an
   * embedder with a timer of its own).
   */
  public static Engine manuallyTicked(Device device, List<PacketDevice> queues, Transports transports, Clock clock) {
    return new Engine(device, queues, transports, clock, null, false);
  }

  /** The Output a Device must be built with to run under this engine, over one transport. */
  public static Output output(Transport transport, PacketDevice packets, AtomicLong writeErrors) {
    return output(Transports.of(transport), packets, writeErrors);
  }

  /** The Output a Device must be built with to run under this engine. */
  public static Output output(Transports transports, PacketDevice packets, AtomicLong writeErrors) {
    return new Output() {
      @Override
      public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {
        transports.send(endpoint, buf, off, len);
      }

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {
        try {
          packets.write(buf, off, len);
        } catch (IOException e) {
          writeErrors.incrementAndGet();
        }
      }
    };
  }

  public synchronized void start() {
    if (running) {
      return;
    }
    running = true;
    for (int i = 0; i < queues.size(); i++) {
      PacketDevice q = queues.get(i);
      threads.add(start("dctun-tun-" + i, () -> tunLoop(q)));
    }
    for (Transport t : transports.list()) {
      String name = "transport " + t.kind();
      ErrorBudget budget = new ErrorBudget("inbound path of " + name, MAX_ERRORS_IN_A_ROW, LOG);
      inboundBudgets.add(budget);
      t.start(new Transport.Receiver() {
        @Override
        public void onPacket(byte[] buf, int off, int len, Endpoint from) {
          long now = clock.nanoTime();
          try {
            device.inbound(buf, off, len, from, now);
            budget.ok();
          } catch (RuntimeException e) {
            if (budget.failed(e, now)) {
              fatal(name, MAX_ERRORS_IN_A_ROW + " inbound packets in a row failed, the last with " + e, e);
            }
          }
        }

        @Override
        public void failed(Throwable cause) {
          if (running) {
            fatal(name, "cannot receive any more: " + cause, cause);
          }
        }
      });
    }
    if (scheduler != null) {
      ticks = scheduler.scheduleAtFixedRate(this::tickSafely, TICK_NANOS, TICK_NANOS, TimeUnit.NANOSECONDS);
    }
  }

  private Thread start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Packets read from the device per batch. */
  public static final int BATCH = 32;

  private void tunLoop(PacketDevice q) {
    String name = Thread.currentThread().getName();
    ErrorBudget budget = new ErrorBudget("outbound path of " + name + " (" + q.name() + ")", MAX_ERRORS_IN_A_ROW, LOG);
    outboundBudgets.add(budget);
    try {
      int mtu = device.mtu();
      byte[][] bufs = new byte[BATCH][HEADROOM + mtu + 64];
      int[] lengths = new int[BATCH];
      transports.beginBatch();
      while (running) {
        int count;
        try {
          count = q.readBatch(bufs, HEADROOM, lengths);
        } catch (IOException e) {
          if (running) {
            fatal(name, "reading packet device " + q.name() + " failed: " + e.getMessage(), e);
          }
          return;
        } catch (RuntimeException e) {
          if (!running) {
            return;
          }
          if (budget.failed(e, clock.nanoTime())) {
            fatal(name, MAX_ERRORS_IN_A_ROW + " reads of " + q.name() + " in a row failed, the last with " + e, e);
            return;
          }
          if (!backOff(budget.inARow())) {
            return;
          }
          continue;
        }
        if (count < 0) {
          if (running) {
            fatal(name, "packet device " + q.name() + " was closed under the running engine", null);
          }
          return;
        }
        long now = clock.nanoTime();
        for (int i = 0; i < count; i++) {
          if (lengths[i] > 0) {
            try {
              device.outbound(bufs[i], HEADROOM, lengths[i], now);
              budget.ok();
            } catch (RuntimeException e) {
              if (budget.failed(e, now)) {
                fatal(name, MAX_ERRORS_IN_A_ROW + " outbound packets in a row failed, the last with " + e, e);
                return;
              }
            }
          }
        }
        try {
          transports.flush();
        } catch (RuntimeException e) {
          if (budget.failed(e, now)) {
            fatal(name, MAX_ERRORS_IN_A_ROW + " outbound packets in a row failed, the last with " + e, e);
            return;
          }
        }
      }
    } catch (Error e) {
      fatal(name, "outbound thread died: " + e, e);
      throw e;
    }
  }

  /** Sleeps {@code inARow} ms, at most {@link #MAX_BACKOFF_MILLIS}; false if interrupted (closing). */
  private static boolean backOff(int inARow) {
    try {
      Thread.sleep(Math.min(MAX_BACKOFF_MILLIS, Math.max(1, inARow)));
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Records the first failure and tells the listener; later ones are only logged. */
  private void fatal(String thread, String reason, Throwable cause) {
    if (!failure.compareAndSet(null, thread + ": " + reason)) {
      LOG.error("{}: {} (after the engine had already failed)", thread, reason);
      return;
    }
    try {
      failureListener.engineFailed(thread, reason, cause);
    } catch (RuntimeException e) {
      LOG.error("the failure listener threw", e);
    }
  }

  /**
   * Sets what is told when the engine cannot go on; {@link #LOG_ONLY} by default. Set it before
   * {@link #start()}.
   */
  public Engine onFailure(FailureListener listener) {
    this.failureListener = java.util.Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** Why the engine stopped moving packets ("dctun-tun-0: reading ... failed: ..."), or null. */
  public String failure() {
    return failure.get();
  }

  /** Errors counted on the outbound path (all TUN threads), the inbound path and in ticks. */
  public long outboundErrors() {
    return outboundBudgets.stream().mapToLong(ErrorBudget::total).sum();
  }

  public long inboundErrors() {
    return inboundBudgets.stream().mapToLong(ErrorBudget::total).sum();
  }

  public long tickErrors() {
    return tickBudget.total();
  }

  /** {@code engine.outbound-errors}, {@code engine.inbound-errors}, {@code engine.tick-errors}, {@code engine.failure}. */
  @Override
  public void report(StatusSink sink) {
    StatusSink s = sink.section("engine");
    s.counter("outbound-errors", outboundErrors());
    s.counter("inbound-errors", inboundErrors());
    s.counter("tick-errors", tickErrors());
    String f = failure.get();
    s.text("failure", f == null ? "none" : f);
  }

  /**
   * Fires the device's due timers at the clock's time and sends what they produced, then runs the
   * tick tasks. The scheduler calls it every {@link #TICK_NANOS}; a manually ticked engine's owner
   * calls it. A RuntimeException from the timers or a task is counted, not thrown (class comment).
   */
  public void tick() {
    long now = clock.nanoTime();
    RuntimeException failed = null;
    transports.beginBatch();
    try {
      device.tick(now);
    } catch (RuntimeException e) {
      failed = e; // the tick tasks and the next tick still run
    }
    for (LongConsumer t : tickTasks) {
      try {
        t.accept(now);
      } catch (RuntimeException e) {
        failed = e; // the others and the next tick still run
      }
    }
    try {
      transports.flush(); // what the tick tasks sent (mesh announcements) leaves in this tick, not the next
    } catch (RuntimeException e) {
      failed = e;
    }
    if (failed == null) {
      tickBudget.ok();
    } else if (tickBudget.failed(failed, now)) {
      fatal(Thread.currentThread().getName(), MAX_TICKS_FAILED_IN_A_ROW + " ticks in a row failed, the last with "
          + failed, failed);
    }
  }

  /**
   * Runs {@code task} with the clock's time on every tick, after the device's timers: for other
   * state machines that only need time (the firewall's flow expiry, say), so that they need no
   * thread of their own. The task must be quick and must not block.
   */
  public void everyTick(LongConsumer task) {
    tickTasks.add(task);
  }

  private void tickSafely() {
    if (!running) {
      return;
    }
    try {
      tick(); // counts its own RuntimeExceptions: a scheduled task that throws is never run again
    } catch (Error e) {
      fatal(Thread.currentThread().getName(), "timers died: " + e, e);
      throw e;
    }
  }

  public Transports transports() {
    return transports;
  }

  public Device device() {
    return device;
  }

  /** Stops the threads, closes the transports and the packet device, forgets all keys. */
  @Override
  public synchronized void close() {
    running = false;
    if (ticks != null) {
      ticks.cancel(false);
    }
    if (ownScheduler) {
      scheduler.shutdownNow();
      try {
        scheduler.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    transports.close();
    for (PacketDevice q : queues) {
      try {
        q.close();
      } catch (IOException e) {
        LOG.warn("closing {}: {}", q.name(), e.getMessage());
      }
    }
    for (Thread t : threads) {
      t.interrupt();
      try {
        t.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    device.close();
  }
}
