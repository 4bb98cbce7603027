package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static io.dctun.firewall.PeerShareTest.establish;
import static io.dctun.firewall.PeerShareTest.seg;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.session.PacketFilter;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Two threads (the TUN and the UDP thread) open flows of one peer at once, hashing to different
 * segments: the share's last place is taken once, never twice, and the per-peer counts stay the
 * table's content while a third thread opens another peer's flows and sweeps.
 */
class PeerShareConcurrentTest {

  @Test
  void twoThreadsNeverTakeMoreThanTheShare() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(1 << 14).withMaxFlowsPerPeer(500));
    AtomicReference<Throwable> failure = new AtomicReference<>();
    ConcurrentLinkedQueue<Integer> up = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    Thread a = new Thread(() -> FirewallConcurrentTest.run(start, failure, () -> {
      for (int i = 0; i < 2000; i++) {
        if (establish(fw, PROD, i, 0)) {
          up.add(i);
        }
      }
    }));
    Thread b = new Thread(() -> FirewallConcurrentTest.run(start, failure, () -> {
      for (int i = 2000; i < 4000; i++) {
        if (establish(fw, PROD, i, 0)) {
          up.add(i);
        }
      }
    }));
    Thread other = new Thread(() -> FirewallConcurrentTest.run(start, failure, () -> {
      for (int i = 0; i < 300; i++) {
        assertThat(establish(fw, STAGING, i, 0)).isTrue();
        fw.expire(0);
      }
    }));
    for (Thread t : List.of(a, b, other)) {
      t.start();
    }
    start.countDown();
    for (Thread t : List.of(a, b, other)) {
      t.join();
    }
    assertThat(failure.get()).isNull();
    assertThat(fw.peerFlowCount("prod")).isEqualTo(500);
    assertThat(fw.peerFlowCount("staging")).isEqualTo(300);
    assertThat(fw.peerFlowCount("backup") + fw.peerFlowCount(null)).isZero();
    assertThat(fw.flowCount()).isEqualTo(800);
    // A half-open flow may have been replaced by the other thread's SYN, so fewer may be up;
    // every one that completed its handshake is assured and still passes.
    assertThat(up.size()).isBetween(1, 500);
    for (int i : up) {
      assertThat(out(fw, PROD, seg(PROD, i, false, ACK), 1)).isEqualTo(PacketFilter.ACCEPT);
    }
    assertThat(fw.connections().assuredCount()).isEqualTo(up.size() + 300);
  }
}
