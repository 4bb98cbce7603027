package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The TUN thread and the UDP thread classify at once while the configuration reloads. */
class FirewallConcurrentTest {

  @Test
  void twoThreadsAndReloadsKeepFlowsAndCounters() throws Exception {
    Firewall fw = ConnTrackTest.open(1 << 16);
    int flows = 2000;
    int rounds = 20;
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong drops = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    // Inbound thread opens flows and sends client segments; outbound thread answers.
    Thread inbound = new Thread(() -> run(start, failure, () -> {
      for (int i = 0; i < flows; i++) {
        if (in(fw, PROD, ConnTrackTest.seg(i, true, SYN), 0) != 0) {
          drops.incrementAndGet();
        }
      }
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < flows; i++) {
          fw.filterInbound(PROD, ConnTrackTest.seg(i, true, ACK), 0, 40, 1);
        }
      }
    }));
    Thread outbound = new Thread(() -> run(start, failure, () -> {
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < flows; i++) {
          fw.filterOutbound(PROD, ConnTrackTest.seg(i, false, r == 0 ? SYN_ACK : ACK), 0, 40, 1);
        }
      }
    }));
    Thread reloader = new Thread(() -> run(start, failure, () -> {
      for (int r = 0; r < 50; r++) {
        fw.install(peers().rule(Rule.named("pg").inbound().protocol("tcp")
            .destinationPort("5432").action(Action.ACCEPT)).build());
      }
    }));
    inbound.start();
    outbound.start();
    reloader.start();
    start.countDown();
    inbound.join();
    outbound.join();
    reloader.join();
    assertThat(failure.get()).isNull();
    assertThat(drops.get()).isZero();
    assertThat(fw.connections().size()).isEqualTo(flows);
    assertThat(fw.reasonCount(Reason.REVOKED_BY_RELOAD)).isZero();
    // Whatever interleaving, after a final exchange every flow is established and passes.
    for (int i = 0; i < flows; i++) {
      fw.filterOutbound(PROD, ConnTrackTest.seg(i, false, SYN_ACK), 0, 40, 2);
      fw.filterInbound(PROD, ConnTrackTest.seg(i, true, ACK), 0, 40, 2);
      assertThat(fw.filterOutbound(PROD, ConnTrackTest.seg(i, false, ACK), 0, 40, 2)).isZero();
    }
    assertThat(fw.connections().assuredCount()).isEqualTo(flows);
  }

  interface Body {
    void run() throws Exception;
  }

  static void run(CountDownLatch start, AtomicReference<Throwable> failure, Body b) {
    try {
      start.await();
      b.run();
    } catch (Throwable t) {
      failure.compareAndSet(null, t);
    }
  }
}
