package io.dctun.benchmarks;

import io.dctun.core.Clock;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.PeerConfig;
import io.dctun.crypto.Aead;
import io.dctun.crypto.PrivateKey;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A 1420-byte inner packet through the whole protocol path of {@link Device}, not just the
 * cipher: validation, allowed-IPs lookup, keypair, counter, padding, transport header and an
 * in-place seal ({@code seal}); and that plus dispatch by receiver index, the replay window, an
 * in-place open and the inner-source check on the far side ({@code sealAndOpen}). Open alone
 * costs the difference. Compare with {@code AeadBenchmark} on the same JVM.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SessionBenchmark {
  static final int SIZE = 1420;
  static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.0.1", 51820);
  static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.2", 51820);

  @Param({"JDK", "BOUNCYCASTLE", "JAVA"})
  public String impl;

  /** Captures what a device emits without copying it: the benchmark hands it on in place. */
  static final class Capture implements Output {
    byte[] buf;
    int off;
    int len;
    int delivered;

    @Override
    public void sendToNetwork(Endpoint endpoint, byte[] b, int o, int l) {
      buf = b;
      off = o;
      len = l;
    }

    @Override
    public void deliverToDevice(byte[] b, int o, int l) {
      delivered += l;
    }
  }

  Capture outA = new Capture();
  Capture outB = new Capture();
  Device a;
  Device b;
  byte[] packet = new byte[16 + SIZE + 64];
  byte[] work = new byte[16 + SIZE + 64];
  long now;

  @Setup(Level.Trial)
  public void setup() {
    Aead.Impl aead = Aead.Impl.valueOf(impl);
    PrivateKey ka = PrivateKey.generate();
    PrivateKey kb = PrivateKey.generate();
    Clock clock = Clock.SYSTEM;
    a = new Device(ka, SIZE, outA, clock, aead);
    b = new Device(kb, SIZE, outB, clock, aead);
    a.addPeer(PeerConfig.of(kb.publicKey(), EP_B, "198.18.2.0/24"));
    b.addPeer(PeerConfig.of(ka.publicKey(), EP_A, "198.18.1.0/24"));
    // A 1420-byte UDP packet 198.18.1.1 -> 198.18.2.1.
    int o = 16;
    packet[o] = 0x45;
    packet[o + 2] = (byte) (SIZE >>> 8);
    packet[o + 3] = (byte) SIZE;
    packet[o + 8] = 64;
    packet[o + 9] = 17;
    packet[o + 12] = (byte) 198;
    packet[o + 13] = 18;
    packet[o + 14] = 1;
    packet[o + 15] = 1;
    packet[o + 16] = (byte) 198;
    packet[o + 17] = 18;
    packet[o + 18] = 2;
    packet[o + 19] = 1;
    IpPacket.writeIpv4Checksum(packet, o, SIZE);
    // Handshake: A's first packet queues and initiates; deliver the messages back and forth.
    now = System.nanoTime();
    System.arraycopy(packet, 0, work, 0, work.length);
    a.outbound(work, 16, SIZE, now);
    for (int i = 0; i < 4 && outA.buf != null; i++) {
      byte[] m = java.util.Arrays.copyOfRange(outA.buf, outA.off, outA.off + outA.len);
      outA.buf = null;
      b.inbound(m, 0, m.length, EP_A, now);
      if (outB.buf != null) {
        byte[] r = java.util.Arrays.copyOfRange(outB.buf, outB.off, outB.off + outB.len);
        outB.buf = null;
        a.inbound(r, 0, r.length, EP_B, now);
      }
    }
    if (a.peers().iterator().next().currentKeypair() == null) {
      throw new IllegalStateException("handshake did not complete in setup");
    }
  }

  @Benchmark
  public int seal() {
    System.arraycopy(packet, 16, work, 16, SIZE);
    a.outbound(work, 16, SIZE, now);
    return outA.len;
  }

  @Benchmark
  public int sealAndOpen() {
    System.arraycopy(packet, 16, work, 16, SIZE);
    a.outbound(work, 16, SIZE, now);
    b.inbound(outA.buf, outA.off, outA.len, EP_A, now);
    return outB.delivered;
  }
}
