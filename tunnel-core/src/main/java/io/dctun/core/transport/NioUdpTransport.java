package io.dctun.core.transport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * UDP over a blocking {@link DatagramChannel}, one datagram per system call, with one receive
 * thread. Each sending thread wraps its packet buffer in a heap {@link ByteBuffer} once and
 * reuses it, so steady-state sends and receives allocate only the sender address the JDK
 * returns for each received datagram. Pure JDK: works wherever Java does.
 */
public final class NioUdpTransport implements UdpTransport {
  private static final Logger LOG = LoggerFactory.getLogger(NioUdpTransport.class);

  private final DatagramChannel channel;
  private final AtomicLong sendErrors = new AtomicLong();
  private final ThreadLocal<Wrapped> wrapped = ThreadLocal.withInitial(Wrapped::new);
  private final io.dctun.core.LogLimiter errorLog = new io.dctun.core.LogLimiter();

  private static final class Wrapped {
    byte[] array;
    ByteBuffer buffer;

    ByteBuffer of(byte[] a) {
      if (a != array) {
        array = a;
        buffer = ByteBuffer.wrap(a);
      }
      return buffer;
    }
  }

  private final InetAddress bound;

  private NioUdpTransport(DatagramChannel channel, InetAddress bound) {
    this.channel = channel;
    this.bound = bound;
  }

  /**
   * Binds to {@code address:port}; a null address binds all addresses, a port of 0 an ephemeral
   * port (a gateway that only dials out).
   */
  public static NioUdpTransport bind(InetAddress address, int port) throws IOException {
    DatagramChannel ch = address instanceof java.net.Inet4Address
        ? DatagramChannel.open(StandardProtocolFamily.INET)
        : DatagramChannel.open();
    try {
      ch.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
      ch.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
      ch.bind(new InetSocketAddress(address, port));
    } catch (IOException e) {
      ch.close();
      throw new IOException("cannot bind UDP " + (address == null ? "*" : address.getHostAddress()) + ":" + port
          + ": " + e.getMessage(), e);
    }
    return new NioUdpTransport(ch, address);
  }

  @Override
  public InetSocketAddress localAddress() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
  }

  @Override
  public InetAddress boundAddress() {
    return bound;
  }

  @Override
  public void start(Receiver receiver) {
    Thread t = new Thread(() -> receiveLoop(receiver), "dctun-udp");
    t.setDaemon(true);
    t.start();
  }

  private void receiveLoop(Receiver receiver) {
    byte[] buf = new byte[65536];
    ByteBuffer b = ByteBuffer.wrap(buf);
    UdpEndpoint last = null;
    while (channel.isOpen()) {
      InetSocketAddress from;
      try {
        b.clear();
        from = (InetSocketAddress) channel.receive(b);
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (channel.isOpen()) {
          LOG.error("UDP receive failed; the tunnel stops receiving: {}", e.getMessage());
          receiver.failed(e);
        }
        return;
      }
      last = UdpTransport.endpoint(last, from);
      try {
        receiver.onPacket(buf, 0, b.position(), last);
        receiver.endOfBatch();
      } catch (RuntimeException e) {
        // A bug must not stop the receive loop; this datagram is lost, the next is processed.
        LOG.error("bug on the inbound path (datagram from {} dropped)", from, e);
      }
    }
  }

  @Override
  public String kind() {
    return "nio";
  }

  @Override
  public void send(Endpoint to, byte[] buf, int off, int len) {
    ByteBuffer b = wrapped.get().of(buf);
    b.limit(off + len).position(off);
    try {
      channel.send(b, to.address());
    } catch (IOException e) {
      sendErrors.incrementAndGet();
      if (errorLog.allow()) {
        LOG.warn("UDP send to {} failed: {} ({} send errors in all)", to, e.getMessage(), sendErrors.get());
      }
    }
  }

  @Override
  public long sendErrors() {
    return sendErrors.get();
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
