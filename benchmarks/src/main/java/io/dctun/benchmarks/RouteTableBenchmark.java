package io.dctun.benchmarks;

import io.dctun.core.route.Prefix;
import io.dctun.core.route.RouteConflictException;
import io.dctun.core.route.RouteResult;
import io.dctun.core.route.RouteTable;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
 * {@link RouteTable} lookups on the table and addresses of {@link AllowedIpsBenchmark} (10,000
 * random IPv4 and IPv6 prefixes, the same seed, 1024 lookups per invocation), so the figures
 * compare with the bare matcher; and single-route updates while another thread looks up.
 *
 * <ul>
 *   <li>{@code lookupV4}, {@code lookupV6}: one read announcement per lookup ({@code lookup}).
 *   <li>{@code lookupV4InRead}, {@code lookupV6InRead}: one announcement per 1024 lookups, as a
 *       packet thread would per batch ({@code beginRead} / {@code lookupInRead} / {@code
 *       endRead}).
 *   <li>group {@code churn}: one thread replaces a learned /32 with an ever newer version (its
 *       value alternating between two peers, so every put changes both copies and hands over),
 *       one thread runs {@code lookupV4}'s loop. Group {@code churnInRead}: the same, the reader
 *       using one read section per 1024 lookups. JMH 1.37 ignores {@code
 *       OperationsPerInvocation} in a group, so a group's lookup score counts invocations of
 *       1024 lookups: multiply by 1024 for lookups per second.
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RouteTableBenchmark {
  static final int LOOKUPS = AllowedIpsBenchmark.LOOKUPS;

  /** A table and lookup addresses built exactly as {@link AllowedIpsBenchmark#setup} does. */
  public abstract static class Table {
    final RouteTable<Integer> table = new RouteTable<>();
    final byte[] v4 = new byte[LOOKUPS * 4];
    final byte[] v6 = new byte[LOOKUPS * 16];

    /** The subclass's {@code @Param}: JMH takes parameters only in a state class itself. */
    abstract int prefixes();

    @Setup
    public void setup() {
      int prefixes = prefixes();
      SplittableRandom r = new SplittableRandom(42);
      byte[][] kept4 = new byte[prefixes][];
      byte[][] kept6 = new byte[prefixes][];
      for (int i = 0; i < prefixes; i++) {
        byte[] a = new byte[4];
        for (int j = 0; j < 4; j++) {
          a[j] = (byte) r.nextInt(256);
        }
        configure(Prefix.of(a, 8 + r.nextInt(25)), i);
        kept4[i] = a;
        byte[] b = new byte[16];
        for (int j = 0; j < 16; j++) {
          b[j] = (byte) r.nextInt(256);
        }
        configure(Prefix.of(b, 16 + r.nextInt(113)), i);
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

    /** AllowedIps.insert lets the last of two equal random prefixes win; so does this. */
    private void configure(Prefix p, int value) {
      try {
        table.putConfigured(p, value);
      } catch (RouteConflictException e) {
        table.removeConfigured(p, (Integer) e.holder());
        table.putConfigured(p, value);
      }
    }
  }

  /** One table per thread, for the lookup-only benchmarks. */
  @State(Scope.Thread)
  public static class Solo extends Table {
    @Param({"10000"})
    public int prefixes;

    @Override
    int prefixes() {
      return prefixes;
    }
  }

  /** One table shared by the updater and the reader of a group. */
  @State(Scope.Group)
  public static class Churn extends Table {
    @Param({"10000"})
    public int prefixes;

    final Prefix host = Prefix.parse("198.18.0.1/32");
    final Integer gwA = -1;
    final Integer gwB = -2;
    /** Touched by the group's one updater thread only. */
    long version;

    @Override
    int prefixes() {
      return prefixes;
    }
  }

  static int lookups(RouteTable<Integer> table, byte[] addrs, int addrLen) {
    int hits = 0;
    for (int i = 0; i < LOOKUPS; i++) {
      if (table.lookup(addrs, i * addrLen, addrLen) != null) {
        hits++;
      }
    }
    return hits;
  }

  static int lookupsInRead(RouteTable<Integer> table, byte[] addrs, int addrLen) {
    int hits = 0;
    int ticket = table.beginRead();
    try {
      for (int i = 0; i < LOOKUPS; i++) {
        if (table.lookupInRead(ticket, addrs, i * addrLen, addrLen) != null) {
          hits++;
        }
      }
    } finally {
      table.endRead(ticket);
    }
    return hits;
  }

  static RouteResult update(Churn s) {
    long v = ++s.version;
    return s.table.putLearned(s.host, (v & 1) == 0 ? s.gwA : s.gwB, "gw", v, Long.MAX_VALUE);
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV4(Solo s) {
    return lookups(s.table, s.v4, 4);
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV6(Solo s) {
    return lookups(s.table, s.v6, 16);
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV4InRead(Solo s) {
    return lookupsInRead(s.table, s.v4, 4);
  }

  @Benchmark
  @OperationsPerInvocation(LOOKUPS)
  public int lookupV6InRead(Solo s) {
    return lookupsInRead(s.table, s.v6, 16);
  }

  @Benchmark
  @Group("churn")
  @GroupThreads(1)
  public RouteResult churnUpdate(Churn s) {
    return update(s);
  }

  @Benchmark
  @Group("churn")
  @GroupThreads(1)
  public int churnLookupV4(Churn s) {
    return lookups(s.table, s.v4, 4);
  }

  @Benchmark
  @Group("churnInRead")
  @GroupThreads(1)
  public RouteResult churnInReadUpdate(Churn s) {
    return update(s);
  }

  @Benchmark
  @Group("churnInRead")
  @GroupThreads(1)
  public int churnInReadLookupV4(Churn s) {
    return lookupsInRead(s.table, s.v4, 4);
  }
}
