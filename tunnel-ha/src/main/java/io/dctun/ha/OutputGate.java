package io.dctun.ha;

import io.dctun.core.session.Output;
import io.dctun.core.transport.Endpoint;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A tunnel's {@link Output} with a switch in front of the network side, closed until the box is
 * master of its pair. Both boxes run the whole protocol (timers, handshake state); only the
 * master's datagrams leave, so the remote peers hear one box at a time from the shared VIP.
 * Packets to the local packet device always pass.
 *
 * <p>Thread-safety: any thread; a send racing a switch goes either way.
 */
public final class OutputGate implements Output {
  private final Output inner;
  private volatile boolean open;
  private final AtomicLong muted = new AtomicLong();

  /** A closed gate in front of {@code inner}. */
  public OutputGate(Output inner) {
    this.inner = Objects.requireNonNull(inner, "inner");
  }

  @Override
  public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {
    if (open) {
      inner.sendToNetwork(endpoint, buf, off, len);
    } else {
      muted.incrementAndGet();
    }
  }

  @Override
  public void deliverToDevice(byte[] buf, int off, int len) {
    inner.deliverToDevice(buf, off, len);
  }

  public void open() {
    open = true;
  }

  public void close() {
    open = false;
  }

  public boolean isOpen() {
    return open;
  }

  /** Datagrams the tunnel produced while the gate was closed. */
  public long mutedSends() {
    return muted.get();
  }
}
