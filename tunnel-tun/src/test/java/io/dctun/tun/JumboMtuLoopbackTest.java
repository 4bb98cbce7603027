package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.DropReason;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An MTU of 9000 works end to end over the Netty UDP transport: two engines on 127.0.0.1 (nothing
 * leaves the host; no root needed), each over an in-memory TUN of MTU 9000, move packets of 8000
 * bytes and more through a real handshake, byte for byte. Receive slots of 2 KiB, as before, cut
 * such a message short and it failed to decrypt.
 */
class JumboMtuLoopbackTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final int MTU = 9000;
  private final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closeMe.size() - 1; i >= 0; i--) {
      closeMe.get(i).close();
    }
  }

  final class Site {
    final PrivateKey key = PrivateKey.generate();
    final InMemoryDevice tun;
    final NettyUdpTransport udp;
    final Device device;
    final Engine engine;

    Site(String name) throws Exception {
      tun = new InMemoryDevice(name, MTU, 64);
      udp = NettyUdpTransport.bind(InetAddress.getLoopbackAddress(), 0);
      closeMe.add(udp);
      device = new Device(key, MTU, Engine.output(udp, tun, new AtomicLong()), Clock.SYSTEM);
      engine = new Engine(device, List.of(tun), udp, Clock.SYSTEM);
      closeMe.add(engine);
    }
  }

  @Test
  void packetsOf8000BytesAndMoreCrossTheTunnelWhole() throws Exception {
    Site a = new Site("a");
    Site b = new Site("b");
    assertThat(a.udp.maxMessageLength()).isGreaterThanOrEqualTo(a.device.maxMessageLength());
    a.device.addPeer(PeerConfig.of(b.key.publicKey(), UdpEndpoint.of(b.udp.localAddress()), "198.18.2.0/24"));
    b.device.addPeer(PeerConfig.of(a.key.publicKey(), (UdpEndpoint) null, "198.18.1.0/24"));
    a.engine.start();
    b.engine.start();

    SplittableRandom r = new SplittableRandom(9000);
    for (int size : new int[] {8000, 8192, MTU}) {
      byte[] request = ping(r, "198.18.1.5", "198.18.2.7", size, size);
      assertThat(a.tun.inject(request)).isTrue();
      assertThat(b.tun.takeWritten(WAIT)).as("A's %d-byte packet at B's TUN", size).containsExactly(request);

      byte[] reply = ping(r, "198.18.2.7", "198.18.1.5", size - 1, size);
      assertThat(b.tun.inject(reply)).isTrue();
      assertThat(a.tun.takeWritten(WAIT)).as("B's %d-byte packet at A's TUN", size - 1).containsExactly(reply);
    }
    assertThat(a.device.drops().count(DropReason.DECRYPT_FAILED) + b.device.drops().count(DropReason.DECRYPT_FAILED)).isZero();
    assertThat(a.udp.sendErrors() + b.udp.sendErrors()).isZero();
  }

  @Test
  void anEngineRefusesATransportWhoseSlotsAreSmallerThanItsMtuNeeds() throws Exception {
    NettyUdpTransport small = NettyUdpTransport.bind(InetAddress.getLoopbackAddress(), 0, false, 2048);
    closeMe.add(small);
    InMemoryDevice tun = new InMemoryDevice("s", MTU, 4);
    Device d = new Device(PrivateKey.generate(), MTU, Engine.output(small, tun, new AtomicLong()), Clock.SYSTEM);
    org.junit.jupiter.api.Assumptions.assumeTrue(small.kind().equals("epoll"),
        "Netty's native epoll does not load here; NIO reads into 64 KiB buffers, which any MTU fits");
    assertThatThrownBy(() -> Engine.manuallyTicked(d, List.of(tun), Transports.of(small), Clock.SYSTEM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("2048")
        .hasMessageContaining("MTU of 9000 needs 9032");
    Device fits = new Device(PrivateKey.generate(), 2016, Engine.output(small, tun, new AtomicLong()), Clock.SYSTEM);
    closeMe.add(Engine.manuallyTicked(fits, List.of(tun), Transports.of(small), Clock.SYSTEM));
  }

  /** An ICMP echo request of exactly {@code total} bytes with a random payload, in a buffer of {@code room}. */
  private static byte[] ping(SplittableRandom r, String src, String dst, int total, int room) {
    byte[] payload = new byte[total - IcmpEcho.V4_OVERHEAD];
    r.nextBytes(payload);
    byte[] buf = new byte[room + 64];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, total, payload);
    assertThat(n).isEqualTo(total);
    return Arrays.copyOf(buf, n);
  }

  private static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }
}
