package io.dctun.benchmarks;

import io.dctun.core.route.AllowedIps;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Longest-prefix match with 10,000 random IPv4 and IPv6 prefixes (lengths 8-32 / 16-128),
 * looking up addresses read straight from a packet-like buffer, 1024 per invocation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AllowedIpsBenchmark {
  static final int LOOKUPS = 1024;

  @Param({"10000"})
  public int prefixes;

  final AllowedIps<Integer> table = new AllowedIps<>();
  byte[] v4 = new byte[LOOKUPS * 4];
  byte[] v6 = new byte[LOOKUPS * 16];

  @Setup
  public void setup() {
    SplittableRandom r = new SplittableRandom(42);
    byte[][] kept4 = new byte[prefixes][];
    byte[][] kept6 = new byte[prefixes][];
    for (int i = 0; i < prefixes; i++) {
      byte[] a = new byte[4];
      for (int j = 0; j < 4; j++) {
        a[j] = (byte) r.nextInt(256);
      }
      table.insert(a, 8 + r.nextInt(25), i);
      kept4[i] = a;
      byte[] b = new byte[16];
      for (int j = 0; j < 16; j++) {
        b[j] = (byte) r.nextInt(256);
      }
      table.insert(b, 16 + r.nextInt(113), i);
      kept6[i] = b;
    }
    // Half the lookups hit a configured address, half are random.
    for (int i = 0; i < LOOKUPS; i++) {
      byte[] a = i % 2 == 0 ? kept4[r.nextInt(prefixes)] : new byte[] {(byte) r.nextInt(256), (byte) r.nextInt(256), (byte) r.nextInt(256), (byte) r.nextInt(256)};
      System.arraycopy(a, 0, v4, i * 4, 4);
      byte[] b = kept6[r.nextInt(prefixes)];
      System.arraycopy(b, 0, v6, i * 16, 16);
    }
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV4() {
    int hits = 0;
    for (int i = 0; i < LOOKUPS; i++) {
      if (table.lookup(v4, i * 4, 4) != null) {
        hits++;
      }
    }
    return hits;
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV6() {
    int hits = 0;
    for (int i = 0; i < LOOKUPS; i++) {
      if (table.lookup(v6, i * 16, 16) != null) {
        hits++;
      }
    }
    return hits;
  }
}
