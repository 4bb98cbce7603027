package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The per-source handshake limiter: 20/s with a burst of 5, per IPv4 address or IPv6 /64, in a fixed table. */
class HandshakeRateLimiterTest {
  private static final long MS = 1_000_000L;
  private static final long T0 = 1_000_000_000_000L;

  private static byte[] v4(int a, int b, int c, int d) {
    return new byte[] {(byte) a, (byte) b, (byte) c, (byte) d, (byte) 0xca, 0x6c}; // + port 51820
  }

  private static int allowedOf(HandshakeRateLimiter l, byte[] src, int n, long now) {
    int ok = 0;
    for (int i = 0; i < n; i++) {
      if (l.allow(src, 0, src.length, now)) {
        ok++;
      }
    }
    return ok;
  }

  @Test
  void oneSourceGetsItsBurstThenIsLimited() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    assertThat(allowedOf(l, v4(198, 19, 100, 1), 100, T0)).isEqualTo(HandshakeRateLimiter.BURST);
    assertThat(l.limited()).isEqualTo(95);
  }

  @Test
  void otherSourcesAreUnaffectedByOneThatIsLimited() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    allowedOf(l, v4(198, 19, 100, 1), 1000, T0);
    assertThat(allowedOf(l, v4(198, 19, 100, 2), 100, T0)).isEqualTo(5);
    assertThat(allowedOf(l, v4(198, 19, 100, 3), 1, T0)).isEqualTo(1);
    // The same address from another port is the same source.
    byte[] otherPort = v4(198, 19, 100, 1);
    otherPort[5] = 0x01;
    assertThat(allowedOf(l, otherPort, 1, T0)).isZero();
  }

  @Test
  void refillsAtTwentyPerSecond() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    byte[] s = v4(198, 19, 100, 7);
    assertThat(allowedOf(l, s, 10, T0)).isEqualTo(5);
    assertThat(allowedOf(l, s, 10, T0 + 49 * MS)).isZero(); // one token costs 50 ms
    assertThat(allowedOf(l, s, 10, T0 + 50 * MS)).isEqualTo(1);
    assertThat(allowedOf(l, s, 10, T0 + 150 * MS)).isEqualTo(2);
    // Idle for a long time: the bucket is full again, but holds no more than the burst.
    assertThat(allowedOf(l, s, 10, T0 + 60_000 * MS)).isEqualTo(5);
    // Sending steadily for 10 s at 1000/s: 5 + 20 per second get through.
    long t = T0 + 120_000 * MS;
    int ok = 0;
    for (int ms = 0; ms < 10_000; ms++) {
      ok += allowedOf(l, s, 1, t + ms * MS);
    }
    assertThat(ok).isBetween(5 + 199, 5 + 200);
  }

  @Test
  void ipv6SourcesAreGroupedByTheirSlash64() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    byte[] a = new byte[18];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = (byte) 0xb8;
    a[7] = 1; // 2001:db8:0:1::/64
    int ok = 0;
    for (int host = 0; host < 50; host++) {
      byte[] h = a.clone();
      h[15] = (byte) host;
      h[9] = (byte) (host * 7); // anywhere in the interface identifier
      ok += allowedOf(l, h, 1, T0);
    }
    assertThat(ok).as("50 hosts of one /64 share one bucket").isEqualTo(5);
    byte[] neighbour = a.clone();
    neighbour[7] = 2; // 2001:db8:0:2::/64
    assertThat(allowedOf(l, neighbour, 10, T0)).isEqualTo(5);
    // An IPv4 address whose bits equal part of an IPv6 prefix is still another source.
    assertThat(allowedOf(l, new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8}, 10, T0)).isEqualTo(5);
  }

  @Test
  void aMillionDistinctSourcesNeverGrowTheTable() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(4096, 42);
    byte[] s = new byte[6];
    long t = T0;
    int allowed = 0;
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long tid = Thread.currentThread().getId();
    long allocatedBefore = threads.getThreadAllocatedBytes(tid);
    for (int i = 0; i < 1_000_000; i++) {
      s[0] = (byte) 10;
      s[1] = (byte) (i >>> 16);
      s[2] = (byte) (i >>> 8);
      s[3] = (byte) i;
      if (l.allow(s, 0, 6, t)) {
        allowed++;
      }
      t += 1_000; // a million sources in one second
    }
    long allocated = threads.getThreadAllocatedBytes(tid) - allocatedBefore;
    assertThat(allowed).as("every new source gets its first message").isEqualTo(1_000_000);
    assertThat(allocated).as("bytes allocated by a million calls").isLessThan(64 * 1024);
    assertThat(l.capacity()).isEqualTo(4096);
    assertThat(l.live(t)).isLessThanOrEqualTo(4096);
    assertThat(l.evictions()).as("more live sources than slots: the oldest make room").isPositive();
  }

  @Test
  void idleBucketsAreReclaimedWithoutEvicting() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(1024, 7);
    byte[] s = new byte[4];
    long t = T0;
    // 100 rounds of 256 new sources (a quarter of the slots), each round 250 ms (a full refill)
    // after the last: the table only ever holds one round, and nothing live is pushed out.
    for (int round = 0; round < 100; round++) {
      for (int i = 0; i < 256; i++) {
        s[0] = (byte) round;
        s[2] = (byte) (i >>> 8);
        s[3] = (byte) i;
        assertThat(l.allow(s, 0, 4, t)).isTrue();
      }
      assertThat(l.live(t)).isEqualTo(256);
      t += 250 * MS;
    }
    assertThat(l.evictions()).isZero();
    assertThat(l.live(t)).isZero();
  }

  @Test
  void aLimitedSourceStaysLimitedWhileOthersComeAndGo() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(8192, 3);
    byte[] attacker = v4(198, 19, 100, 9);
    byte[] s = new byte[4];
    long t = T0;
    int attackerOk = 0;
    // One second: the attacker sends 1000 messages; 2000 other sources one message each meanwhile.
    for (int ms = 0; ms < 1000; ms++) {
      attackerOk += allowedOf(l, attacker, 1, t);
      for (int k = 0; k < 2; k++) {
        int i = ms * 2 + k;
        s[0] = 10;
        s[2] = (byte) (i >>> 8);
        s[3] = (byte) i;
        assertThat(l.allow(s, 0, 4, t)).isTrue();
      }
      t += MS;
    }
    assertThat(attackerOk).isBetween(5 + 19, 5 + 20);
    assertThat(l.evictions()).isZero();
  }

  @Test
  void aPenalisedSourceWaitsFiveSecondsForItsNextTry() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    byte[] s = v4(198, 19, 100, 5);
    assertThat(allowedOf(l, s, 1, T0)).isEqualTo(1);
    assertThat(l.penalize(s, 0, s.length, T0)).isTrue();
    assertThat(allowedOf(l, s, 10, T0 + 5_000 * MS)).isZero();
    assertThat(allowedOf(l, s, 10, T0 + 5_050 * MS)).isEqualTo(1);
    assertThat(allowedOf(l, v4(198, 19, 100, 6), 10, T0)).as("a neighbour is not penalised").isEqualTo(5);
    // Penalised while it has no entry (never seen, or evicted): the same.
    byte[] fresh = v4(198, 19, 100, 8);
    l.penalize(fresh, 0, fresh.length, T0);
    assertThat(allowedOf(l, fresh, 10, T0 + 1_000 * MS)).isZero();
    assertThat(l.penalties()).isEqualTo(2);
    assertThat(l.penalize(new byte[5], 0, 5, T0)).isFalse();
  }

  @Test
  void malformedSourcesAreRefusedAndBadCapacitiesRejected() {
    HandshakeRateLimiter l = new HandshakeRateLimiter(64, 1);
    assertThat(l.allow(new byte[5], 0, 5, T0)).isFalse();
    assertThat(l.allow(new byte[0], 0, 0, T0)).isFalse();
    assertThatThrownBy(() -> new HandshakeRateLimiter(100, 1)).hasMessageContaining("100");
    assertThatThrownBy(() -> new HandshakeRateLimiter(4, 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
