package io.dctun.tun;

import io.dctun.core.transport.DialBackoff;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.StreamEndpoint;
import io.dctun.core.transport.StreamCounters;
import io.dctun.core.transport.StreamFraming;
import io.dctun.core.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.CertificateException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard messages over TLS on TCP, length-prefixed ({@link StreamFraming}), for networks whose
 * proxies pass only HTTPS (port 443). TLS is Netty's {@code SslHandler} with the JDK provider;
 * the framing is Netty's length-field codec.
 *
 * <p>TLS here is the envelope, not the identity: the peers authenticate each other by their
 * WireGuard keys inside it, exactly as over UDP, so the server presents a self-signed
 * certificate made at start and the client accepts any certificate. A proxy or an attacker that
 * terminates the TLS sees only WireGuard messages it can neither read nor forge. (An operator who
 * wants the envelope to carry a real certificate, for middleboxes that check, passes their own
 * {@link SslContext}s.)
 *
 * <p>As {@code NioTcpTransport}: a bounded send buffer per connection (Netty's write-buffer
 * water mark: a message sent while the channel is not writable is dropped and counted), so the
 * inner TCP sees loss rather than delay and a stalled peer never holds up others; dials on first
 * send with {@link DialBackoff}; an accepted connection is known by its remote address.
 *
 * <p>Thread-safety: {@link #send} from any thread; the receiver runs on the one event-loop thread.
 */
public final class NettyTlsTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(NettyTlsTransport.class);
  /** Above this many bytes queued on a connection, its sends are dropped. */
  public static final int SEND_BUFFER_BYTES = 32 * 1024;

  private final EventLoopGroup group;
  private volatile Channel server;
  private final SslContext clientTls;
  private final DialBackoff backoff;
  private final Map<StreamEndpoint, Channel> conns = new ConcurrentHashMap<>();
  /** Dials under way: their connect future, and the bytes waiting for it. */
  private final Map<Channel, Pending> connecting = new ConcurrentHashMap<>();
  private final StreamCounters counters = new StreamCounters();
  private volatile int maxConnections = StreamCounters.MAX_CONNECTIONS;

  private volatile long firstMessageTimeoutNanos = StreamCounters.FIRST_MESSAGE_TIMEOUT_NANOS;
  private volatile long idleTimeoutNanos = StreamCounters.IDLE_TIMEOUT_NANOS;

  /** For tests: a lower bound than {@link StreamCounters#MAX_CONNECTIONS}. */
  void maxConnections(int n) {
    maxConnections = n;
  }

  /** For tests: shorter silence bounds than {@link StreamCounters}'s, for connections accepted from now on. */
  void timeouts(long firstMessageNanos, long idleNanos) {
    firstMessageTimeoutNanos = firstMessageNanos;
    idleTimeoutNanos = idleNanos;
  }

  /** Messages dropped because their connection's send buffer was full. */
  @Override
  public long queueDrops() {
    return counters.queueFullDrops();
  }
  private volatile Receiver receiver;
  private volatile boolean closing;
  private final SslContext serverTls;

  private NettyTlsTransport(EventLoopGroup group, SslContext serverTls, SslContext clientTls, LongSupplier nanoTime) {
    this.group = group;
    this.serverTls = serverTls;
    this.clientTls = clientTls;
    this.backoff = new DialBackoff(nanoTime);
  }

  /**
   * A transport that accepts TLS connections on {@code listen} (null: dial out only), with a
   * self-signed certificate made now, and dials any TLS endpoint it is asked to send to.
   */
  public static NettyTlsTransport open(InetSocketAddress listen) throws IOException {
    return open(listen, null, null, System::nanoTime);
  }

  /** As {@link #open(InetSocketAddress)} with the operator's TLS contexts (null: the defaults). */
  public static NettyTlsTransport open(InetSocketAddress listen, SslContext serverTls, SslContext clientTls,
      LongSupplier nanoTime) throws IOException {
    try {
      if (serverTls == null && listen != null) {
        // EC P-256: made in milliseconds (an RSA key takes seconds on a small box)
        SelfSignedCertificate cert = new SelfSignedCertificate("dctun.invalid", "EC", 256);
        serverTls = SslContextBuilder.forServer(cert.certificate(), cert.privateKey()).build();
        cert.delete(); // the context holds the key; the temporary files go
      }
      if (clientTls == null) {
        clientTls = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
      }
    } catch (CertificateException | SSLException e) {
      throw new IOException("TLS setup: " + e.getMessage(), e);
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, r -> {
      Thread t = new Thread(r, "dctun-tls-loop");
      t.setDaemon(true);
      return t;
    }, NioIoHandler.newFactory());
    NettyTlsTransport t = new NettyTlsTransport(group, serverTls, clientTls, nanoTime);
    if (listen == null) {
      return t;
    }
    try {
      t.server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(SEND_BUFFER_BYTES / 2, SEND_BUFFER_BYTES))
          .childHandler(t.initializer(null))
          .bind(listen).sync().channel();
      return t;
    } catch (Exception e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot listen for TLS on " + listen + ": " + e.getMessage(), e);
    }
  }

  /** The listening address (with the chosen port), or null when dialling only. */
  public InetSocketAddress localAddress() {
    return server == null ? null : (InetSocketAddress) server.localAddress();
  }

  /** The pipeline of one connection; {@code dialled} is the endpoint we dialled, or null if accepted. */
  private ChannelInitializer<SocketChannel> initializer(StreamEndpoint dialled) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        SslContext ctx = dialled == null ? serverTls : clientTls;
        ch.pipeline().addLast(ctx.newHandler(ch.alloc())); // its TLS handshake must finish within 10 s
        if (dialled == null) {
          // Anyone can reach the listener: a connection quiet this long holds a slot for nothing.
          ch.pipeline().addLast(new io.netty.handler.timeout.IdleStateHandler(
              idleTimeoutNanos, 0, 0, TimeUnit.NANOSECONDS));
        }
        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(StreamFraming.PREFIX + StreamFraming.MAX_MESSAGE,
            0, StreamFraming.PREFIX, 0, StreamFraming.PREFIX));
        ch.pipeline().addLast(new Messages(dialled));
      }
    };
  }

  /** Hands each framed message to the receiver; keeps the connection table. */
  private final class Messages extends SimpleChannelInboundHandler<ByteBuf> {
    private final byte[] scratch = new byte[StreamFraming.MAX_MESSAGE];
    private StreamEndpoint endpoint;
    private boolean framed;

    Messages(StreamEndpoint dialled) {
      this.endpoint = dialled;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof io.netty.handler.timeout.IdleStateEvent) {
        counters.timedOut();
        LOG.debug("TLS {} closed: nothing received for {} s", endpoint, idleTimeoutNanos / 1_000_000_000L);
        ctx.close();
        return;
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      if (endpoint == null) {
        if (conns.size() >= maxConnections) {
          ctx.close();
          counters.refused(LOG, "TLS", maxConnections);
          return;
        }
        endpoint = StreamEndpoint.tls((InetSocketAddress) ctx.channel().remoteAddress());
        Channel old = conns.put(endpoint, ctx.channel());
        if (old != null && old != ctx.channel()) {
          old.close();
        }
        counters.opened();
        ctx.executor().schedule(() -> {
          if (!framed && ctx.channel().isActive()) {
            counters.timedOut();
            LOG.debug("TLS {} closed: no whole message within 10 s of accepting it", endpoint);
            ctx.close();
          }
        }, firstMessageTimeoutNanos, TimeUnit.NANOSECONDS);
      } else {
        backoff.connected(endpoint);
      }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
      int len = msg.readableBytes();
      if (len == 0) {
        counters.framingError();
        ctx.close();
        return;
      }
      framed = true;
      Receiver r = receiver;
      if (r != null) {
        msg.readBytes(scratch, 0, len);
        r.onPacket(scratch, 0, len, endpoint);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      Receiver r = receiver;
      if (r != null) {
        r.endOfBatch();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (endpoint != null) {
        conns.remove(endpoint, ctx.channel());
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("TLS {}: {}", endpoint, cause.toString());
      if (cause instanceof io.netty.handler.codec.DecoderException) {
        counters.framingError(); // a TLS or framing error: not our protocol
      }
      ctx.close();
    }
  }

  /** Messages sent while a dial is under way go out, in order, when it connects. */
  private static final class Pending {
    final ChannelFuture connect;
    int bytes;

    Pending(ChannelFuture connect) {
      this.connect = connect;
    }
  }

  @Override
  public void start(Receiver receiver) {
    this.receiver = receiver;
    Channel listener = server;
    if (listener != null) {
      // A listener that closes while the transport runs (not by close()) accepts no peer again:
      // say so to the engine, which treats it as fatal, rather than serve on without it.
      listener.closeFuture().addListener(f -> {
        if (!closing) {
          LOG.error("TLS transport: the listener on {} closed; it accepts no connection any more",
              listener.localAddress());
          receiver.failed(new IOException("TLS listener on " + listener.localAddress() + " closed"));
        }
      });
    }
  }

  /** For tests: the listening channel (null when dialling only). */
  Channel listener() {
    return server;
  }

  @Override
  public boolean carries(Endpoint to) {
    return to instanceof StreamEndpoint s && s.kind() == StreamEndpoint.Kind.TLS;
  }

  @Override
  public void send(Endpoint to, byte[] buf, int off, int len) {
    StreamEndpoint ep = (StreamEndpoint) to;
    if (len <= 0 || len > StreamFraming.MAX_MESSAGE || group.isShuttingDown()) {
      counters.sendFailed();
      return;
    }
    Channel ch = conns.get(ep);
    if (ch == null) {
      ch = dial(ep);
      if (ch == null) {
        counters.sendFailed();
        return;
      }
    }
    Pending p = connecting.get(ch);
    if (p != null && sendWhenConnected(ch, p, buf, off, len)) {
      return;
    }
    if (!ch.isWritable()) {
      counters.queueFull();
      return;
    }
    ch.writeAndFlush(framed(ch, buf, off, len), ch.voidPromise());
  }

  private static ByteBuf framed(Channel ch, byte[] buf, int off, int len) {
    ByteBuf b = ch.alloc().buffer(StreamFraming.PREFIX + len);
    return b.writeShort(len).writeBytes(buf, off, len);
  }

  /**
   * Holds a message for a connection still being dialled (Netty fails writes flushed before
   * connect), bounded like the send buffer. False if the dial has completed meanwhile.
   */
  private boolean sendWhenConnected(Channel ch, Pending p, byte[] buf, int off, int len) {
    synchronized (p) {
      if (p.connect.isDone()) {
        return false;
      }
      if (p.bytes + StreamFraming.PREFIX + len > SEND_BUFFER_BYTES) {
        counters.queueFull();
        return true;
      }
      p.bytes += StreamFraming.PREFIX + len;
      ByteBuf b = framed(ch, buf, off, len);
      p.connect.addListener(done -> {
        if (done.isSuccess()) {
          ch.writeAndFlush(b, ch.voidPromise());
        } else {
          b.release();
          counters.sendFailed();
        }
      });
      return true;
    }
  }

  private Channel dial(StreamEndpoint ep) {
    if (!backoff.mayDial(ep)) {
      return null;
    }
    synchronized (conns) {
      Channel ch = conns.get(ep);
      if (ch != null) {
        return ch;
      }
      ChannelFuture f = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
              (int) (StreamCounters.FIRST_MESSAGE_TIMEOUT_NANOS / 1_000_000L)) // not Netty's 30 s
          .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
          .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(SEND_BUFFER_BYTES / 2, SEND_BUFFER_BYTES))
          .handler(initializer(ep))
          .connect(ep.address());
      ch = f.channel();
      conns.put(ep, ch);
      counters.opened();
      Channel c = ch;
      Pending p = new Pending(f);
      connecting.put(ch, p);
      f.addListener(done -> {
        synchronized (p) {
          connecting.remove(c);
        }
        if (!done.isSuccess()) {
          if (done.cause() instanceof io.netty.channel.ConnectTimeoutException) {
            counters.timedOut();
          }
          backoff.failed(ep);
          conns.remove(ep, c);
          LOG.debug("TLS dial {}: {}", ep, done.cause() == null ? "cancelled" : done.cause().toString());
        }
      });
      return ch;
    }
  }

  @Override
  public long sendErrors() {
    return counters.sendErrors();
  }

  /** Drops by reason and connections opened. */
  public StreamCounters counters() {
    return counters;
  }

  public int connections() {
    return conns.size();
  }


  @Override
  public String kind() {
    return "tls";
  }

  @Override
  public void close() {
    closing = true;
    if (server != null) {
      server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
    for (Channel c : conns.values()) {
      c.close();
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }
}
