package io.dctun.core.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard messages over TCP, length-prefixed ({@link StreamFraming}), for networks that drop
 * UDP. One selector thread accepts, connects, reads and finishes writes for every connection.
 *
 * <p>Against TCP-over-TCP meltdown, each connection has a small, bounded send buffer: a message
 * that does not fit is dropped and counted, never queued without bound, so the inner TCP sees a
 * loss (and backs off) instead of a growing delay; and a stalled connection only fills its own
 * buffer, so it never holds up sends to other peers. A connection is dialled on the first send to
 * its endpoint; after a failed dial, sends to it are dropped until a backoff with jitter (100 ms,
 * doubling to 10 s) has passed. A connection that a peer opened is known by its remote address,
 * which is the endpoint roaming learns from its packets.
 *
 * <p>Silence is bounded: an accepted connection that carries no whole message within 10 s, one
 * on which nothing arrives for 200 s, and a dial that has not connected within 10 s are closed and
 * counted ({@link StreamCounters#connectionsTimedOut()}), so nobody holds a connection slot, or
 * stalls a peer's sends behind an unanswered SYN, for longer than that.
 *
 * <p>Thread-safety: {@link #send} from any thread (per-connection lock); the receiver is called on
 * the selector thread.
 */
public final class NioTcpTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(NioTcpTransport.class);
  /** Per-connection send buffer: about 20 full-size packets in flight beyond the kernel's own. */
  public static final int SEND_BUFFER_BYTES = 32 * 1024;

  private final Selector selector;
  private final ServerSocketChannel server;
  private final Map<StreamEndpoint, Conn> conns = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Conn> toRegister = new ConcurrentLinkedQueue<>();
  private final StreamCounters counters = new StreamCounters();
  private final ByteBuffer readBuf = ByteBuffer.allocate(64 * 1024);
  private final io.dctun.core.LogLimiter failureLog = new io.dctun.core.LogLimiter();
  private volatile boolean running = true;
  private volatile Receiver receiver = (buf, off, len, from) -> {};
  private Thread thread;

  /** One TCP connection: its channel, its framing decoder, its bounded send buffer. */
  private final class Conn {
    final StreamEndpoint endpoint;
    final SocketChannel ch;
    final StreamFraming in = new StreamFraming();
    final ByteBuffer out = ByteBuffer.allocate(SEND_BUFFER_BYTES); // write mode
    final StreamFraming.Sink sink;
    final boolean accepted;
    final long openedNanos;
    SelectionKey key;
    boolean connected;
    /** Selector thread only: whether a whole message has arrived, and when bytes last did. */
    boolean framed;
    long lastReadNanos;

    Conn(StreamEndpoint endpoint, SocketChannel ch, boolean connected, boolean accepted, long now) {
      this.endpoint = endpoint;
      this.ch = ch;
      this.connected = connected;
      this.accepted = accepted;
      this.openedNanos = now;
      this.lastReadNanos = now;
      this.sink = (buf, off, len) -> {
        framed = true;
        receiver.onPacket(buf, off, len, endpoint);
      };
    }

    /** Appends one framed message; false (dropped) when the buffer has no room. */
    synchronized boolean enqueue(byte[] buf, int off, int len) {
      if (out.remaining() < StreamFraming.PREFIX + len) {
        return false;
      }
      out.put((byte) (len >>> 8)).put((byte) len).put(buf, off, len);
      if (connected) {
        drain();
      }
      return true;
    }

    /** Writes what the socket takes now; asks the selector for the rest. */
    synchronized void drain() {
      out.flip();
      try {
        ch.write(out);
      } catch (IOException e) {
        out.clear();
        closeConn(this, "write: " + e.getMessage());
        return;
      }
      out.compact();
      SelectionKey k = key;
      if (k != null && k.isValid()) {
        k.interestOps(out.position() > 0 ? SelectionKey.OP_READ | SelectionKey.OP_WRITE : SelectionKey.OP_READ);
      }
    }
  }

  private final DialBackoff backoff;
  private final java.util.function.LongSupplier nanoTime;
  private long lastSweepNanos;
  private volatile long sweeps;
  private volatile int maxConnections = StreamCounters.MAX_CONNECTIONS;

  /** For tests: how many times the silent connections have been swept (once per second of the clock). */
  long sweeps() {
    return sweeps;
  }

  /** For tests: a lower bound than {@link StreamCounters#MAX_CONNECTIONS}. */
  void maxConnections(int n) {
    maxConnections = n;
  }

  /** Messages dropped because their connection's bounded send buffer was full. */
  @Override
  public long queueDrops() {
    return counters.queueFullDrops();
  }

  private NioTcpTransport(Selector selector, ServerSocketChannel server, java.util.function.LongSupplier nanoTime) {
    this.selector = selector;
    this.server = server;
    this.backoff = new DialBackoff(nanoTime);
    this.nanoTime = nanoTime;
    this.lastSweepNanos = nanoTime.getAsLong();
  }

  /**
   * A transport that accepts connections on {@code listen} (null: dial out only) and dials the
   * endpoints it is asked to send to.
   */
  public static NioTcpTransport open(InetSocketAddress listen) throws IOException {
    return open(listen, System::nanoTime);
  }

  /** As {@link #open(InetSocketAddress)}, with the clock the dial backoff runs on (tests). */
  static NioTcpTransport open(InetSocketAddress listen, java.util.function.LongSupplier nanoTime) throws IOException {
    Selector selector = Selector.open();
    ServerSocketChannel server = null;
    try {
      if (listen != null) {
        server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        server.bind(listen);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
      }
      return new NioTcpTransport(selector, server, nanoTime);
    } catch (IOException | RuntimeException e) {
      selector.close();
      if (server != null) {
        server.close();
      }
      throw e;
    }
  }

  /** The listening address (with the port chosen when it was 0), or null when dialling only. */
  public InetSocketAddress localAddress() throws IOException {
    return server == null ? null : (InetSocketAddress) server.getLocalAddress();
  }

  @Override
  public void start(Receiver receiver) {
    this.receiver = receiver;
    thread = new Thread(() -> loop(receiver), "dctun-tcp");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop(Receiver receiver) {
    while (running) {
      try {
        selector.select(1000);
      } catch (IOException | ClosedSelectorException e) {
        if (running) {
          LOG.error("TCP transport: select failed; it stops receiving: {}", e.toString());
          receiver.failed(e);
        }
        break;
      }
      if (!running) {
        break;
      }
      for (Conn c; (c = toRegister.poll()) != null; ) {
        try {
          c.key = c.ch.register(selector, c.connected ? SelectionKey.OP_READ : SelectionKey.OP_CONNECT, c);
          if (c.connected) {
            c.drain();
          }
        } catch (IOException e) {
          closeConn(c, "register: " + e.getMessage());
        }
      }
      for (SelectionKey k : selector.selectedKeys()) {
        if (!k.isValid()) {
          continue;
        }
        try {
          if (k.isAcceptable()) {
            accept();
            continue;
          }
          Conn c = (Conn) k.attachment();
          if (k.isConnectable()) {
            finishConnect(c);
          }
          if (k.isValid() && k.isReadable()) {
            read(c);
          }
          if (k.isValid() && k.isWritable()) {
            c.drain();
          }
        } catch (RuntimeException e) {
          if (failureLog.allow()) { // a peer may be able to repeat it: once per 10 s
            LOG.warn("TCP transport: {}", e.toString());
          }
        }
      }
      selector.selectedKeys().clear();
      receiver.endOfBatch();
      long now = nanoTime.getAsLong();
      if (now - lastSweepNanos >= 1_000_000_000L) {
        lastSweepNanos = now;
        closeSilent(now);
        sweeps++; // selector thread only writes it
      }
    }
  }

  /** Closes what has been silent too long (see the class comment); selector thread, once a second. */
  private void closeSilent(long now) {
    for (Conn c : conns.values()) {
      String why = null;
      if (!c.connected && now - c.openedNanos >= StreamCounters.FIRST_MESSAGE_TIMEOUT_NANOS) {
        backoff.failed(c.endpoint);
        why = "not connected within 10 s";
      } else if (c.accepted && !c.framed && now - c.openedNanos >= StreamCounters.FIRST_MESSAGE_TIMEOUT_NANOS) {
        why = "no whole message within 10 s of accepting it";
      } else if (c.accepted && now - c.lastReadNanos >= StreamCounters.IDLE_TIMEOUT_NANOS) {
        why = "nothing received for 200 s";
      }
      if (why != null) {
        counters.timedOut();
        closeConn(c, why);
      }
    }
  }

  private void accept() {
    try {
      SocketChannel ch = server.accept();
      if (ch == null) {
        return;
      }
      if (conns.size() >= maxConnections) {
        ch.close();
        counters.refused(LOG, "TCP", maxConnections);
        return;
      }
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      StreamEndpoint ep = StreamEndpoint.tcp((InetSocketAddress) ch.getRemoteAddress());
      Conn c = new Conn(ep, ch, true, true, nanoTime.getAsLong());
      c.key = ch.register(selector, SelectionKey.OP_READ, c);
      Conn old = conns.put(ep, c);
      if (old != null) {
        closeConn(old, "replaced by a new connection");
      }
      counters.opened();
    } catch (IOException e) {
      LOG.debug("TCP accept: {}", e.getMessage());
    }
  }

  private void finishConnect(Conn c) {
    try {
      c.ch.finishConnect();
    } catch (IOException e) {
      backoff.failed(c.endpoint);
      closeConn(c, "connect: " + e.getMessage());
      return;
    }
    backoff.connected(c.endpoint);
    synchronized (c) {
      c.connected = true;
    }
    c.key.interestOps(SelectionKey.OP_READ);
    c.drain();
  }

  private void read(Conn c) {
    readBuf.clear();
    int n;
    try {
      n = c.ch.read(readBuf);
    } catch (IOException e) {
      closeConn(c, "read: " + e.getMessage());
      return;
    }
    if (n < 0) {
      closeConn(c, "closed by the peer");
      return;
    }
    c.lastReadNanos = nanoTime.getAsLong();
    try {
      c.in.feed(readBuf.array(), 0, n, c.sink);
    } catch (StreamFraming.FramingException e) {
      counters.framingError();
      closeConn(c, e.getMessage());
    }
  }

  private void closeConn(Conn c, String why) {
    conns.remove(c.endpoint, c);
    if (c.key != null) {
      c.key.cancel();
    }
    try {
      c.ch.close();
    } catch (IOException ignored) {
      // closing: nothing left to do
    }
    LOG.debug("TCP {} closed: {}", c.endpoint, why);
  }

  @Override
  public boolean carries(Endpoint to) {
    return to instanceof StreamEndpoint s && s.kind() == StreamEndpoint.Kind.TCP;
  }

  @Override
  public void send(Endpoint to, byte[] buf, int off, int len) {
    StreamEndpoint ep = (StreamEndpoint) to;
    if (!running || len <= 0 || len > StreamFraming.MAX_MESSAGE) {
      counters.sendFailed();
      return;
    }
    Conn c = conns.get(ep);
    if (c == null) {
      c = dial(ep);
      if (c == null) {
        counters.sendFailed();
        return;
      }
    }
    if (!c.enqueue(buf, off, len)) {
      counters.queueFull();
    }
  }

  private Conn dial(StreamEndpoint ep) {
    if (!backoff.mayDial(ep)) {
      return null;
    }
    synchronized (conns) {
      Conn c = conns.get(ep);
      if (c != null) {
        return c;
      }
      SocketChannel ch = null;
      try {
        ch = SocketChannel.open();
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        boolean now = ch.connect(ep.address());
        c = new Conn(ep, ch, now, false, nanoTime.getAsLong());
        conns.put(ep, c);
        counters.opened();
        toRegister.add(c);
        selector.wakeup();
        return c;
      } catch (IOException e) {
        backoff.failed(ep);
        if (ch != null) {
          try {
            ch.close();
          } catch (IOException ignored) {
            // already failing
          }
        }
        LOG.debug("TCP dial {}: {}", ep, e.getMessage());
        return null;
      }
    }
  }

  @Override
  public long sendErrors() {
    return counters.sendErrors();
  }

  /** Drops by reason and connections opened. */
  public StreamCounters counters() {
    return counters;
  }

  /** Connections open now. */
  public int connections() {
    return conns.size();
  }


  @Override
  public String kind() {
    return "tcp";
  }

  @Override
  public void close() throws IOException {
    running = false;
    selector.wakeup();
    Thread t = thread;
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (Conn c : conns.values()) {
      closeConn(c, "transport closed");
    }
    if (server != null) {
      server.close();
    }
    selector.close();
  }
}
