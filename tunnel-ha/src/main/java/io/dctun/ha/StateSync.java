package io.dctun.ha;

import io.dctun.core.session.Device;
import io.dctun.firewall.Firewall;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.security.SecureRandom;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state sync's driver: a UDP socket on the private segment and two threads around a {@link
 * SyncSession}, which decides what to send and what to apply ({@link SyncCodec} has the bytes).
 *
 * <pre>
 *  "dctun-sync-tx": every 50 ms  session.poll(now, wall)  -> channel.send(twin)   (only the master's sends)
 *  "dctun-sync-rx": channel.receive                      -> session.receive(now, wall)
 * </pre>
 *
 * Both boxes run both threads. The wall clock in headers and the freshness check is the host's;
 * {@code nanoTime} (the tunnel's clock) paces the sender and stamps twin reports.
 */
public final class StateSync implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StateSync.class);

  private final DatagramChannel channel;
  private final InetSocketAddress twin;
  private final SyncSession session;
  private final LongSupplier nanoTime;
  private volatile boolean running = true;
  private final Thread tx;
  private final Thread rx;

  private StateSync(DatagramChannel channel, InetSocketAddress twin, SyncSession session, LongSupplier nanoTime) {
    this.channel = channel;
    this.twin = twin;
    this.session = session;
    this.nanoTime = nanoTime;
    this.tx = new Thread(this::sendLoop, "dctun-sync-tx");
    this.rx = new Thread(this::receiveLoop, "dctun-sync-rx");
    tx.setDaemon(true);
    rx.setDaemon(true);
  }

  /**
   * Binds {@code local} (an address on the private segment: nothing listens on a public
   * address) and starts receiving; sending starts with {@link #setSending(boolean)}.
   *
   * @param key32 the shared sync key, e.g. {@code privateKey.deriveSecret("dctun ha state sync v1")}
   */
  public static StateSync start(InetSocketAddress local, InetSocketAddress twin, byte[] key32, Firewall firewall,
      long bytesPerSecond, LongSupplier nanoTime) throws IOException {
    return start(local, twin, key32, firewall, null, bytesPerSecond, nanoTime);
  }

  /**
   * As above, also streaming handshake timestamps of {@code device}'s peers (either of
   * {@code firewall} and {@code device} may be null).
   */
  public static StateSync start(InetSocketAddress local, InetSocketAddress twin, byte[] key32, Firewall firewall,
      Device device, long bytesPerSecond, LongSupplier nanoTime) throws IOException {
    SyncSession session = new SyncSession(key32, new SecureRandom().nextLong(), firewall, device, bytesPerSecond);
    DatagramChannel ch = DatagramChannel.open(local.getAddress() instanceof Inet6Address
        ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
    try {
      ch.bind(local);
    } catch (IOException e) {
      ch.close();
      throw new IOException("state sync: cannot bind " + local + ": " + e.getMessage(), e);
    }
    StateSync s = new StateSync(ch, twin, session, nanoTime);
    s.rx.start();
    s.tx.start();
    return s;
  }

  /** The state machine this driver runs (counters, twin reports). */
  public SyncSession session() {
    return session;
  }

  /** What the master reports of its own tunnel once a second (null: nothing). */
  public void setHealthSource(Supplier<TunnelHealth> source) {
    session.setHealthSource(source);
  }

  /** The twin's last health report, or null if none has arrived. */
  public SyncSession.TwinReport twinHealth() {
    return session.twinHealth();
  }

  /** Master: stream state to the twin. Turning it on resends the whole table once. */
  public void setSending(boolean on) {
    session.setSending(on);
  }

  public boolean isSending() {
    return session.isSending();
  }

  public InetSocketAddress localAddress() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
  }

  private void sendLoop() {
    ByteBuffer b = ByteBuffer.allocate(SyncCodec.MAX_DATAGRAM);
    SyncSession.Sender out = (buf, off, len) -> {
      b.clear();
      b.put(buf, off, len).flip();
      try {
        channel.send(b, twin);
      } catch (ClosedChannelException e) {
        running = false;
      } catch (IOException e) {
        LOG.debug("state sync send to {} failed: {}", twin, e.getMessage());
      }
    };
    while (running) {
      try {
        Thread.sleep(SyncSession.TICK_NANOS / 1_000_000);
      } catch (InterruptedException e) {
        return;
      }
      try {
        session.poll(nanoTime.getAsLong(), System.currentTimeMillis(), out);
      } catch (RuntimeException e) {
        LOG.error("bug in the state sync sender", e); // the next tick still runs
      }
    }
  }

  /** Socket errors and datagrams that could not be applied: counted, logged at most every 10 s, never fatal. */
  private final io.dctun.core.engine.ErrorBudget socketErrors =
      new io.dctun.core.engine.ErrorBudget("state sync receive (socket)", Integer.MAX_VALUE, LOG);
  private final io.dctun.core.engine.ErrorBudget datagramErrors =
      new io.dctun.core.engine.ErrorBudget("state sync receive (applying a datagram)", Integer.MAX_VALUE, LOG);

  /**
   * Receives until closed. A socket error is counted, logged at most every 10 s (the engine's
   * {@link io.dctun.core.engine.ErrorBudget}), and retried after a backoff that grows from 10 ms to
   * 1 s (no spinning on a socket that keeps failing); a bug on one datagram is counted and logged
   * the same way, and the next datagram is taken: the thread only ends with the channel.
   */
  private void receiveLoop() {
    ByteBuffer b = ByteBuffer.allocate(SyncCodec.MAX_DATAGRAM + 1); // longer: truncated, refused as OVERSIZED
    long backoffMillis = 0;
    while (running) {
      try {
        b.clear();
        channel.receive(b);
        backoffMillis = 0;
        socketErrors.ok();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        session.countReceiveError(); // the pair's status reads the session
        socketErrors.failed(e, System.nanoTime());
        backoffMillis = Math.min(1_000, Math.max(10, backoffMillis * 2));
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException ie) {
          return;
        }
        continue;
      }
      try {
        accept(b.array(), b.position());
        datagramErrors.ok();
      } catch (RuntimeException e) {
        session.countReceiveError();
        datagramErrors.failed(e, System.nanoTime());
      }
    }
  }

  /** Receive failures counted by the receiving thread (socket errors and datagrams it could not apply). */
  public long receiveErrors() {
    return session.receiveErrors();
  }

  /** Verifies and applies one datagram now; package-private for tests. */
  boolean accept(byte[] d, int len) {
    return session.receive(d, len, nanoTime.getAsLong(), System.currentTimeMillis());
  }

  public long flowsSent() {
    return session.flowsSent();
  }

  public long fullResends() {
    return session.fullResends();
  }

  public long flowsReceived() {
    return session.flowsReceived();
  }

  /** Flows the twin sent that the local table had no room for (or were already expired). */
  public long flowsRefused() {
    return session.drops(SyncDrop.FLOW_REFUSED);
  }

  public long timestampsSent() {
    return session.timestampsSent();
  }

  public long timestampsReceived() {
    return session.timestampsReceived();
  }

  public long healthReceived() {
    return session.healthReceived();
  }

  public long badMac() {
    return session.drops(SyncDrop.BAD_MAC);
  }

  /** Replayed or outside the clock-skew window. */
  public long stale() {
    return session.drops(SyncDrop.REPLAYED) + session.drops(SyncDrop.CLOCK_SKEW);
  }

  public long malformed() {
    return session.drops(SyncDrop.MALFORMED);
  }

  /** This box's own datagrams sent back to it. */
  public long reflected() {
    return session.drops(SyncDrop.REFLECTED);
  }

  /** Longer than {@link SyncCodec#MAX_DATAGRAM} (a longer one arrives truncated to one byte more). */
  public long oversized() {
    return session.drops(SyncDrop.OVERSIZED);
  }

  @Override
  public void close() {
    running = false;
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("closing state sync: {}", e.getMessage());
    }
    tx.interrupt();
    try {
      tx.join(1000);
      rx.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "StateSync[twin=" + twin + ", sending=" + session.isSending() + "]";
  }
}
