package io.dctun.core.transport;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The counters of a stream transport (TCP, TLS): what it could not send and why, connections
 * opened, and streams closed for not being framed WireGuard. One set of names for both carriers.
 *
 * <p>Thread-safety: safe for concurrent use.
 */
public final class StreamCounters {
  private final AtomicLong sendErrors = new AtomicLong();
  private final AtomicLong queueFull = new AtomicLong();
  private final AtomicLong framingErrors = new AtomicLong();
  private final AtomicLong opened = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong timedOut = new AtomicLong();
  private final io.dctun.core.LogLimiter refusedLog = new io.dctun.core.LogLimiter();

  /**
   * The most connections a stream transport holds at once (dialled and accepted): each costs
   * buffers (about 100 KiB with TLS), so an attacker who can reach the listener must not be able
   * to open them without limit. Far above what a gateway's TCP-fallback peers need.
   */
  public static final int MAX_CONNECTIONS = 1024;

  /**
   * An accepted connection that has not carried one whole message within this time is closed: the
   * listener is reachable by anyone, and a silent connection would otherwise hold one of the
   * {@link #MAX_CONNECTIONS} slots for ever. The same bound closes a dial that has not connected.
   */
  public static final long FIRST_MESSAGE_TIMEOUT_NANOS = 10_000_000_000L;

  /**
   * An accepted connection on which nothing has arrived for this long is closed. A live WireGuard
   * session is never this quiet: whoever receives data answers within 10 s (passive keepalive), and
   * after 180 s without a handshake the session is dead anyway; the peer that dialled dials again on
   * its next send.
   */
  public static final long IDLE_TIMEOUT_NANOS = 200_000_000_000L;

  /** A message that could not be sent (no connection, a dial in backoff, a bad length). */
  public void sendFailed() {
    sendErrors.incrementAndGet();
  }

  /** A message dropped because its connection's bounded send buffer was full (a send error too). */
  public void queueFull() {
    queueFull.incrementAndGet();
    sendErrors.incrementAndGet();
  }

  /** A stream closed because it was not length-prefixed WireGuard messages. */
  public void framingError() {
    framingErrors.incrementAndGet();
  }

  /**
   * An incoming connection closed at once because {@code limit} (normally {@link
   * #MAX_CONNECTIONS}) were open; logs at most every 10 s (the rate is the attacker's).
   */
  public void refused(org.slf4j.Logger log, String kind, int limit) {
    long n = refused.incrementAndGet();
    if (refusedLog.allow()) {
      log.warn("{}: {} connections open, refusing more ({} refused in all)", kind, limit, n);
    }
  }

  /** Incoming connections refused because the transport held {@link #MAX_CONNECTIONS}. */
  public long connectionsRefused() {
    return refused.get();
  }

  /** A connection closed for silence: no first message, no connect, or idle (see the timeouts above). */
  public void timedOut() {
    timedOut.incrementAndGet();
  }

  /** Connections closed by {@link #FIRST_MESSAGE_TIMEOUT_NANOS} or {@link #IDLE_TIMEOUT_NANOS}. */
  public long connectionsTimedOut() {
    return timedOut.get();
  }

  /** A connection dialled or accepted. */
  public void opened() {
    opened.incrementAndGet();
  }

  /** Messages that could not be sent, for whatever reason. */
  public long sendErrors() {
    return sendErrors.get();
  }

  /** Messages dropped because their connection's send buffer was full. */
  public long queueFullDrops() {
    return queueFull.get();
  }

  /** Connections closed because the stream was not length-prefixed WireGuard messages. */
  public long framingErrors() {
    return framingErrors.get();
  }

  /** Connections opened (dialled or accepted) since start. */
  public long connectionsOpened() {
    return opened.get();
  }

  /**
   * Every counter, for a program that prints what it reads: {@code StreamCounters[opened=3,
   * refused=0, timed-out=1, send-errors=2 (queue-full 1), framing-errors=0]}.
   */
  @Override
  public String toString() {
    return "StreamCounters[opened=" + opened.get() + ", refused=" + refused.get() + ", timed-out=" + timedOut.get()
        + ", send-errors=" + sendErrors.get() + " (queue-full " + queueFull.get() + "), framing-errors="
        + framingErrors.get() + "]";
  }
}
