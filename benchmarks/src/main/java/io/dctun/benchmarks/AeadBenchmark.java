package io.dctun.benchmarks;

import io.dctun.crypto.Aead;
import io.dctun.crypto.TransportCipher;
import java.util.SplittableRandom;
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
 * The per-packet AEAD step of the fast path: ChaCha20-Poly1305 seal and open of one 1420-byte
 * inner packet (the default WireGuard MTU), in place, with a {@link TransportCipher} reused
 * across packets and the counter advancing, JDK against BouncyCastle.
 *
 * <pre>
 *   buf: [ 16-byte transport header room | 1420-byte packet | 16-byte tag room ]
 * </pre>
 *
 * Throughput in Gbit/s is 1420 * 8 * ops/s. Run with {@code -prof gc}: B/op is the allocation
 * the fast path would pay per packet.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AeadBenchmark {
  static final int HEADER = 16;
  static final int PACKET = 1420;
  static final int RING = 16;

  @Param({"JDK", "BOUNCYCASTLE", "JAVA"})
  public Aead.Impl impl;

  private TransportCipher sealer;
  private TransportCipher opener;
  private byte[] sealBuf;
  private byte[] openBuf;
  private byte[][] sealedRing;
  private long sealCounter;
  private int openIndex;

  @Setup(Level.Trial)
  public void setUp() {
    SplittableRandom rnd = new SplittableRandom(0x5eed);
    byte[] key = new byte[32];
    rnd.nextBytes(key);
    sealer = Aead.transport(impl, key, true);
    opener = Aead.transport(impl, key, false);
    sealBuf = new byte[HEADER + PACKET + TransportCipher.TAG_LENGTH];
    rnd.nextBytes(sealBuf);
    // A ring of valid packets under counters 0..RING-1, opened in turn, so consecutive opens
    // use different counters as on the wire.
    openBuf = new byte[HEADER + PACKET + TransportCipher.TAG_LENGTH];
    sealedRing = new byte[RING][];
    TransportCipher peer = Aead.transport(impl, key, true);
    for (int i = 0; i < RING; i++) {
      byte[] p = new byte[HEADER + PACKET + TransportCipher.TAG_LENGTH];
      rnd.nextBytes(p);
      peer.seal(i, p, HEADER, PACKET);
      sealedRing[i] = p;
    }
  }

  /** Seals the buffer's contents in place; they become the next packet's plaintext. */
  @Benchmark
  public int seal() {
    return sealer.seal(sealCounter++, sealBuf, HEADER, PACKET);
  }

  /**
   * Opens the next valid packet of the ring in place. The plaintext overwrites the ciphertext, so
   * the packet is copied into the work buffer first (as a UDP receive would land it); the
   * 1436-byte copy is a few percent of the AEAD's cost and the same for both implementations.
   */
  @Benchmark
  public int open() {
    int i = openIndex;
    openIndex = (i + 1) & (RING - 1);
    System.arraycopy(sealedRing[i], HEADER, openBuf, HEADER, PACKET + TransportCipher.TAG_LENGTH);
    int n = opener.open(i, openBuf, HEADER, PACKET + TransportCipher.TAG_LENGTH);
    if (n != PACKET) {
      throw new IllegalStateException("open failed: " + n);
    }
    return n;
  }
}
