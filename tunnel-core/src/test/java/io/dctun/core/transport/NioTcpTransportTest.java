package io.dctun.core.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.testing.ManualClock;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.OutputStream;
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

/**
 * WireGuard over TCP between two engines on the loopback interface (no root): one listens, the
 * other dials; the handshake, data both ways, roaming to the accepted connection's address, and
 * the bad-input and back-pressure rules of the transport.
 */
class NioTcpTransportTest {
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
    final NioTcpTransport tcp;
    final Device device;
    final Engine engine;

    Node(String name, boolean listen) throws Exception {
      tun = new InMemoryDevice(name);
      tcp = NioTcpTransport.open(listen ? new InetSocketAddress(LO, 0) : null);
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(tcp, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(tcp), clock);
    }

    void start() {
      engine.start();
      open.add(engine);
    }

    StreamEndpoint endpoint() throws Exception {
      return StreamEndpoint.tcp(tcp.localAddress());
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
  void twoEnginesHandshakeAndCarryDataBothWaysOverTcp() throws Exception {
    Node server = new Node("srv", true);
    Node client = new Node("cli", false);
    server.device.addPeer(PeerConfig.of(client.key.publicKey(), (UdpEndpoint) null, "198.18.2.0/24"));
    client.device.addPeer(new PeerConfig("srv", server.key.publicKey(), null, server.endpoint(),
        List.of(io.dctun.core.route.Prefix.parse("198.18.1.0/24")), 0));
    server.start();
    client.start();

    for (int i = 0; i < 50; i++) {
      byte[] up = ping(0xC6120207, 0xC6120105, i); // 198.18.2.7 -> 198.18.1.5
      assertThat(client.tun.inject(up)).isTrue();
      assertThat(server.tun.takeWritten(WAIT)).as("client -> server #%d", i).containsExactly(up);
      byte[] down = ping(0xC6120105, 0xC6120207, i);
      assertThat(server.tun.inject(down)).isTrue();
      assertThat(client.tun.takeWritten(WAIT)).as("server -> client #%d", i).containsExactly(down);
    }
    Peer atServer = server.device.peer(client.key.publicKey());
    assertThat(atServer.endpoint()).as("the server answers on the connection the client opened")
        .isInstanceOf(StreamEndpoint.class);
    assertThat(atServer.endpoint().address().getPort()).isNotEqualTo(server.tcp.localAddress().getPort());
    assertThat(client.tcp.counters().connectionsOpened()).isEqualTo(1);
    assertThat(server.tcp.connections()).isEqualTo(1);
    assertThat(client.tcp.sendErrors()).isZero();
    assertThat(server.tcp.sendErrors()).isZero();
  }

  @Test
  void aStreamThatIsNotFramedWireGuardIsClosedAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.start();
    try (Socket s = new Socket(LO, server.tcp.localAddress().getPort())) {
      OutputStream o = s.getOutputStream();
      o.write(new byte[] {0, 0, 9, 9});
      o.flush();
      assertThat(await(() -> server.tcp.counters().framingErrors() == 1)).isTrue();
      assertThat(s.getInputStream().read()).as("the transport closed the connection").isEqualTo(-1);
    }
    assertThat(await(() -> server.tcp.connections() == 0)).isTrue();
    assertThat(server.device.drops().total()).as("nothing reached the protocol").isZero();
  }

  @Test
  void aPeerThatStopsReadingFillsOnlyItsOwnBoundedBuffer() throws Exception {
    try (ServerSocket stalled = new ServerSocket(0, 1, LO); ServerSocket healthy = new ServerSocket(0, 1, LO);
        NioTcpTransport tcp = NioTcpTransport.open(null)) {
      tcp.start((buf, off, len, from) -> {});
      StreamEndpoint toStalled = StreamEndpoint.tcp(new InetSocketAddress(LO, stalled.getLocalPort()));
      StreamEndpoint toHealthy = StreamEndpoint.tcp(new InetSocketAddress(LO, healthy.getLocalPort()));
      byte[] msg = new byte[1400];
      tcp.send(toStalled, msg, 0, msg.length);
      try (Socket stalledConn = stalled.accept()) { // accepted, never read
        // far more than the kernel's buffers and ours hold: the excess is dropped, not queued
        for (int i = 0; i < 20_000 && tcp.counters().queueFullDrops() == 0; i++) {
          tcp.send(toStalled, msg, 0, msg.length);
        }
        assertThat(tcp.counters().queueFullDrops()).as("the stalled connection's sends are dropped once its buffer is full").isPositive();
        long dropsBefore = tcp.sendErrors();
        tcp.send(toHealthy, msg, 0, 100);
        try (Socket h = healthy.accept()) {
          h.setSoTimeout((int) WAIT.toMillis());
          byte[] got = h.getInputStream().readNBytes(102);
          assertThat(got[0]).isEqualTo((byte) 0);
          assertThat(got[1]).as("the other peer's message arrives, length-prefixed").isEqualTo((byte) 100);
        }
        assertThat(tcp.sendErrors()).isEqualTo(dropsBefore);
      }
    }
  }

  @Test
  void aRefusedDialBacksOffInsteadOfRetryingEverySend() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, LO)) {
      closedPort = s.getLocalPort();
    }
    AtomicLong now = new AtomicLong(5_000_000_000L); // the backoff's clock: moves only when the test moves it
    try (NioTcpTransport tcp = NioTcpTransport.open(null, now::get)) {
      tcp.start((buf, off, len, from) -> {});
      StreamEndpoint nobody = StreamEndpoint.tcp(new InetSocketAddress(LO, closedPort));
      tcp.send(nobody, new byte[32], 0, 32);
      assertThat(await(() -> tcp.connections() == 0)).as("the refused connection is gone").isTrue();
      long opened = tcp.counters().connectionsOpened();
      for (int i = 0; i < 100; i++) {
        tcp.send(nobody, new byte[32], 0, 32);
      }
      assertThat(tcp.counters().connectionsOpened()).as("no new dial during the backoff").isEqualTo(opened);
      assertThat(tcp.sendErrors()).isGreaterThanOrEqualTo(100);
      now.addAndGet(200_000_000L); // past the first backoff (100 ms, jitter included)
      tcp.send(nobody, new byte[32], 0, 32);
      assertThat(tcp.counters().connectionsOpened()).as("dialled again once the backoff passed").isEqualTo(opened + 1);
    }
  }

  /**
   * An attacker who reaches the listener cannot open connections without limit: past the bound,
   * each new one is closed at once and counted, and a closed one frees its place.
   */
  @Test
  void connectionsBeyondTheBoundAreClosedAtOnceAndCounted() throws Exception {
    Node server = new Node("srv", true);
    server.tcp.maxConnections(3);
    server.start();
    int port = server.tcp.localAddress().getPort();
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        held.add(new Socket(LO, port));
        int n = i + 1;
        assertThat(await(() -> server.tcp.connections() == n)).as("connection %d held", n).isTrue();
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
      assertThat(await(() -> server.tcp.counters().connectionsRefused() == 5)).as("refused and counted").isTrue();
      assertThat(server.tcp.connections()).isEqualTo(3);
      held.remove(0).close();
      assertThat(await(() -> server.tcp.connections() == 2)).as("a closed connection frees its place").isTrue();
      held.add(new Socket(LO, port));
      assertThat(await(() -> server.tcp.connections() == 3)).isTrue();
      assertThat(server.tcp.counters().connectionsRefused()).isEqualTo(5);
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
  }

  /**
   * A connection that never carries a whole message is closed 10 s after it was accepted, one that
   * did is kept until it has been quiet for 200 s, and both are counted: a silent client cannot hold
   * one of the bounded connection slots for ever.
   */
  @Test
  void silentAcceptedConnectionsAreClosedAndCounted() throws Exception {
    AtomicLong now = new AtomicLong(5_000_000_000L); // the sweep's clock: moves only when the test moves it
    List<byte[]> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (NioTcpTransport tcp = NioTcpTransport.open(new InetSocketAddress(LO, 0), now::get);
        Socket silent = new Socket();
        Socket talker = new Socket()) {
      tcp.start((buf, off, len, from) -> got.add(java.util.Arrays.copyOfRange(buf, off, off + len)));
      silent.connect(tcp.localAddress());
      talker.connect(tcp.localAddress());
      // One whole framed message and nothing more: every byte the talker sends is read (and its
      // time taken) before the test moves the clock, once the message has arrived.
      talker.getOutputStream().write(new byte[] {0, 4, 1, 2, 3, 4});
      assertThat(await(() -> got.size() == 1 && tcp.connections() == 2)).as("both accepted, one message").isTrue();
      assertThat(tcp.sweeps()).as("the clock has not moved: no sweep yet").isZero();

      now.addAndGet(9_000_000_000L);
      assertThat(await(() -> tcp.sweeps() == 1)).isTrue();
      assertThat(tcp.connections()).as("9 s: nothing closed yet").isEqualTo(2);

      now.addAndGet(1_500_000_000L);
      assertThat(await(() -> tcp.sweeps() == 2)).isTrue();
      assertThat(tcp.connections()).as("10.5 s: the silent one is closed, the one that spoke is kept").isEqualTo(1);
      assertThat(tcp.counters().connectionsTimedOut()).isEqualTo(1);
      assertThat(closedByPeer(silent)).as("the silent client sees its connection closed").isTrue();

      now.addAndGet(190_000_000_000L); // 200.5 s since the talker's last bytes
      assertThat(await(() -> tcp.sweeps() == 3)).isTrue();
      assertThat(tcp.connections()).as("quiet for 200 s: closed").isZero();
      assertThat(tcp.counters().connectionsTimedOut()).isEqualTo(2);
      assertThat(closedByPeer(talker)).isTrue();
    }
  }

  /** A dial whose SYN is never answered is given up after 10 s, counted, and backed off. */
  @Test
  void aDialThatNeverConnectsIsGivenUpAfterTenSeconds() throws Exception {
    AtomicLong now = new AtomicLong(5_000_000_000L);
    // A listener that never accepts, with its backlog filled: the kernel then drops further SYNs.
    try (java.nio.channels.ServerSocketChannel full = java.nio.channels.ServerSocketChannel.open();
        NioTcpTransport tcp = NioTcpTransport.open(null, now::get)) {
      full.bind(new InetSocketAddress(LO, 0), 1);
      List<Socket> fill = new ArrayList<>();
      try {
        for (int i = 0; i < 2; i++) {
          Socket s = new Socket();
          s.connect(full.getLocalAddress(), (int) WAIT.toMillis());
          fill.add(s);
        }
        tcp.start((buf, off, len, from) -> {});
        StreamEndpoint ep = StreamEndpoint.tcp((InetSocketAddress) full.getLocalAddress());
        tcp.send(ep, new byte[32], 0, 32);
        assertThat(tcp.connections()).isEqualTo(1);
        now.addAndGet(5_000_000_000L);
        assertThat(await(() -> tcp.sweeps() == 1)).isTrue();
        assertThat(tcp.connections()).as("5 s: the dial is still pending").isEqualTo(1);
        now.addAndGet(5_500_000_000L);
        assertThat(await(() -> tcp.connections() == 0)).as("given up after 10 s").isTrue();
        assertThat(tcp.counters().connectionsTimedOut()).isEqualTo(1);
        long opened = tcp.counters().connectionsOpened();
        tcp.send(ep, new byte[32], 0, 32);
        assertThat(tcp.counters().connectionsOpened()).as("backed off, not dialled again at once").isEqualTo(opened);
      } finally {
        for (Socket s : fill) {
          s.close();
        }
      }
    }
  }

  private static boolean closedByPeer(Socket s) throws IOException {
    s.setSoTimeout((int) WAIT.toMillis());
    try {
      while (s.getInputStream().read() >= 0) {
        // nothing is sent to it; read to the end
      }
      return true;
    } catch (java.net.SocketException reset) {
      return true;
    } catch (java.net.SocketTimeoutException stillOpen) {
      return false;
    }
  }
}
