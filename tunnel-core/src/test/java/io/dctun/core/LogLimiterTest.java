package io.dctun.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LogLimiterTest {
  static final long S = 1_000_000_000L;

  @Test
  void theFirstLineThenOnePerPeriod() {
    LogLimiter l = new LogLimiter(10 * S);
    long t0 = -5 * S; // nanoTime may be negative
    assertThat(l.allow(t0)).isTrue();
    assertThat(l.allow(t0 + 1)).isFalse();
    assertThat(l.allow(t0 + 10 * S - 1)).isFalse();
    assertThat(l.allow(t0 + 10 * S)).isTrue();
    assertThat(l.allow(t0 + 15 * S)).isFalse();
    assertThat(l.allow(t0 + 20 * S)).isTrue();
  }

  @Test
  void ofThreadsAskingAtOnceExactlyOneIsAllowed() throws Exception {
    for (int round = 0; round < 50; round++) {
      LogLimiter l = new LogLimiter(10 * S);
      int threads = 4;
      CyclicBarrier start = new CyclicBarrier(threads);
      AtomicInteger allowed = new AtomicInteger();
      Thread[] ts = new Thread[threads];
      for (int i = 0; i < threads; i++) {
        ts[i] = new Thread(() -> {
          try {
            start.await();
          } catch (Exception e) {
            return;
          }
          for (int k = 0; k < 100; k++) {
            if (l.allow(42)) {
              allowed.incrementAndGet();
            }
          }
        });
        ts[i].start();
      }
      for (Thread t : ts) {
        t.join(5000);
      }
      assertThat(allowed).as("round %d", round).hasValue(1);
    }
  }

  @Test
  void aPeriodMustBePositive() {
    assertThatThrownBy(() -> new LogLimiter(0)).isInstanceOf(IllegalArgumentException.class);
  }
}
