package io.dctun.firewall;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.firewall.Fixtures.*;
import static io.dctun.firewall.PeerShareTest.establish;
import static io.dctun.firewall.PeerShareTest.open;
import static io.dctun.firewall.PeerShareTest.seg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@code max-flows} changed by a reload: the connection table is resized in place, every flow it
 * holds carries on (an established connection is never cut by a resize), a smaller table evicts
 * only unassured flows, and a resize that an assured flow would not survive changes nothing.
 */
class FirewallResizeTest {

  /** Opens connections of PROD until {@code n} are established (or {@code tries} were made). */
  static List<Integer> fill(Firewall fw, int n, int tries) {
    List<Integer> up = new ArrayList<>();
    for (int i = 0; i < tries && up.size() < n; i++) {
      if (establish(fw, PROD, i, 0)) {
        up.add(i);
      }
    }
    return up;
  }

  static boolean alive(Firewall fw, int i) {
    return in(fw, PROD, seg(PROD, i, true, ACK), 1) == ACCEPT; // no flow: an ACK alone is INVALID_STATE
  }

  @Test
  void growingKeepsEveryFlowAndMakesRoomForMore() throws Exception {
    Firewall fw = open(1 << 20); // no per-peer share in the way
    List<Integer> up = fill(fw, 2000, 2000);
    assertThat(fw.reasonCount(Reason.TABLE_FULL)).as("the 1024-flow table filled up").isPositive();
    int held = fw.flowCount();

    assertThat(fw.setMaxFlows(8192)).isZero();
    assertThat(fw.maxFlows()).isEqualTo(8192);
    assertThat(fw.flowCount()).isEqualTo(held);
    for (int i : up) {
      assertThat(alive(fw, i)).as("connection %d survives the resize", i).isTrue();
    }
    long full = fw.reasonCount(Reason.TABLE_FULL);
    int more = 0;
    for (int i = 2000; i < 5000; i++) {
      more += establish(fw, PROD, i, 2) ? 1 : 0;
    }
    assertThat(more).isEqualTo(3000);
    assertThat(fw.reasonCount(Reason.TABLE_FULL)).isEqualTo(full);
  }

  @Test
  void shrinkingEvictsOnlyUnassuredFlows() throws Exception {
    Firewall fw = open(1 << 20);
    List<Integer> up = fill(fw, 40, 40); // well below what any one segment of the smaller table holds
    for (int i = 1000; i < 1700; i++) {
      in(fw, PROD, seg(PROD, i, true, SYN), 0); // unanswered: unassured
    }
    assertThat(fw.flowCount()).as("more than a 512-flow table holds").isGreaterThan(600);
    assertThat(fw.setMaxFlows(512)).isZero();
    assertThat(fw.maxFlows()).isEqualTo(512);
    assertThat(fw.flowCount()).isLessThanOrEqualTo(512);
    for (int i : up) {
      assertThat(alive(fw, i)).as("established connection %d kept", i).isTrue();
    }
  }

  @Test
  void aResizeAnAssuredFlowWouldNotSurviveChangesNothing() throws Exception {
    Firewall fw = open(1 << 20);
    List<Integer> up = fill(fw, 900, 1500);
    int held = fw.flowCount();
    int lost = fw.setMaxFlows(128);
    assertThat(lost).as("assured flows that would not fit").isPositive();
    assertThat(fw.maxFlows()).isEqualTo(1024);
    assertThat(fw.flowCount()).isEqualTo(held);
    for (int i : up) {
      assertThat(alive(fw, i)).isTrue();
    }
    assertThatThrownBy(() -> fw.setMaxFlows(10)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(">= 64");
  }

  /** Packets on established connections from another thread while the table is resized back and forth. */
  @Test
  void resizingUnderTrafficLosesNoFlow() throws Exception {
    Firewall fw = open(1 << 20);
    List<Integer> up = fill(fw, 500, 600);
    assertThat(up).hasSize(500);
    AtomicInteger refused = new AtomicInteger();
    AtomicInteger sent = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread traffic = new Thread(() -> {
      try {
        for (int round = 0; round < 200; round++) {
          for (int i : up) {
            sent.incrementAndGet();
            if (!alive(fw, i)) {
              refused.incrementAndGet();
            }
          }
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    }, "traffic");
    traffic.start();
    int resizes = 0;
    while (traffic.isAlive() && resizes < 200) {
      assertThat(fw.setMaxFlows(resizes % 2 == 0 ? 4096 : 1024)).isZero();
      resizes++;
    }
    traffic.join(60_000);
    assertThat(traffic.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(refused.get()).as("packets of established flows refused, of %d", sent.get()).isZero();
    assertThat(resizes).as("resizes done while the traffic ran").isPositive();
    assertThat(fw.flowCount()).isEqualTo(500);
  }
}
