package io.dctun.appliance.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Reverse TCP forwards on the loopback interface, no root: the outer side listens, the inner side
 * dials out and connects each stream to its target. The target's half-close, a stalled stream beside a busy
 * one, a target that refuses, the inner side going away, and keys or ports that are not allowed.
 */
class ReverseForwardTest {
  static final Duration WAIT = Duration.ofSeconds(15);
  static final InetAddress LO = InetAddress.getLoopbackAddress();
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  static KeyPair key() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, LO)) {
      return s.getLocalPort();
    }
  }

  static boolean await(BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /**
   * A target that reads a 4-byte length and that many bytes, answers "got N", then half-closes
   * (its EOF must reach the client while the client's side stays open), and reads to the end.
   */
  ServerSocket countingTarget() throws IOException {
    ServerSocket s = new ServerSocket(0, 50, LO);
    open.add(s);
    Thread t = new Thread(() -> {
      while (!s.isClosed()) {
        try (Socket c = s.accept()) {
          java.io.DataInputStream in = new java.io.DataInputStream(c.getInputStream());
          int n = in.readInt();
          in.readFully(new byte[n]);
          c.getOutputStream().write(("got " + n).getBytes(StandardCharsets.US_ASCII));
          c.shutdownOutput();
          in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
          return;
        }
      }
    }, "counting-target");
    t.setDaemon(true);
    t.start();
    return s;
  }

  /** A target that accepts and never reads. */
  ServerSocket stalledTarget() throws IOException {
    ServerSocket s = new ServerSocket(0, 50, LO);
    open.add(s);
    List<Socket> held = new ArrayList<>();
    Thread t = new Thread(() -> {
      while (!s.isClosed()) {
        try {
          held.add(s.accept());
        } catch (IOException e) {
          return;
        }
      }
    }, "stalled-target");
    t.setDaemon(true);
    t.start();
    return s;
  }

  final class Setup {
    final KeyPair outerKey;
    final KeyPair innerKey;
    final ForwardOuter outer;

    Setup(Set<Integer> allowed, KeyPair acceptedInner) throws Exception {
      outerKey = key();
      innerKey = acceptedInner == null ? key() : acceptedInner;
      outer = ForwardOuter.start(new ForwardOuter.Config(new InetSocketAddress(LO, 0), outerKey,
          innerKey.getPublic(), allowed, LO, Duration.ofMillis(500)));
      open.add(outer);
    }

    ForwardInner inner(KeyPair key, ForwardInner.Forward... forwards) {
      ForwardInner in = ForwardInner.start(new ForwardInner.Config(new InetSocketAddress(LO, outer.port()),
          outerKey.getPublic(), key, LO, List.of(forwards), Duration.ofMillis(500)));
      open.add(in);
      return in;
    }
  }

  static String exchange(int port, byte[] payload) throws IOException {
    try (Socket c = new Socket(LO, port)) {
      c.setSoTimeout((int) WAIT.toMillis());
      java.io.DataOutputStream o = new java.io.DataOutputStream(c.getOutputStream());
      o.writeInt(payload.length);
      o.write(payload);
      o.flush();
      // the target's half-close ends our input while our output is still open
      return new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void streamsCrossWithHalfCloseAndAStalledStreamBlocksNoOther() throws Exception {
    int pCount = freePort();
    int pStalled = freePort();
    Setup s = new Setup(Set.of(pCount, pStalled), null);
    ServerSocket counting = countingTarget();
    ServerSocket stalled = stalledTarget();
    ForwardInner in = s.inner(s.innerKey,
        new ForwardInner.Forward(pCount, new InetSocketAddress(LO, counting.getLocalPort())),
        new ForwardInner.Forward(pStalled, new InetSocketAddress(LO, stalled.getLocalPort())));
    assertThat(await(() -> s.outer.listeners() == 2)).as("both listeners open on the outer side").isTrue();
    // The outer side opens each listener when asked; the inner side counts itself connected only
    // after its last request is answered, so this may come a moment later.
    assertThat(await(in::isConnected)).as("the inner side connected").isTrue();

    assertThat(exchange(pCount, new byte[100_000])).isEqualTo("got 100000");

    // A stream whose target never reads: its writer blocks once the windows fill...
    AtomicLong written = new AtomicLong();
    Socket stuck = new Socket(LO, pStalled);
    open.add(stuck);
    Thread writer = new Thread(() -> {
      byte[] chunk = new byte[16 * 1024];
      try {
        OutputStream o = stuck.getOutputStream();
        for (int i = 0; i < 4096; i++) { // 64 MB bound; far beyond every window and buffer
          o.write(chunk);
          written.addAndGet(chunk.length);
        }
      } catch (IOException e) {
        // closed at teardown
      }
    }, "stuck-writer");
    writer.setDaemon(true);
    writer.start();
    assertThat(await(() -> written.get() > 0)).isTrue();
    long before;
    do { // ...wait until it no longer moves
      before = written.get();
      Thread.sleep(300);
    } while (written.get() != before && written.get() < 4096L * 16 * 1024);
    assertThat(written.get()).as("the stalled stream is held back, not buffered without bound").isLessThan(4096L * 16 * 1024);
    // ...while other streams on the same connection still go through.
    for (int i = 0; i < 5; i++) {
      assertThat(exchange(pCount, new byte[50_000 + i])).isEqualTo("got " + (50_000 + i));
    }
  }

  @Test
  void aTargetThatRefusesEndsTheStreamAtOnce() throws Exception {
    int port = freePort();
    Setup s = new Setup(Set.of(port), null);
    s.inner(s.innerKey, new ForwardInner.Forward(port, new InetSocketAddress(LO, freePort())));
    assertThat(await(() -> s.outer.listeners() == 1)).isTrue();
    try (Socket c = new Socket(LO, port)) {
      c.setSoTimeout((int) WAIT.toMillis());
      InputStream in = c.getInputStream();
      int r;
      try {
        r = in.read();
      } catch (IOException reset) {
        r = -1; // a reset is as good as an end
      }
      assertThat(r).as("the stream ends instead of hanging").isEqualTo(-1);
    }
  }

  @Test
  void whenTheInnerSideGoesItsListenersGoWithIt() throws Exception {
    int port = freePort();
    Setup s = new Setup(Set.of(port), null);
    ServerSocket counting = countingTarget();
    ForwardInner in = s.inner(s.innerKey, new ForwardInner.Forward(port, new InetSocketAddress(LO, counting.getLocalPort())));
    assertThat(await(() -> s.outer.listeners() == 1)).isTrue();
    in.close();
    assertThat(await(() -> s.outer.listeners() == 0)).as("the listener is closed with the session").isTrue();
    assertThatThrownBy(() -> new Socket(LO, port).close()).isInstanceOf(ConnectException.class);
  }

  @Test
  void anUnknownKeyOrAPortNotAllowedIsRefusedAndCounted() throws Exception {
    int allowed = freePort();
    int other = freePort();
    Setup s = new Setup(Set.of(allowed), null);
    ServerSocket counting = countingTarget();
    ForwardInner stranger = s.inner(key(), new ForwardInner.Forward(allowed, new InetSocketAddress(LO, counting.getLocalPort())));
    assertThat(await(() -> s.outer.refusedKeys() > 0)).isTrue();
    assertThat(stranger.isConnected()).isFalse();
    assertThat(s.outer.listeners()).isZero();
    stranger.close();

    ForwardInner greedy = s.inner(s.innerKey, new ForwardInner.Forward(other, new InetSocketAddress(LO, counting.getLocalPort())));
    assertThat(await(() -> s.outer.refusedPorts() > 0)).isTrue();
    assertThat(s.outer.listeners()).isZero();
    assertThat(greedy.isConnected()).as("a refused forward fails the connection attempt").isFalse();
  }
}
