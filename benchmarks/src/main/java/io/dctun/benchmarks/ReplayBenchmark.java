package io.dctun.benchmarks;

import io.dctun.core.session.ReplayWindow;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The replay check per received packet: in order, and slightly reordered within the window. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ReplayBenchmark {
  final ReplayWindow window = new ReplayWindow();
  long counter;

  @Benchmark
  public boolean inOrder() {
    return window.check(counter++);
  }

  @Benchmark
  public boolean reordered() {
    long c = counter++;
    // Swap neighbours: 1,0,3,2,5,4,...
    return window.check(c ^ 1);
  }
}
