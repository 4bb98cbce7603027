package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.Aead;
import io.dctun.crypto.PrivateKey;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The receive path of a peer with a list of endpoints allocates nothing per packet, as the one of
 * a peer without: with dctun's own allocation-free cipher ({@link Aead.Impl#JAVA}) the bytes the
 * test thread allocates while it opens thousands of transport messages are counted (the JVM's
 * per-thread allocation counter), not timed.
 */
class EndpointsAllocationTest {
  static final UdpEndpoint B1 = UdpEndpoint.of("198.18.128.2", 51820);
  static final UdpEndpoint B2 = UdpEndpoint.of("198.18.128.6", 51820);
  static final UdpEndpoint A1 = UdpEndpoint.of("198.18.128.1", 51820);
  static final int PACKETS = 20_000;

  /** Copies what is sent onto a wire while recording; afterwards sends and deliveries are dropped. */
  static final class Quiet implements Output {
    final ArrayDeque<byte[]> wire = new ArrayDeque<>();
    boolean recording = true;
    int delivered;

    @Override
    public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {
      if (recording) {
        wire.add(Arrays.copyOfRange(buf, off, off + len));
      }
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      delivered++;
    }
  }

  static byte[] inBuffer(byte[] msg) {
    byte[] buf = new byte[msg.length + 64];
    System.arraycopy(msg, 0, buf, 32, msg.length);
    return buf;
  }

  @ParameterizedTest(name = "endpoints listed: {0}")
  @ValueSource(ints = {1, 2})
  void openingTransportMessagesAllocatesNothingPerPacket(int listed) {
    var threads = ManagementFactory.getThreadMXBean();
    Assumptions.assumeTrue(threads instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported(),
        "this JVM does not count allocated bytes per thread");
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) threads;
    FakeClock clock = new FakeClock();
    PrivateKey ka = PrivateKey.generate();
    PrivateKey kb = PrivateKey.generate();
    Quiet outA = new Quiet();
    Quiet outB = new Quiet();
    Device a = new Device(ka, 1420, outA, clock, Aead.Impl.JAVA);
    Device b = new Device(kb, 1420, outB, clock, Aead.Impl.JAVA);
    PeerConfig toB = new PeerConfig("b", kb.publicKey(), null, B1, List.of(Prefix.parse("198.18.2.0/24")), 0, true);
    Peer bAtA = a.addPeer(listed == 1 ? toB : toB.withEndpoints(List.of(B1, B2)));
    b.addPeer(new PeerConfig("a", ka.publicKey(), null, null, List.of(Prefix.parse("198.18.1.0/24")), 0, true));
    assertThat(bAtA.paths() == null).isEqualTo(listed == 1);

    // Handshake, then B seals PACKETS pings for A.
    send(a, Pair.ping("198.18.1.5", "198.18.2.7", 0), clock.now);
    byte[] init = outA.wire.poll();
    b.inbound(inBuffer(init), 32, init.length, A1, clock.now);
    byte[] resp = outB.wire.poll();
    a.inbound(inBuffer(resp), 32, resp.length, B1, clock.now);
    byte[] first = outA.wire.poll();
    b.inbound(inBuffer(first), 32, first.length, A1, clock.now);
    assertThat(outB.delivered).isEqualTo(1);
    outA.wire.clear();
    byte[] ping = Pair.ping("198.18.2.7", "198.18.1.5", 1);
    for (int i = 0; i < PACKETS; i++) {
      send(b, ping, clock.now);
    }
    List<byte[]> bufs = new ArrayList<>();
    int len = outB.wire.peek().length;
    for (byte[] m : outB.wire) {
      bufs.add(inBuffer(m));
    }
    assertThat(bufs).hasSize(PACKETS);
    outA.recording = false;

    long now = clock.now;
    for (int i = 0; i < PACKETS / 2; i++) { // warm up: let the JIT settle
      a.inbound(bufs.get(i), 32, len, B1, now);
    }
    long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
    for (int i = PACKETS / 2; i < PACKETS; i++) {
      a.inbound(bufs.get(i), 32, len, B1, now);
    }
    long allocated = mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
    assertThat(outA.delivered).as("every packet opened and delivered").isEqualTo(PACKETS);
    assertThat(a.drops().total()).isZero();
    // The smallest object is 16 bytes: one per packet would be 160 kB. What is allowed here (under
    // one byte per packet) is the occasional one-off of the JVM's own (about 1 kB seen without a list too).
    assertThat(allocated).as("bytes allocated opening %d messages", PACKETS / 2).isLessThan(PACKETS / 2 - 1);
  }

  private static void send(Device d, byte[] pkt, long now) {
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    d.outbound(buf, 16, pkt.length, now);
  }
}
