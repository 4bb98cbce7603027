package io.dctun.core.session;

import io.dctun.core.transport.Endpoint;

/**
 * Where a {@link Device}'s decisions go. The device calls these synchronously from whichever
 * thread gave it the input; it does no I/O itself. Implementations must not keep the buffer
 * after returning: it is reused for the next packet.
 */
public interface Output {
  /** Send {@code buf[off..off+len)} as one message to {@code endpoint}, through the transport that carries it. */
  void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len);

  /** Write the inner IP packet {@code buf[off..off+len)} to the packet device. */
  void deliverToDevice(byte[] buf, int off, int len);
}
