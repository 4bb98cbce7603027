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
 *
 * <p>The send queue is bounded: at most {@link #sendQueueBytes()} bytes may wait between the
 * threads that send and the socket (handed to the event loop, or in Netty's outbound buffer
 * because the socket would block). A send beyond that is dropped and counted ({@link
 * #queueDrops()}), as a full interface queue drops: TCP inside the tunnel sees the loss and slows
 * down, where an unbounded queue let it fill the queue instead and every packet behind it waited
 * (measured: 14.5 ms of RTT under one TCP stream, against wireguard-go's 4.7).
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
  /**
   * The default bound of the send queue: 256 KiB, about two milliseconds at 1 Gbit/s and room for
   * several TUN read batches. {@code -Ddctun.udp.sendQueueBytes=N} overrides it (for measurement).
   */
  public static final int DEFAULT_SEND_QUEUE_BYTES = 256 << 10;
  /**
   * The socket's receive buffer (SO_RCVBUF; the kernel doubles it for its bookkeeping, and caps
   * it at net.core.rmem_max).
   */
  public static final int DEFAULT_RECEIVE_BUFFER_BYTES = 4 << 20;
  /** What one UDP datagram can hold at most (65535 less the IPv4 and UDP headers). */
  private static final int UDP_MAX_PAYLOAD = 65_507;

  private final EventLoopGroup group;
  private final Channel channel;
  private final boolean epoll;
  private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
  private final AtomicLong sendErrors = new AtomicLong();
  private final ThreadLocal<Batch> pending = new ThreadLocal<>();
  /** Bytes handed to the event loop in batches it has not yet written. */
  private final AtomicLong handedOff = new AtomicLong();
  private final AtomicLong queueDrops = new AtomicLong();
  private final int sendQueueBytes;
  private final io.dctun.core.LogLimiter dropLog = new io.dctun.core.LogLimiter();

  /** One sending thread's batch: the datagrams and their bytes. */
  private static final class Batch {
    final List<DatagramPacket> packets = new ArrayList<>(64);
    long bytes;
  }
  private volatile Receiver receiver;
  private final io.dctun.core.LogLimiter errorLog = new io.dctun.core.LogLimiter();

  private final InetAddress bound;
  private final int maxDatagram;

  private NettyUdpTransport(EventLoopGroup group, Channel channel, boolean epoll, InetAddress bound, int maxDatagram) {
    this.group = group;
    this.channel = channel;
    this.epoll = epoll;
    this.bound = bound;
    this.maxDatagram = maxDatagram;
    this.sendQueueBytes = Integer.getInteger("dctun.udp.sendQueueBytes", DEFAULT_SEND_QUEUE_BYTES);
    if (sendQueueBytes < 2 * UDP_MAX_PAYLOAD) {
      throw new IllegalArgumentException("dctun.udp.sendQueueBytes must be at least " + 2 * UDP_MAX_PAYLOAD
          + ", got " + sendQueueBytes);
    }
    // Netty's own part of the queue (what the socket did not take yet) counts against the bound.
    channel.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(sendQueueBytes / 2, sendQueueBytes));
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
        .option(ChannelOption.SO_RCVBUF, Integer.getInteger("dctun.udp.receiveBufferBytes", DEFAULT_RECEIVE_BUFFER_BYTES))
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
    EventLoop loop = channel.eventLoop();
    boolean inLoop = loop.inEventLoop();
    Batch batch = inLoop ? null : pending.get();
    if (!inLoop && queueFull(batch == null ? len : batch.bytes + len)) {
      dropped(len);
      return;
    }
    ByteBuf b = alloc.directBuffer(len);
    b.writeBytes(buf, off, len);
    DatagramPacket p = new DatagramPacket(b, to.address());
    if (inLoop) {
      channel.write(p, channel.voidPromise()); // flushed at channelReadComplete
      return;
    }
    if (batch != null) {
      batch.packets.add(p);
      batch.bytes += len;
      return;
    }
    channel.writeAndFlush(p).addListener(f -> {
      if (!f.isSuccess()) {
        sendFailed(to.address(), f.cause());
      }
    });
  }

  /**
   * True if {@code more} bytes would take the queue past its bound: what earlier batches handed to
   * the event loop and it has not written yet, plus Netty's outbound buffer (unwritable once the
   * socket has left it holding {@link #sendQueueBytes()}).
   */
  private boolean queueFull(long more) {
    return handedOff.get() + more > sendQueueBytes || !channel.isWritable();
  }

  private void dropped(int len) {
    long n = queueDrops.incrementAndGet();
    if (dropLog.allow()) {
      LOG.info("UDP send queue full ({} bytes): dropping ({} dropped in all; the path or this host is slower than the traffic)",
          sendQueueBytes, n);
    }
  }

  @Override
  public void beginBatch() {
    if (pending.get() == null) {
      pending.set(new Batch());
    }
  }

  @Override
  public void flush() {
    Batch batch = pending.get();
    if (batch == null || batch.packets.isEmpty()) {
      return;
    }
    DatagramPacket[] out = batch.packets.toArray(new DatagramPacket[0]);
    long bytes = batch.bytes;
    batch.packets.clear();
    batch.bytes = 0;
    handedOff.addAndGet(bytes);
    try {
      channel.eventLoop().execute(() -> {
        try {
          for (DatagramPacket p : out) {
            channel.write(p, channel.voidPromise());
          }
          channel.flush();
        } finally {
          handedOff.addAndGet(-bytes); // now in the socket, or in Netty's buffer (counted by isWritable)
        }
      });
    } catch (RuntimeException e) { // the loop is shutting down: release what it will never send
      handedOff.addAndGet(-bytes);
      for (DatagramPacket p : out) {
        p.release();
      }
      sendFailed(null, e);
    }
  }

  /** For tests: the event loop that writes this transport's sends (a task blocking it holds them). */
  EventLoop eventLoop() {
    return channel.eventLoop();
  }

  /** The bound of the send queue, in bytes. */
  public int sendQueueBytes() {
    return sendQueueBytes;
  }

  /** Messages dropped because the send queue was full. */
  @Override
  public long queueDrops() {
    return queueDrops.get();
  }

  private void sendFailed(InetSocketAddress to, Throwable cause) {
    sendErrors.incrementAndGet();
    if (errorLog.allow()) {
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
