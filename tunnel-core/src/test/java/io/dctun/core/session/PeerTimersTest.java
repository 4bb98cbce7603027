package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The passive timers alone, and the staged queue alone: time in, decisions out. */
class PeerTimersTest {
  static final long S = 1_000_000_000L;

  @Test
  void dataReceivedAndNotAnsweredMakesAKeepaliveDueAfterTenSeconds() {
    PeerTimers t = new PeerTimers();
    t.dataReceived(100 * S);
    assertThat(t.keepaliveDue(100 * S + Timers.KEEPALIVE_TIMEOUT - 1)).isFalse();
    assertThat(t.keepaliveDue(100 * S + Timers.KEEPALIVE_TIMEOUT)).isTrue();
    t.sent(105 * S); // anything we send answers it
    assertThat(t.keepaliveDue(200 * S)).isFalse();
  }

  @Test
  void dataSentAndNotAnsweredMakesOneHandshakeDue() {
    PeerTimers t = new PeerTimers();
    t.dataSent(100 * S);
    t.dataSent(101 * S); // the first unanswered send counts
    long due = 100 * S + Timers.KEEPALIVE_TIMEOUT + Timers.REKEY_TIMEOUT;
    assertThat(t.takeHandshakeDue(due - 1)).isFalse();
    assertThat(t.takeHandshakeDue(due)).isTrue();
    assertThat(t.takeHandshakeDue(due + S)).as("consumed: one handshake per silence").isFalse();
    t.dataSent(200 * S);
    t.received(201 * S);
    assertThat(t.takeHandshakeDue(300 * S)).as("answered").isFalse();
  }

  @Test
  void persistentKeepaliveFollowsTheLastMessageEitherWay() {
    PeerTimers t = new PeerTimers();
    assertThat(t.persistentKeepaliveDue(S, 25)).as("nothing yet").isTrue();
    assertThat(t.persistentKeepaliveDue(S, 0)).as("off").isFalse();
    t.sent(100 * S);
    t.received(110 * S);
    assertThat(t.persistentKeepaliveDue(134 * S, 25)).isFalse();
    assertThat(t.persistentKeepaliveDue(135 * S, 25)).isTrue();
  }

  @Test
  void theStagedQueueKeepsTheNewestAndCopies() {
    StagedQueue q = new StagedQueue(2);
    byte[] b = {1, 2, 3};
    assertThat(q.add(b, 0, 3)).isFalse();
    b[0] = 9; // the queue holds a copy
    assertThat(q.add(b, 1, 2)).isFalse();
    assertThat(q.add(b, 0, 1)).as("full: the oldest goes").isTrue();
    byte[][] all = q.drain();
    assertThat(all).hasNumberOfRows(2);
    assertThat(all[0]).containsExactly(2, 3);
    assertThat(all[1]).containsExactly(9);
    assertThat(q.size()).isZero();
    q.add(b, 0, 3);
    assertThat(q.clear()).isEqualTo(1);
  }
}
