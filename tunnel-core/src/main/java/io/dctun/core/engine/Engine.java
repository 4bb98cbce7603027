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
 *   thread "dctun-tun-N" (one per device queue):
 *       PacketDevice.read -> buf[16..] -> Device.outbound -> seal in place -> UdpTransport.send
 *   thread "dctun-udp":
 *       UdpTransport.receive -> buf[0..] -> Device.inbound -> open in place -> PacketDevice.write
 *   thread "dctun-timers":
 *       every 100 ms: Device.tick
 * </pre>
 *
 * Each reading thread owns one buffer for its whole life and processes a packet to completion
 * before reading the next, so a peer's packets leave in the order they were read. Nothing is
 * allocated per packet on either path except the sender address the JDK's receive returns.
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
    threads.add(start("dctun-udp", this::udpLoop));
    threads.add(start("dctun-timers", this::timerLoop));
  }

  private Thread start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void tunLoop(PacketDevice q) {
    int mtu = device.mtu();
    byte[] buf = new byte[HEADROOM + mtu + 64];
    try {
      while (running) {
        int n = q.read(buf, HEADROOM, mtu + 32);
        if (n < 0) {
          break;
        }
        if (n == 0) {
          continue;
        }
        device.outbound(buf, HEADROOM, n, clock.nanoTime());
      }
    } catch (IOException e) {
      if (running) {
        LOG.error("packet device read failed; the tunnel stops sending: {}", e.getMessage());
      }
    } catch (RuntimeException e) {
      LOG.error("bug on the outbound path", e);
    }
  }

  private void udpLoop() {
    byte[] buf = new byte[65536];
    try {
      while (running) {
        InetSocketAddress from = udp.receive(buf, 0, buf.length);
        if (from == null) {
          break;
        }
        try {
          device.inbound(buf, 0, udp.lastLength(), from, clock.nanoTime());
        } catch (RuntimeException e) {
          // A bug must not stop the receive loop; the datagram is lost, the next one is processed.
          LOG.error("bug on the inbound path (datagram from {} dropped)", from, e);
        }
      }
    } catch (IOException e) {
      if (running) {
        LOG.error("UDP receive failed; the tunnel stops receiving: {}", e.getMessage());
      }
    }
  }

  private void timerLoop() {
    while (running) {
      try {
        device.tick(clock.nanoTime());
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
