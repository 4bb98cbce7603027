package io.dctun.core.transport;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A UDP network in memory, beside {@link io.dctun.core.device.InMemoryDevice}: transports bound
 * to addresses on it exchange datagrams as UDP sockets would, so two engines can be joined in a
 * unit test without root, sockets or timing of the host's network.
 *
 * <pre>
 *   net = new InMemoryNetwork();
 *   a = net.bind(198.18.0.1:51820)   b = net.bind(198.18.0.2:51820)
 *   a.send(UdpEndpoint(198.18.0.2:51820), msg)  -->  b's receive thread: onPacket(msg, from = 198.18.0.1:51820)
 * </pre>
 *
 * <p>Each transport has a bounded receive queue (a full one drops and counts, as a socket buffer
 * would) drained by its own daemon thread, so replies never re-enter the sender's stack. A
 * transport can be taken {@linkplain MemoryTransport#setDown down} (its sends fail, what arrives
 * is lost) and brought back, and {@linkplain MemoryTransport#rebind moved} to another address (a
 * host roaming behind NAT). Datagrams to an address nobody holds are lost and counted.
 */
public final class InMemoryNetwork {
  private static final Logger LOG = LoggerFactory.getLogger(InMemoryNetwork.class);
  public static final int QUEUE = 1024;

  private final Map<InetSocketAddress, MemoryTransport> bound = new ConcurrentHashMap<>();
  private final AtomicLong unreachable = new AtomicLong();
  /** Datagrams queued or being handled, and not yet through their receiver's end of batch. */
  private final AtomicLong inFlight = new AtomicLong();

  /** Binds a transport to {@code local}; refuses an address that is taken, as a socket would. */
  public MemoryTransport bind(InetSocketAddress local) {
    return bind(local, null);
  }

  /**
   * Binds a transport on one link: it {@linkplain MemoryTransport#carries carries} only
   * endpoints inside {@code reach} (the link's subnet), as a socket on a host with one address
   * per uplink reaches each neighbour through the uplink on its subnet. An engine holding several
   * such transports sends each message out the one whose link leads to the endpoint, so a
   * two-uplink host is modelled without routing tables. {@code reach} null: everything.
   */
  public MemoryTransport bind(InetSocketAddress local, io.dctun.core.route.Prefix reach) {
    MemoryTransport t = new MemoryTransport(this, local, reach);
    if (bound.putIfAbsent(local, t) != null) {
      throw new IllegalStateException("address in use on the in-memory network: " + local);
    }
    return t;
  }

  /** Datagrams sent to an address no transport holds. */
  public long unreachable() {
    return unreachable.get();
  }

  /**
   * Waits until no datagram is queued or in a receiver's hands anywhere on this network, so that a
   * test moving a manual clock can tick only once everything sent before has been handled. A
   * receiver's answers are sent at its end of batch, before its datagrams stop counting, so quiet
   * means the whole exchange has settled. Sends still held in some thread's unflushed batch are
   * not seen. Returns false if it did not settle within {@code timeout}.
   */
  public boolean awaitQuiet(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (inFlight.get() != 0) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      Thread.sleep(1);
    }
    return true;
  }

  private void deliver(UdpEndpoint to, byte[] data, UdpEndpoint from) {
    MemoryTransport t = bound.get(to.address());
    if (t == null) {
      unreachable.incrementAndGet();
      return;
    }
    t.arrive(data, from);
  }

  private record Datagram(UdpEndpoint to, byte[] data, UdpEndpoint from) {}

  /** One "socket" on an {@link InMemoryNetwork}. Carries {@link UdpEndpoint}s. */
  public static final class MemoryTransport implements Transport {
    private final InMemoryNetwork net;
    private volatile UdpEndpoint local;
    private final BlockingQueue<Datagram> queue = new ArrayBlockingQueue<>(QUEUE);
    private final ThreadLocal<List<Datagram>> pending = new ThreadLocal<>();
    private final AtomicLong sendErrors = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong handled = new AtomicLong();
    private final io.dctun.core.route.Prefix reach;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong queueDrops = new AtomicLong();
    private final AtomicLong lostWhileDown = new AtomicLong();
    private volatile boolean down;
    private volatile boolean closed;
    private Thread thread;

    private MemoryTransport(InMemoryNetwork net, InetSocketAddress local, io.dctun.core.route.Prefix reach) {
      this.net = net;
      this.reach = reach;
      this.local = UdpEndpoint.of(local);
    }

    public UdpEndpoint localEndpoint() {
      return local;
    }

    @Override
    public synchronized void start(Receiver receiver) {
      if (thread != null) {
        throw new IllegalStateException("already started");
      }
      thread = new Thread(() -> loop(receiver), "dctun-memory-" + local);
      thread.setDaemon(true);
      thread.start();
    }

    private void loop(Receiver receiver) {
      byte[] buf = new byte[65536];
      while (!closed) {
        Datagram d;
        try {
          d = queue.poll(100, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          return;
        }
        int n = 0;
        while (d != null) {
          n++;
          System.arraycopy(d.data, 0, buf, 0, d.data.length);
          received.incrementAndGet();
          try {
            receiver.onPacket(buf, 0, d.data.length, d.from);
          } catch (RuntimeException e) {
            LOG.error("bug on the inbound path (datagram from {} dropped)", d.from, e);
          }
          handled.incrementAndGet();
          d = queue.poll();
        }
        try {
          receiver.endOfBatch();
        } finally {
          net.inFlight.addAndGet(-n);
        }
      }
    }

    private void arrive(byte[] data, UdpEndpoint from) {
      if (down || closed) {
        lostWhileDown.incrementAndGet();
        return;
      }
      net.inFlight.incrementAndGet();
      if (!queue.offer(new Datagram(null, data, from))) {
        net.inFlight.decrementAndGet();
        queueDrops.incrementAndGet();
      }
    }

    @Override
    public boolean carries(Endpoint to) {
      return to instanceof UdpEndpoint u && u.isIpv6() == local.isIpv6()
          && (reach == null || reach.contains(u.address().getAddress().getAddress()));
    }

    @Override
    public void send(Endpoint to, byte[] buf, int off, int len) {
      if (!(to instanceof UdpEndpoint u) || down || closed) {
        sendErrors.incrementAndGet();
        return;
      }
      byte[] copy = java.util.Arrays.copyOfRange(buf, off, off + len);
      List<Datagram> batch = pending.get();
      if (batch != null) {
        batch.add(new Datagram(u, copy, local));
        return;
      }
      sent.incrementAndGet();
      net.deliver(u, copy, local);
    }

    @Override
    public void beginBatch() {
      if (pending.get() == null) {
        pending.set(new ArrayList<>());
      }
    }

    @Override
    public void flush() {
      List<Datagram> batch = pending.get();
      if (batch == null) {
        return;
      }
      for (Datagram d : batch) {
        if (down || closed) {
          sendErrors.incrementAndGet();
        } else {
          sent.incrementAndGet();
          net.deliver(d.to, d.data, d.from);
        }
      }
      batch.clear();
    }

    /**
     * Takes this transport off the network ({@code true}: sends fail and count as errors, what
     * arrives is lost) or puts it back. Its address stays held.
     */
    public void setDown(boolean isDown) {
      this.down = isDown;
    }

    /** Moves this transport to {@code newLocal}: what it sends now comes from there (roaming). */
    public void rebind(InetSocketAddress newLocal) {
      UdpEndpoint to = UdpEndpoint.of(newLocal);
      if (net.bound.putIfAbsent(newLocal, this) != null) {
        throw new IllegalStateException("address in use on the in-memory network: " + newLocal);
      }
      net.bound.remove(local.address(), this);
      local = to;
    }

    public long received() {
      return received.get();
    }

    /** Datagrams the receiver has finished with (its call returned): what it sent in answer is counted in some {@link #sent}. */
    public long handled() {
      return handled.get();
    }

    public long sent() {
      return sent.get();
    }

    /** Datagrams lost because the receive queue was full. */
    public long queueDrops() {
      return queueDrops.get();
    }

    /** Datagrams that arrived while this transport was down. */
    public long lostWhileDown() {
      return lostWhileDown.get();
    }

    @Override
    public long sendErrors() {
      return sendErrors.get();
    }

    @Override
    public String kind() {
      return "memory";
    }

    public boolean isClosed() {
      return closed;
    }

    /** Releases the address and stops the receive thread (waits for it). */
    @Override
    public void close() {
      closed = true;
      net.bound.remove(local.address(), this);
      Thread t;
      synchronized (this) {
        t = thread;
      }
      if (t != null && t != Thread.currentThread()) {
        t.interrupt();
        try {
          t.join(2000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      List<Datagram> left = new ArrayList<>();
      queue.drainTo(left);
      net.inFlight.addAndGet(-left.size()); // lost with the socket, no longer in flight
    }

    @Override
    public String toString() {
      return "MemoryTransport[" + local + (down ? " down" : "") + "]";
    }
  }
}
