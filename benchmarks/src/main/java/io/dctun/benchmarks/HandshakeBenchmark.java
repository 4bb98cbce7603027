package io.dctun.benchmarks;

import io.dctun.crypto.CookieChecker;
import io.dctun.crypto.CookieGenerator;
import io.dctun.crypto.Handshake;
import io.dctun.crypto.LocalIdentity;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.SessionKeys;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One complete Noise_IKpsk2 handshake, both sides, MACs included: what a rekey costs. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class HandshakeBenchmark {
  LocalIdentity idA;
  LocalIdentity idB;
  PrivateKey kA;
  PrivateKey kB;
  CookieGenerator toB;
  CookieGenerator toA;
  CookieChecker atB;
  CookieChecker atA;
  long t = 1_790_000_000_000_000_000L;
  int index;

  @Setup
  public void setup() {
    kA = PrivateKey.generate();
    kB = PrivateKey.generate();
    idA = new LocalIdentity(kA);
    idB = new LocalIdentity(kB);
    toB = new CookieGenerator(kB.publicKey());
    toA = new CookieGenerator(kA.publicKey());
    atB = new CookieChecker(idB);
    atA = new CookieChecker(idA);
  }

  @Benchmark
  public SessionKeys fullHandshake() {
    Handshake a = new Handshake(idA, kB.publicKey(), null);
    Handshake b = new Handshake(idB, kA.publicKey(), null);
    byte[] init = a.createInitiation(++index, t += 1_000_000_000L);
    toB.addMacs(init, 0);
    if (!atB.checkMac1(init, 0, init.length)) {
      throw new AssertionError();
    }
    Handshake.Initiation parsed = Handshake.parseInitiation(idB, init);
    Handshake.Response r = b.createResponse(parsed, ++index);
    byte[] resp = r.message();
    toA.addMacs(resp, 0);
    if (!atA.checkMac1(resp, 0, resp.length)) {
      throw new AssertionError();
    }
    return a.consumeResponse(resp);
  }
}
