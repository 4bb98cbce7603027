package io.dctun.core.engine;

import io.dctun.core.Clock;
import io.dctun.core.device.PacketDevice;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
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
 */
public final class Engine implements AutoCloseable {
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
      t.start(new Transport.Receiver() {
        @Override
        public void onPacket(byte[] buf, int off, int len, Endpoint from) {
          device.inbound(buf, off, len, from, clock.nanoTime());
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
    int mtu = device.mtu();
    byte[][] bufs = new byte[BATCH][HEADROOM + mtu + 64];
    int[] lengths = new int[BATCH];
    transports.beginBatch();
    try {
      while (running) {
        int count = q.readBatch(bufs, HEADROOM, lengths);
        if (count < 0) {
          break;
        }
        long now = clock.nanoTime();
        for (int i = 0; i < count; i++) {
          if (lengths[i] > 0) {
            device.outbound(bufs[i], HEADROOM, lengths[i], now);
          }
        }
        transports.flush();
      }
    } catch (IOException e) {
      if (running) {
        LOG.error("packet device read failed; the tunnel stops sending: {}", e.getMessage());
      }
    } catch (RuntimeException e) {
      LOG.error("bug on the outbound path", e);
    }
  }

  /**
   * Fires the device's due timers at the clock's time and sends what they produced. The
   * scheduler calls it every {@link #TICK_NANOS}; a manually ticked engine's owner calls it.
   */
  public void tick() {
    long now = clock.nanoTime();
    transports.beginBatch();
    device.tick(now);
    transports.flush();
    for (LongConsumer t : tickTasks) {
      try {
        t.accept(now);
      } catch (RuntimeException e) {
        LOG.error("bug in a tick task {}", t, e); // the others and the next tick still run
      }
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
      tick();
    } catch (RuntimeException e) {
      LOG.error("bug in timers", e); // the next tick still runs: a scheduled task that throws would not
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
