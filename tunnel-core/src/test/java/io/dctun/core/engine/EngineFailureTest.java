package io.dctun.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.device.PacketDevice;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.PacketFilter;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusText;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * No engine thread dies silently: a packet device whose read throws, a bug on one packet, a
 * transport that cannot receive, timers that keep throwing. Each either goes on (counted) or
 * tells the failure listener; the tests wait for outcomes with a bounded deadline.
 */
class EngineFailureTest {
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.0.1", 51820);
  private static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.2", 51820);

  /** What the failure listener was told. */
  record Failure(String thread, String reason, Throwable cause) {}

  private final EngineTest.ManualClock clock = new EngineTest.ManualClock();
  private final InMemoryNetwork net = new InMemoryNetwork();
  private final List<Engine> engines = new ArrayList<>();
  private final BlockingQueue<Failure> failures = new ArrayBlockingQueue<>(16);

  @AfterEach
  void closeEngines() {
    engines.forEach(Engine::close);
  }

  /** An in-memory device whose reads can be made to throw. */
  static final class FaultyDevice implements PacketDevice {
    final InMemoryDevice inner = new InMemoryDevice("faulty");
    /** Reads that throw a RuntimeException before the device behaves. */
    final AtomicInteger runtimeFailures = new AtomicInteger();
    /** Set: the next read throws this IOException (the interface was deleted). */
    volatile IOException ioFailure;
    volatile boolean failForever;

    @Override
    public String name() {
      return "faulty";
    }

    @Override
    public int mtu() {
      return inner.mtu();
    }

    @Override
    public int read(byte[] buf, int offset, int maxLength) throws IOException {
      throw new UnsupportedOperationException("readBatch only");
    }

    @Override
    public int readBatch(byte[][] bufs, int offset, int[] lengths) throws IOException {
      if (failForever) {
        throw new IllegalStateException("broken device");
      }
      if (runtimeFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new IllegalStateException("one bad read");
      }
      int n = inner.readBatch(bufs, offset, lengths);
      IOException e = ioFailure;
      if (e != null) {
        throw e;
      }
      return n;
    }

    @Override
    public void write(byte[] buf, int offset, int length) throws IOException {
      inner.write(buf, offset, length);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  /** A site: an engine over {@code tun}, with a peer at the other endpoint. */
  private final class Site {
    final PrivateKey key = PrivateKey.generate();
    final PacketDevice tun;
    final MemoryTransport udp;
    final Device device;
    final Engine engine;

    Site(PacketDevice tun, UdpEndpoint at) {
      this.tun = tun;
      udp = net.bind(at.address());
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock)
          .onFailure((thread, reason, cause) -> failures.add(new Failure(thread, reason, cause)));
      engines.add(engine);
    }
  }

  private Site[] pair(PacketDevice tunA) {
    Site a = new Site(tunA, EP_A);
    Site b = new Site(new InMemoryDevice("b"), EP_B);
    a.device.addPeer(PeerConfig.of(b.key.publicKey(), EP_B, "198.18.2.0/24"));
    b.device.addPeer(PeerConfig.of(a.key.publicKey(), (UdpEndpoint) null, "198.18.1.0/24"));
    a.engine.start();
    b.engine.start();
    return new Site[] {a, b};
  }

  private static byte[] ping(int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, 0xc6120105, 0xc6120207, 7, seq, new byte[56]); // 198.18.1.5 -> 198.18.2.7
    return Arrays.copyOf(buf, n);
  }

  private static long awaitAtLeast(LongSupplier value, long atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    long v = value.getAsLong();
    while (v < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
      v = value.getAsLong();
    }
    return v;
  }

  @Test
  void anIoExceptionFromTheDeviceReadTellsTheListener() throws Exception {
    FaultyDevice tun = new FaultyDevice();
    Site[] s = pair(tun);
    byte[] p = ping(1);
    tun.inner.inject(p);
    InMemoryDevice bTun = (InMemoryDevice) s[1].tun;
    assertThat(bTun.takeWritten(WAIT)).as("the tunnel works before the device fails").containsExactly(p);

    tun.ioFailure = new IOException("read from TUN faulty: File descriptor in bad state (errno 77)");
    tun.inner.inject(ping(2));
    Failure f = failures.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(f).as("the failure listener was told").isNotNull();
    assertThat(f.thread()).isEqualTo("dctun-tun-0");
    assertThat(f.reason()).contains("reading packet device faulty failed").contains("errno 77");
    assertThat(f.cause()).isSameAs(tun.ioFailure);
    assertThat(s[0].engine.failure()).startsWith("dctun-tun-0: reading packet device faulty failed");
    StatusText st = new StatusText();
    s[0].engine.report(st);
    assertThat(st.toString()).contains("engine.failure dctun-tun-0: reading packet device faulty failed");
  }

  @Test
  void aRuntimeExceptionFromTheDeviceReadIsCountedAndTheLoopGoesOn() throws Exception {
    FaultyDevice tun = new FaultyDevice();
    tun.runtimeFailures.set(3);
    Site[] s = pair(tun);
    InMemoryDevice bTun = (InMemoryDevice) s[1].tun;
    // The three failed reads happen before the first packet is taken (the engine reads at once).
    assertThat(awaitAtLeast(s[0].engine::outboundErrors, 3)).isEqualTo(3);
    byte[] p = ping(1);
    tun.inner.inject(p);
    assertThat(bTun.takeWritten(WAIT)).as("the packet after three bad reads").containsExactly(p);
    assertThat(failures).as("three in a row are not fatal").isEmpty();
    assertThat(s[0].engine.failure()).isNull();
  }

  @Test
  void aDeviceReadThatAlwaysThrowsIsFatalAfterTooManyInARow() throws Exception {
    FaultyDevice tun = new FaultyDevice();
    tun.failForever = true;
    Site[] s = pair(tun);
    Failure f = failures.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(f).as("the listener is told instead of the loop spinning for ever").isNotNull();
    assertThat(f.reason()).startsWith(Engine.MAX_ERRORS_IN_A_ROW + " reads of faulty in a row failed");
    assertThat(s[0].engine.outboundErrors()).isEqualTo(Engine.MAX_ERRORS_IN_A_ROW);
  }

  /** Throws on the outbound packets whose ICMP sequence is odd (a bug that hits some packets). */
  private static final class ThrowOnOdd implements PacketFilter {
    final boolean inbound;
    volatile boolean always;

    ThrowOnOdd(boolean inbound) {
      this.inbound = inbound;
    }

    private boolean check(byte[] buf, int off) {
      int seq = (buf[off + 26] & 0xff) << 8 | (buf[off + 27] & 0xff);
      if (always || seq % 2 == 1) {
        throw new ArrayIndexOutOfBoundsException("filter bug on packet " + seq);
      }
      return true;
    }

    @Override
    public boolean allowOutbound(PublicKey peer, byte[] buf, int off, int len, long now) {
      return inbound || check(buf, off);
    }

    @Override
    public boolean allowInbound(PublicKey peer, byte[] buf, int off, int len, long now) {
      return !inbound || check(buf, off);
    }
  }

  @Test
  void aBugOnOneOutboundPacketIsCountedAndTheNextPacketGoesThrough() throws Exception {
    InMemoryDevice tun = new InMemoryDevice("a");
    Site[] s = pair(tun);
    InMemoryDevice bTun = (InMemoryDevice) s[1].tun;
    byte[] first = ping(0);
    tun.inject(first);
    assertThat(bTun.takeWritten(WAIT)).containsExactly(first);
    ThrowOnOdd bug = new ThrowOnOdd(false);
    s[0].device.setFilter(bug);
    for (int seq = 1; seq <= 20; seq++) {
      tun.inject(ping(seq));
    }
    for (int seq = 2; seq <= 20; seq += 2) {
      assertThat(bTun.takeWritten(WAIT)).as("packet %d after a bug on %d", seq, seq - 1).containsExactly(ping(seq));
    }
    assertThat(s[0].engine.outboundErrors()).isEqualTo(10);
    assertThat(failures).isEmpty();

    bug.always = true; // now every packet: fatal after MAX_ERRORS_IN_A_ROW in a row
    for (int seq = 0; seq < Engine.MAX_ERRORS_IN_A_ROW; seq++) {
      assertThat(tun.inject(ping(100 + seq))).isTrue();
    }
    Failure f = failures.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(f).isNotNull();
    assertThat(f.reason()).startsWith(Engine.MAX_ERRORS_IN_A_ROW + " outbound packets in a row failed")
        .contains("filter bug on packet");
  }

  @Test
  void aBugOnOneInboundPacketIsCountedAndTheNextPacketIsDelivered() throws Exception {
    InMemoryDevice tun = new InMemoryDevice("a");
    Site[] s = pair(tun);
    InMemoryDevice bTun = (InMemoryDevice) s[1].tun;
    byte[] first = ping(0);
    tun.inject(first);
    assertThat(bTun.takeWritten(WAIT)).containsExactly(first);
    s[1].device.setFilter(new ThrowOnOdd(true));
    for (int seq = 1; seq <= 20; seq++) {
      tun.inject(ping(seq));
    }
    for (int seq = 2; seq <= 20; seq += 2) {
      assertThat(bTun.takeWritten(WAIT)).as("packet %d after a bug on %d", seq, seq - 1).containsExactly(ping(seq));
    }
    assertThat(s[1].engine.inboundErrors()).isEqualTo(10);
    assertThat(failures).isEmpty();
  }

  @Test
  void ticksThatKeepThrowingAreFatalAfterFiveSecondsOfThem() throws Exception {
    Site[] s = pair(new InMemoryDevice("a"));
    AtomicInteger calls = new AtomicInteger();
    s[0].engine.everyTick(now -> {
      if (calls.incrementAndGet() <= 3) {
        throw new IllegalStateException("tick task bug");
      }
    });
    for (int i = 0; i < 10; i++) {
      s[0].engine.tick();
    }
    assertThat(s[0].engine.tickErrors()).isEqualTo(3);
    assertThat(failures).as("a few failed ticks are not fatal").isEmpty();

    s[0].engine.everyTick(now -> {
      throw new IllegalStateException("broken for good");
    });
    for (int i = 0; i < Engine.MAX_TICKS_FAILED_IN_A_ROW - 1; i++) {
      s[0].engine.tick();
    }
    assertThat(failures).isEmpty();
    s[0].engine.tick();
    Failure f = failures.poll();
    assertThat(f).isNotNull();
    assertThat(f.reason()).startsWith(Engine.MAX_TICKS_FAILED_IN_A_ROW + " ticks in a row failed")
        .contains("broken for good");
  }

  @Test
  void aTransportThatCannotReceiveTellsTheListenerButClosingDoesNot() throws Exception {
    Site[] s = pair(new InMemoryDevice("a"));
    s[1].engine.close();
    assertThat(failures).as("an orderly close is no failure").isEmpty();
    // The in-memory transport has no socket to lose; a transport says so through its receiver.
    Site c = new Site(new InMemoryDevice("c"), UdpEndpoint.of("198.18.0.3", 51820));
    List<io.dctun.core.transport.Transport.Receiver> receivers = new ArrayList<>();
    io.dctun.core.transport.Transport t = new io.dctun.core.transport.Transport() {
      @Override
      public void start(Receiver receiver) {
        receivers.add(receiver);
      }

      @Override
      public boolean carries(io.dctun.core.transport.Endpoint to) {
        return true;
      }

      @Override
      public void send(io.dctun.core.transport.Endpoint to, byte[] buf, int off, int len) {}

      @Override
      public long sendErrors() {
        return 0;
      }

      @Override
      public String kind() {
        return "fake";
      }

      @Override
      public void close() {}
    };
    Engine e = Engine.manuallyTicked(c.device, List.of(c.tun), Transports.of(t), clock)
        .onFailure((thread, reason, cause) -> failures.add(new Failure(thread, reason, cause)));
    engines.add(e);
    e.start();
    receivers.get(0).failed(new IOException("socket closed"));
    Failure f = failures.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(f).isNotNull();
    assertThat(f.thread()).isEqualTo("transport fake");
    assertThat(f.reason()).contains("cannot receive any more").contains("socket closed");
  }
}
