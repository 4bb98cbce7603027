package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.StreamCounters;
import io.dctun.core.transport.StreamEndpoint;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** WireGuard over TLS between two engines on the loopback interface (no root). */
class NettyTlsTransportTest {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final InetAddress LO = InetAddress.getLoopbackAddress();
  final ManualClock clock = new ManualClock(1_000_000_000L, 1_790_000_000_000_000_000L);
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  final class Node {
    final PrivateKey key = PrivateKey.generate();
    final InMemoryDevice tun;
    final NettyTlsTransport tls;
    final Device device;
    final Engine engine;

    Node(String name, boolean listen) throws Exception {
      tun = new InMemoryDevice(name);
      tls = NettyTlsTransport.open(listen ? new InetSocketAddress(LO, 0) : null);
      open.add(tls);
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(tls, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(tls), clock);
    }

    void start() {
      engine.start();
      open.add(engine);
    }
  }

  static byte[] ping(int src, int dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, src, dst, 7, seq, new byte[1000]);
    return Arrays.copyOf(buf, n);
  }

  static boolean await(BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(5);
    }
    return true;
  }

  @Test
  void twoEnginesHandshakeAndCarryDataBothWaysOverTls() throws Exception {
    Node server = new Node("srv", true);
    Node client = new Node("cli", false);
    server.device.addPeer(PeerConfig.of(client.key.publicKey(), (UdpEndpoint) null, "198.18.2.0/24"));
    client.device.addPeer(new PeerConfig("srv", server.key.publicKey(), null,
        StreamEndpoint.tls(server.tls.localAddress()), List.of(Prefix.parse("198.18.1.0/24")), 0));
    server.start();
    client.start();
    for (int i = 0; i < 50; i++) {
      byte[] up = ping(0xC6120207, 0xC6120105, i);
      assertThat(client.tun.inject(up)).isTrue();
      assertThat(server.tun.takeWritten(WAIT)).as("client -> server #%d", i).containsExactly(up);
      byte[] down = ping(0xC6120105, 0xC6120207, i);
      assertThat(server.tun.inject(down)).isTrue();
      assertThat(client.tun.takeWritten(WAIT)).as("server -> client #%d", i).containsExactly(down);
    }
    Peer atServer = server.device.peer(client.key.publicKey());
    assertThat(atServer.endpoint()).isInstanceOf(StreamEndpoint.class);
    assertThat(atServer.endpoint().carrier()).isEqualTo("tls");
    assertThat(client.tls.counters().connectionsOpened()).isEqualTo(1);
    assertThat(client.tls.sendErrors()).isZero();
    assertThat(server.tls.sendErrors()).isZero();
  }

  @Test
  void whatLeavesTheClientIsATlsHandshakeNotWireGuard() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, LO); NettyTlsTransport tls = NettyTlsTransport.open(null)) {
      tls.start((buf, off, len, from) -> {});
      byte[] initiation = new byte[148];
      initiation[0] = 1;
      tls.send(StreamEndpoint.tls(new InetSocketAddress(LO, s.getLocalPort())), initiation, 0, initiation.length);
      try (Socket c = s.accept()) {
        c.setSoTimeout((int) WAIT.toMillis());
        InputStream in = c.getInputStream();
        byte[] head = in.readNBytes(6);
        assertThat(head[0]).as("TLS record type: handshake").isEqualTo((byte) 0x16);
        assertThat(head[1]).as("TLS major version").isEqualTo((byte) 3);
        assertThat(head[5]).as("handshake type: ClientHello").isEqualTo((byte) 1);
      }
    }
  }

  @Test
  void aClientThatDoesNotSpeakTlsIsClosedAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.start();
    try (Socket s = new Socket(LO, server.tls.localAddress().getPort())) {
      s.setSoTimeout((int) WAIT.toMillis());
      s.getOutputStream().write(new byte[] {0, 4, 1, 0, 0, 0}); // a framed message, without TLS
      s.getOutputStream().flush();
      assertThat(await(() -> server.tls.counters().framingErrors() == 1)).isTrue();
      int r;
      do {
        r = s.getInputStream().read(); // TLS may send an alert first; then the connection ends
      } while (r >= 0);
    }
    assertThat(server.device.drops().total()).as("nothing reached the protocol").isZero();
  }

  /**
   * An attacker who reaches the listener cannot open connections without limit: past the bound,
   * each new one is closed at once and counted, and a closed one frees its place.
   */
  @Test
  void connectionsBeyondTheBoundAreClosedAtOnceAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.tls.maxConnections(3);
    server.start();
    int port = server.tls.localAddress().getPort();
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        held.add(new Socket(LO, port));
        int n = i + 1;
        assertThat(await(() -> server.tls.connections() == n)).as("connection %d held", n).isTrue();
      }
      for (int i = 0; i < 5; i++) {
        try (Socket extra = new Socket(LO, port)) {
          extra.setSoTimeout((int) WAIT.toMillis());
          int r;
          do {
            r = extra.getInputStream().read(); // closed by the transport (TLS may say why first)
          } while (r >= 0);
        } catch (java.net.SocketException reset) {
          // closed with a reset: refused as well
        }
      }
      assertThat(await(() -> server.tls.counters().connectionsRefused() == 5)).as("refused and counted").isTrue();
      assertThat(server.tls.connections()).isEqualTo(3);
      held.remove(0).close();
      assertThat(await(() -> server.tls.connections() == 2)).as("a closed connection frees its place").isTrue();
      held.add(new Socket(LO, port));
      assertThat(await(() -> server.tls.connections() == 3)).isTrue();
      assertThat(server.tls.counters().connectionsRefused()).isEqualTo(5);
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
  }

  /**
   * A client that completes TLS and then says nothing is closed once the first-message bound has
   * passed, and counted; a peer that sent a message in time is kept.
   */
  @Test
  void aSilentClientIsClosedAfterTheFirstMessageBoundAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.tls.timeouts(3_000_000_000L, StreamCounters.IDLE_TIMEOUT_NANOS); // room for a slow TLS handshake
    server.start();
    talkerThatSentOneMessage(server);

    try (javax.net.ssl.SSLSocket silent = (javax.net.ssl.SSLSocket) trustingTls().getSocketFactory()
        .createSocket(LO, server.tls.localAddress().getPort())) {
      silent.setSoTimeout((int) WAIT.toMillis());
      silent.startHandshake();
      assertThat(server.tls.connections()).isEqualTo(2);
      int r;
      try {
        do {
          r = silent.getInputStream().read(); // nothing is sent to it: read until the server closes
        } while (r >= 0);
      } catch (java.net.SocketException reset) {
        // closed with a reset: closed all the same
      }
    }
    // The talker was accepted first, so its own first-message check ran before the silent one's:
    // it spoke, it stays (had it been closed, it would have been counted first).
    assertThat(server.tls.counters().connectionsTimedOut()).isEqualTo(1);
    assertThat(await(() -> server.tls.connections() == 1)).as("the silent one leaves the table, the talker stays")
        .isTrue();
  }

  /** An accepted connection on which nothing arrives for the idle bound is closed and counted. */
  @Test
  void anIdleConnectionIsClosedAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.tls.timeouts(StreamCounters.FIRST_MESSAGE_TIMEOUT_NANOS, 3_000_000_000L); // the TLS handshake counts as quiet
    server.start();
    NettyTlsTransport talker = talkerThatSentOneMessage(server);
    assertThat(await(() -> server.tls.connections() == 0)).as("closed after 3 s of silence").isTrue();
    assertThat(server.tls.counters().connectionsTimedOut()).isEqualTo(1);
    assertThat(await(() -> talker.connections() == 0)).as("the talker sees it closed").isTrue();
  }

  /** A listener that dies under a running transport is reported to the engine (fatal there); close() is not. */
  @Test
  void aListenerThatClosesIsReportedAsAFailureButCloseIsNot() throws Exception {
    java.util.concurrent.CompletableFuture<Throwable> failed = new java.util.concurrent.CompletableFuture<>();
    NettyTlsTransport tls = NettyTlsTransport.open(new InetSocketAddress(LO, 0));
    open.add(tls);
    tls.start(new io.dctun.core.transport.Transport.Receiver() {
      @Override
      public void onPacket(byte[] buf, int off, int len, io.dctun.core.transport.Endpoint from) {}

      @Override
      public void failed(Throwable cause) {
        failed.complete(cause);
      }
    });
    tls.listener().close().sync();
    assertThat(failed.get(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
        .hasMessageContaining("TLS listener").hasMessageContaining("closed");

    java.util.concurrent.CompletableFuture<Throwable> notFailed = new java.util.concurrent.CompletableFuture<>();
    NettyTlsTransport other = NettyTlsTransport.open(new InetSocketAddress(LO, 0));
    other.start(new io.dctun.core.transport.Transport.Receiver() {
      @Override
      public void onPacket(byte[] buf, int off, int len, io.dctun.core.transport.Endpoint from) {}

      @Override
      public void failed(Throwable cause) {
        notFailed.complete(cause);
      }
    });
    io.netty.channel.Channel l = other.listener();
    other.close();
    assertThat(l.closeFuture().isDone()).isTrue();
    assertThat(notFailed).as("an orderly close is no failure").isNotDone();
  }

  /** A dial-only transport that has sent {@code server} one (junk) message, which has arrived. */
  private NettyTlsTransport talkerThatSentOneMessage(Node server) throws Exception {
    NettyTlsTransport talker = NettyTlsTransport.open(null);
    open.add(talker);
    talker.start((buf, off, len, from) -> {});
    talker.send(StreamEndpoint.tls(server.tls.localAddress()), new byte[32], 0, 32);
    assertThat(await(() -> server.device.drops().total() == 1)).as("the talker's message arrived").isTrue();
    return talker;
  }

  private static javax.net.ssl.SSLContext trustingTls() throws Exception {
    javax.net.ssl.X509TrustManager trustAll = new javax.net.ssl.X509TrustManager() {
      @Override
      public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {
      }

      @Override
      public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {
        // the test's server has a self-signed certificate; what is tested is not the certificate
      }

      @Override
      public java.security.cert.X509Certificate[] getAcceptedIssuers() {
        return new java.security.cert.X509Certificate[0];
      }
    };
    javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
    tls.init(null, new javax.net.ssl.TrustManager[] {trustAll}, null);
    return tls;
  }
}
