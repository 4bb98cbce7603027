package io.dctun.core.engine;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The outer transport: UDP datagrams to and from peers' endpoints. The transport owns its
 * receive thread(s) and pushes each datagram to a {@link Receiver}; sends may be batched.
 *
 * <p>Batching: a thread that marks itself with {@link #beginBatch()} may have its sends held
 * back until it calls {@link #flush()} (so a batch read from the TUN leaves in one system call
 * where the transport supports it); sends from any other thread go out at once.
 *
 * <p>Thread-safety: {@link #send} may be called from any thread.
 */
public interface UdpTransport extends Closeable {

  /** Where received datagrams go; called on the transport's receive thread. */
  @FunctionalInterface
  interface Receiver {
    /** {@code buf} is reused for the next datagram: do not keep it. */
    void onDatagram(byte[] buf, int off, int len, InetSocketAddress from);
  }

  /** The local address and port datagrams arrive on. */
  InetSocketAddress localAddress() throws IOException;

  /** Starts delivering datagrams to {@code receiver}. Called once. */
  void start(Receiver receiver);

  /** Sends one datagram; failures are counted, not thrown (a peer's path may be down). */
  void send(InetSocketAddress to, byte[] buf, int off, int len);

  /** Marks the calling thread as one that calls {@link #flush()} after each batch. */
  default void beginBatch() {}

  /** Sends whatever the calling thread's batch holds. */
  default void flush() {}

  /** Datagrams that could not be sent. */
  long sendErrors();

  /** A short name for logs: "nio", "epoll", ... */
  String kind();
}
