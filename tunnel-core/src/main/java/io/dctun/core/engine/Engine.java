package io.dctun.core.engine;

import io.dctun.core.Clock;
import io.dctun.core.device.PacketDevice;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.crypto.WireFormat;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link Device} between a {@link PacketDevice} and a {@link UdpTransport}.
 *
 * <pre>
 *   thread "dctun-tun-N" (one per device queue), a batch of up to 32 packets at a time:
 *       PacketDevice.readBatch -> buf[16..] -> Device.outbound -> seal in place -> UdpTransport.send
 *       ... then UdpTransport.flush (one sendmmsg where the transport batches)
 *   the transport's receive thread (NIO: "dctun-udp"; epoll: its event loop, recvmmsg batches):
 *       datagram -> Device.inbound -> open in place -> PacketDevice.write
 *   thread "dctun-timers":
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
  private final UdpTransport udp;
  private final Clock clock;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean running;

  /**
   * @param queues the packet device's queues (one reader thread each); the first is also written
   */
  public Engine(Device device, List<PacketDevice> queues, UdpTransport udp, Clock clock) {
    this.device = device;
    this.queues = List.copyOf(queues);
    this.udp = udp;
    this.clock = clock;
  }

  /** The Output a Device must be built with to run under this engine. */
  public static Output output(UdpTransport udp, PacketDevice packets, AtomicLong writeErrors) {
    return new Output() {
      @Override
      public void sendToNetwork(InetSocketAddress endpoint, byte[] buf, int off, int len) {
        udp.send(endpoint, buf, off, len);
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
    udp.start((buf, off, len, from) -> device.inbound(buf, off, len, from, clock.nanoTime()));
    threads.add(start("dctun-timers", this::timerLoop));
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
    udp.beginBatch();
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
        udp.flush();
      }
    } catch (IOException e) {
      if (running) {
        LOG.error("packet device read failed; the tunnel stops sending: {}", e.getMessage());
      }
    } catch (RuntimeException e) {
      LOG.error("bug on the outbound path", e);
    }
  }

  private void timerLoop() {
    udp.beginBatch();
    while (running) {
      try {
        device.tick(clock.nanoTime());
        udp.flush();
      } catch (RuntimeException e) {
        LOG.error("bug in timers", e);
      }
      try {
        TimeUnit.NANOSECONDS.sleep(TICK_NANOS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  public Device device() {
    return device;
  }

  /** Stops the threads, closes the transport and the packet device, forgets all keys. */
  @Override
  public synchronized void close() {
    running = false;
    try {
      udp.close();
    } catch (IOException e) {
      LOG.warn("closing UDP: {}", e.getMessage());
    }
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
