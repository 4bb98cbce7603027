package io.dctun.tun;

import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.core.transport.UdpTransport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * UDP over Netty: the native epoll transport where it loads (Linux x86_64 and aarch64), NIO
 * otherwise. One event-loop thread receives, with {@code recvmmsg} reading up to
 * {@link #RECV_BATCH} datagrams per system call, and hands each to the {@link Receiver} on that
 * thread. Sends from a batching thread (the engine's TUN readers) are collected and written by
 * one event-loop task per batch, which epoll sends with one {@code sendmmsg}.
 *
 * <pre>
 *   TUN thread: send, send, ... send, flush --(one task)--> event loop: write x n, flush -> sendmmsg
 *   event loop: recvmmsg -> DatagramPacket x n -> copy to heap buffer -> Receiver (open in place)
 * </pre>
 *
 * Buffers: received datagrams arrive in pooled direct buffers and are copied once into the
 * event loop's heap buffer (the JDK cipher works fastest on heap arrays); sends copy once into a
 * pooled direct buffer. Every ByteBuf is released by the code that took it, on failure too.
 */
public final class NettyUdpTransport implements UdpTransport {
  private static final Logger LOG = LoggerFactory.getLogger(NettyUdpTransport.class);
  public static final int RECV_BATCH = 32;
  /**
   * The MTU the default receive slots are sized for: jumbo frames, the largest the appliance's
   * configuration accepts. A slot of 2 KiB, as before, cut every message of an MTU above ~2000
   * short, and it then failed to decrypt.
   */
  public static final int DEFAULT_SLOT_MTU = 9000;
  /** The default receive slot: the largest message of a device with {@link #DEFAULT_SLOT_MTU}. */
  public static final int DEFAULT_MAX_DATAGRAM = io.dctun.core.session.Device.maxMessageLength(DEFAULT_SLOT_MTU);
  /** What one UDP datagram can hold at most (65535 less the IPv4 and UDP headers). */
  private static final int UDP_MAX_PAYLOAD = 65_507;

  private final EventLoopGroup group;
  private final Channel channel;
  private final boolean epoll;
  private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
  private final AtomicLong sendErrors = new AtomicLong();
  private final ThreadLocal<List<DatagramPacket>> pending = new ThreadLocal<>();
  private volatile Receiver receiver;
  private volatile long lastErrorLog = Long.MIN_VALUE;

  private final InetAddress bound;
  private final int maxDatagram;

  private NettyUdpTransport(EventLoopGroup group, Channel channel, boolean epoll, InetAddress bound, int maxDatagram) {
    this.group = group;
    this.channel = channel;
    this.epoll = epoll;
    this.bound = bound;
    this.maxDatagram = maxDatagram;
  }

  /** True if the native epoll transport loads on this machine. */
  public static boolean epollAvailable() {
    return Epoll.isAvailable();
  }

  /**
   * Binds {@code address:port} (null = all addresses, 0 = an ephemeral port). Nothing is read
   * until {@link #start}.
   */
  public static NettyUdpTransport bind(InetAddress address, int port) throws IOException {
    return bind(address, port, false);
  }

  /**
   * As {@link #bind(InetAddress, int)}; with {@code freebind} the socket is bound with {@code
   * IP_FREEBIND}, so it may bind an address this host does not (yet) own, such as a VRRP virtual
   * address while this box is the backup. Needs the native epoll transport.
   */
  public static NettyUdpTransport bind(InetAddress address, int port, boolean freebind) throws IOException {
    return bind(address, port, freebind, DEFAULT_MAX_DATAGRAM);
  }

  /**
   * As {@link #bind(InetAddress, int, boolean)}, with receive slots of {@code maxDatagram} bytes:
   * {@link io.dctun.core.session.Device#maxMessageLength()} of the device it carries for (the
   * default suits every MTU up to {@link #DEFAULT_SLOT_MTU}). Allocated once per read of {@link
   * #RECV_BATCH} datagrams from Netty's pool, never per packet.
   */
  public static NettyUdpTransport bind(InetAddress address, int port, boolean freebind, int maxDatagram)
      throws IOException {
    if (maxDatagram < io.dctun.crypto.WireFormat.INITIATION_LENGTH || maxDatagram > UDP_MAX_PAYLOAD) {
      throw new IllegalArgumentException("receive slot must be " + io.dctun.crypto.WireFormat.INITIATION_LENGTH + ".."
          + UDP_MAX_PAYLOAD + " bytes, got " + maxDatagram);
    }
    boolean epoll = Epoll.isAvailable();
    if (freebind && !epoll) {
      throw new IOException("IP_FREEBIND needs Netty's native epoll transport, which is unavailable: "
          + Epoll.unavailabilityCause());
    }
    if (!epoll) {
      LOG.info("native epoll unavailable ({}); UDP uses NIO", Epoll.unavailabilityCause().toString());
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
        r -> {
          Thread t = new Thread(r, "dctun-udp-loop");
          t.setDaemon(true);
          return t;
        },
        epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    Bootstrap b = new Bootstrap().group(group)
        .channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
        .option(ChannelOption.SO_RCVBUF, 4 << 20)
        .option(ChannelOption.SO_SNDBUF, 4 << 20)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {}
        });
    if (epoll) {
      // With a payload size set, epoll reads with recvmmsg: as many datagrams per call as fit.
      b.option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, maxDatagram)
          .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(maxDatagram * RECV_BATCH));
    } else {
      b.option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(65536));
    }
    if (freebind) {
      b.option(EpollChannelOption.IP_FREEBIND, true);
    }
    InetSocketAddress local = new InetSocketAddress(address, port);
    try {
      Channel ch = b.bind(local).sync().channel();
      return new NettyUdpTransport(group, ch, epoll, address, epoll ? maxDatagram : 65536);
    } catch (Exception e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot bind UDP " + (address == null ? "*" : address.getHostAddress()) + ":" + port
          + ": " + e.getMessage(), e);
    }
  }

  /**
   * Sends two datagrams to itself over loopback through a throwaway transport (127.0.0.1, an
   * ephemeral port, closed before returning), one from this thread alone and one as a batch,
   * so that the send path's classes are loaded and initialised. An HA backup's transport never
   * sends until it takes over; measured here, its first send then took 80 ms, in the middle of
   * the failover. Nothing leaves the host. Returns whether both arrived within 2 s; false (and
   * nothing done) if the loopback interface is not up.
   */
  public static boolean warmUp() {
    InetAddress lo;
    try {
      lo = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
      java.net.NetworkInterface nif = java.net.NetworkInterface.getByInetAddress(lo);
      if (nif == null || !nif.isUp()) {
        return false;
      }
    } catch (IOException e) {
      return false;
    }
    NettyUdpTransport t;
    try {
      t = bind(lo, 0);
    } catch (IOException e) {
      LOG.debug("UDP warm-up: {}", e.getMessage());
      return false;
    }
    try {
      java.util.concurrent.CountDownLatch got = new java.util.concurrent.CountDownLatch(2);
      t.start((buf, off, len, from) -> got.countDown());
      byte[] d = new byte[148];
      InetSocketAddress self = t.localAddress();
      UdpEndpoint to = UdpEndpoint.of(self);
      t.send(to, d, 0, d.length);
      t.beginBatch();
      t.send(to, d, 0, d.length);
      t.flush();
      return got.await(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      t.close();
    }
  }

  @Override
  public InetSocketAddress localAddress() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public InetAddress boundAddress() {
    return bound;
  }

  @Override
  public void start(Receiver r) {
    this.receiver = r;
    channel.pipeline().addLast(new Inbound());
    channel.config().setAutoRead(true);
  }

  /** Copies each datagram into one reused heap buffer and hands it on; releases the packet. */
  private final class Inbound extends SimpleChannelInboundHandler<DatagramPacket> {
    private final byte[] buf = new byte[65536];
    private UdpEndpoint last;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      ByteBuf c = p.content();
      int n = Math.min(c.readableBytes(), buf.length);
      c.getBytes(c.readerIndex(), buf, 0, n);
      last = UdpTransport.endpoint(last, p.sender());
      try {
        receiver.onPacket(buf, 0, n, last);
      } catch (RuntimeException e) {
        LOG.error("bug on the inbound path (datagram from {} dropped)", p.sender(), e);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      // Replies written while handling the batch (handshake responses) go out together.
      ctx.flush();
      receiver.endOfBatch();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.warn("UDP: {}", cause.toString());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      // Netty closes a datagram channel whose read failed for good: nothing arrives any more.
      if (!closing) {
        LOG.error("UDP socket closed under the transport; the tunnel stops receiving");
        receiver.failed(new java.io.IOException("UDP socket " + bound + " closed under the transport"));
      }
    }
  }

  @Override
  public void send(Endpoint to, byte[] buf, int off, int len) {
    ByteBuf b = alloc.directBuffer(len);
    b.writeBytes(buf, off, len);
    DatagramPacket p = new DatagramPacket(b, to.address());
    EventLoop loop = channel.eventLoop();
    if (loop.inEventLoop()) {
      channel.write(p, channel.voidPromise()); // flushed at channelReadComplete
      return;
    }
    List<DatagramPacket> batch = pending.get();
    if (batch != null) {
      batch.add(p);
      return;
    }
    channel.writeAndFlush(p).addListener(f -> {
      if (!f.isSuccess()) {
        sendFailed(to.address(), f.cause());
      }
    });
  }

  @Override
  public void beginBatch() {
    if (pending.get() == null) {
      pending.set(new ArrayList<>(64));
    }
  }

  @Override
  public void flush() {
    List<DatagramPacket> batch = pending.get();
    if (batch == null || batch.isEmpty()) {
      return;
    }
    DatagramPacket[] out = batch.toArray(new DatagramPacket[0]);
    batch.clear();
    try {
      channel.eventLoop().execute(() -> {
        for (DatagramPacket p : out) {
          channel.write(p, channel.voidPromise());
        }
        channel.flush();
      });
    } catch (RuntimeException e) { // the loop is shutting down: release what it will never send
      for (DatagramPacket p : out) {
        p.release();
      }
      sendFailed(null, e);
    }
  }

  private void sendFailed(InetSocketAddress to, Throwable cause) {
    sendErrors.incrementAndGet();
    long now = System.nanoTime();
    if (lastErrorLog == Long.MIN_VALUE || now - lastErrorLog > 10_000_000_000L) {
      lastErrorLog = now;
      LOG.warn("UDP send{} failed: {} ({} send errors in all)", to == null ? "" : " to " + to, cause.toString(),
          sendErrors.get());
    }
  }

  @Override
  public long sendErrors() {
    return sendErrors.get();
  }

  @Override
  public String kind() {
    return epoll ? "epoll" : "netty-nio";
  }

  private volatile boolean closing;

  /** The receive slot: a longer datagram is cut short by {@code recvmmsg}. */
  @Override
  public int maxMessageLength() {
    return Math.min(maxDatagram, UDP_MAX_PAYLOAD);
  }

  @Override
  public void close() {
    closing = true;
    try {
      channel.close().await(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
  }
}
