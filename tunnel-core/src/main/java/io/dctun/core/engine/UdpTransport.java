package io.dctun.core.engine;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The outer transport: UDP datagrams to and from peers' endpoints.
 *
 * <p>Thread-safety: {@link #send} may be called from any thread; {@link #receive} from one
 * thread at a time.
 */
public interface UdpTransport extends Closeable {
  /** The local address and port datagrams arrive on. */
  InetSocketAddress localAddress() throws IOException;

  /**
   * Blocks for one datagram, written to {@code buf} at {@code off}.
   *
   * @return the sender, or null once the transport is closed; the length is in {@link #lastLength()}
   */
  InetSocketAddress receive(byte[] buf, int off, int maxLength) throws IOException;

  /** Length of the datagram the calling thread's last {@link #receive} returned. */
  int lastLength();

  /** Sends one datagram; failures are counted, not thrown (a peer's path may be down). */
  void send(InetSocketAddress to, byte[] buf, int off, int len);

  /** Datagrams that could not be sent. */
  long sendErrors();
}
