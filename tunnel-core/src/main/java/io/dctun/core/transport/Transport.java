package io.dctun.core.transport;

import java.io.Closeable;

/**
 * An outer carrier of WireGuard messages: UDP today, TCP or TLS later, an in-memory network in
 * tests. The model is wireguard-go's {@code conn.Bind}. The engine may hold several transports at
 * once and sends each message through the first one that {@link #carries} the peer's endpoint;
 * every endpoint a transport delivers, it carries.
 *
 * <p>Batches: a thread that calls {@link #beginBatch()} may have its sends held back until it
 * calls {@link #flush()}, so a batch read from the packet device leaves in as few system calls as
 * the transport can manage ({@code sendmmsg}, one write per TCP connection); sends from any other
 * thread go out at once. Receives arrive in batches too: {@link Receiver#onPacket} once per
 * message, then {@link Receiver#endOfBatch()}.
 *
 * <p>{@link #send} never keeps the caller's buffer past its return (it copies or sends), so the
 * caller may reuse it at once. Failures are counted ({@link #sendErrors()}), logged at a bounded
 * rate, and never thrown: a peer's path may be down and the protocol's timers deal with it.
 *
 * <p>Thread-safety: {@link #send} may be called from any thread; the receiver is called on the
 * transport's own thread(s).
 */
public interface Transport extends Closeable {

  /** Where received messages go; called on the transport's receive thread(s). */
  @FunctionalInterface
  interface Receiver {
    /** {@code buf} is reused for the next message: do not keep it. */
    void onPacket(byte[] buf, int off, int len, Endpoint from);

    /** The receive batch is over: what was sent in reply may be flushed. */
    default void endOfBatch() {}

    /**
     * The transport can no longer receive anything (its socket failed or was closed under it) and
     * will not call {@link #onPacket} again. Not called when {@link Transport#close()} stopped it.
     * The engine treats it as fatal (see {@code Engine}).
     */
    default void failed(Throwable cause) {}
  }

  /** Starts delivering messages to {@code receiver}. Called once. */
  void start(Receiver receiver);

  /** True if this transport can send to {@code to}. */
  boolean carries(Endpoint to);

  /** Sends one message to {@code to}; see the class comment for batching and failures. */
  void send(Endpoint to, byte[] buf, int off, int len);

  /** Marks the calling thread as one that calls {@link #flush()} after each batch. */
  default void beginBatch() {}

  /** Sends whatever the calling thread's batch holds. */
  default void flush() {}

  /** Messages that could not be sent. */
  long sendErrors();

  /**
   * Messages dropped because the transport's send queue was full. Every queue a transport keeps is
   * bounded; a full one drops (so TCP inside the tunnel sees the loss) rather than delaying every
   * packet behind it. Zero for a transport that sends in the caller's thread.
   */
  default long queueDrops() {
    return 0;
  }

  /** A short name for logs and status: "nio", "epoll", "memory", ... */
  String kind();

  /**
   * The largest message this transport receives whole (a longer one is cut short or dropped).
   * An engine refuses a transport whose limit is below its device's {@link
   * io.dctun.core.session.Device#maxMessageLength() largest message}: a large MTU would otherwise
   * fail only when large packets came, as decryption errors. The default suits a carrier that
   * reads into 64 KiB buffers.
   */
  default int maxMessageLength() {
    return StreamFraming.MAX_MESSAGE;
  }
}
