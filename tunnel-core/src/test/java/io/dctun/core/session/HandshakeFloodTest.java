package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.CookieGenerator;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A device under a handshake flood: cookies are demanded, senders that answer them are held to
 * their per-source rate, and a genuine peer still completes its handshake.
 */
class HandshakeFloodTest {
  private static final SplittableRandom RANDOM = new SplittableRandom(13);

  /** An initiation with a random body, stamped with valid macs for {@code gen}'s key. */
  private static byte[] initiation(CookieGenerator gen, long now) {
    byte[] m = new byte[INITIATION_LENGTH];
    RANDOM.nextBytes(m);
    m[0] = 1;
    m[1] = m[2] = m[3] = 0;
    gen.addMacs(m, now);
    return m;
  }

  private static byte[] lastSentTo(Pair.Net net, UdpEndpoint to) {
    for (java.util.Iterator<Object[]> it = net.wire.descendingIterator(); it.hasNext(); ) {
      Object[] d = it.next();
      if (d[1].equals(to)) {
        return (byte[]) d[2];
      }
    }
    return null;
  }

  @Test
  void aSourceWithAValidCookieIsHeldToItsRateAndOthersStillGetThrough() {
    Pair p = new Pair(true);
    p.b.setForceUnderLoad(true);
    UdpEndpoint attacker = UdpEndpoint.of("198.19.100.1", 40000);
    CookieGenerator gen = new CookieGenerator(p.keyB.publicKey());

    byte[] first = initiation(gen, p.clock.now);
    p.b.inbound(first.clone(), 0, first.length, attacker, p.clock.now);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(1);
    byte[] reply = lastSentTo(p.netB, attacker);
    assertThat(reply).hasSize(COOKIE_REPLY_LENGTH);
    assertThat(reply.length).as("a cookie reply is smaller than what provoked it").isLessThan(first.length);
    assertThat(gen.consumeCookieReply(reply, p.clock.now)).isTrue();
    p.wire.clear();

    // With the cookie, 100 initiations at once: the first reaches the handshake and fails there
    // (the body is garbage), which costs the source its bucket and 5 s more; the other 99 are
    // refused before any Diffie-Hellman.
    for (int i = 0; i < 100; i++) {
      byte[] m = initiation(gen, p.clock.now);
      p.b.inbound(m, 0, m.length, attacker, p.clock.now);
    }
    assertThat(p.b.drops().count(DropReason.HANDSHAKE_RATE_LIMITED)).isEqualTo(99);
    assertThat(p.b.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(1);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(1);

    // Meanwhile the genuine peer A: first a cookie, then (REKEY_TIMEOUT later) a handshake.
    p.send(p.a, Pair.ping("198.18.1.10", "198.18.2.10", 1));
    p.pump();
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(2);
    p.advance(5.5);
    p.a.tick(p.clock.now);
    p.pump();
    assertThat(p.netB.delivered).as("A's queued ping arrives once its handshake completes").hasSize(1);
    assertThat(p.b.drops().count(DropReason.HANDSHAKE_RATE_LIMITED)).isEqualTo(99);

    // 5.5 s later the attacker has one more try, and after it fails, again none for 5 s.
    for (int i = 0; i < 100; i++) {
      byte[] m = initiation(gen, p.clock.now);
      p.b.inbound(m, 0, m.length, attacker, p.clock.now);
    }
    assertThat(p.b.drops().count(DropReason.HANDSHAKE_RATE_LIMITED)).isEqualTo(198);
    assertThat(p.b.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(2);
  }

  @Test
  void withoutLoadNoCookieAndNoLimit() {
    Pair p = new Pair(true);
    UdpEndpoint attacker = UdpEndpoint.of("198.19.100.1", 40000);
    CookieGenerator gen = new CookieGenerator(p.keyB.publicKey());
    for (int i = 0; i < 100; i++) {
      byte[] m = initiation(gen, p.clock.now);
      p.b.inbound(m, 0, m.length, attacker, p.clock.now);
    }
    assertThat(p.b.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(100);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isZero();
    assertThat(p.b.drops().count(DropReason.HANDSHAKE_RATE_LIMITED)).isZero();
    assertThat(p.b.isUnderLoad(p.clock.now)).isFalse();
  }

  @Test
  void loadStartsAboveTheThresholdAndLastsOneSecondMore() {
    Pair p = new Pair(true);
    p.b.setUnderLoadThreshold(10);
    UdpEndpoint attacker = UdpEndpoint.of("198.19.100.1", 40000);
    CookieGenerator gen = new CookieGenerator(p.keyB.publicKey());
    byte[] m = initiation(gen, p.clock.now); // no cookie held: mac2 is zeros
    for (int i = 0; i < 30; i++) {
      p.b.inbound(m.clone(), 0, m.length, attacker, p.clock.now);
    }
    assertThat(p.b.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(10);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(20);
    // Still busy at 0.9 s; at 1.5 s a new second's count starts low, but load holds for one
    // second after the last message above the threshold: cookies are still demanded.
    p.advance(0.9);
    p.b.inbound(m.clone(), 0, m.length, attacker, p.clock.now);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(21);
    p.advance(0.6);
    p.b.inbound(m.clone(), 0, m.length, attacker, p.clock.now);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(22);
    assertThat(p.b.isUnderLoad(p.clock.now)).isTrue();
    // Quiet for a second after the last busy moment: no longer under load.
    p.advance(0.5);
    assertThat(p.b.isUnderLoad(p.clock.now)).isFalse();
    p.b.inbound(m.clone(), 0, m.length, attacker, p.clock.now);
    assertThat(p.b.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(11);
    assertThat(p.b.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(22);
  }

  @Test
  void handshakeWorkPastItsBudgetIsLoadEvenBelowTheThreshold() {
    // A clock on which every reading is 2 ms after the last: each handshake "takes" 2 ms.
    io.dctun.core.testing.ManualClock slow = new io.dctun.core.testing.ManualClock(0, 0) {
      @Override
      public long nanoTime() {
        now += 2_000_000L;
        return now;
      }
    };
    io.dctun.crypto.PrivateKey key = io.dctun.crypto.PrivateKey.generate();
    java.util.List<byte[]> sent = new java.util.ArrayList<>();
    Device d = new Device(key, 1420, new Output() {
      @Override
      public void sendToNetwork(io.dctun.core.transport.Endpoint to, byte[] buf, int off, int len) {
        sent.add(Arrays.copyOfRange(buf, off, off + len));
      }

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    }, slow);
    UdpEndpoint attacker = UdpEndpoint.of("198.19.100.1", 40000);
    CookieGenerator gen = new CookieGenerator(key.publicKey());
    long t = 5_000_000_000L; // the time passed in, fixed: the clock only measures the work
    for (int i = 0; i < 50; i++) {
      byte[] m = initiation(gen, t);
      d.inbound(m, 0, m.length, attacker, t);
    }
    assertThat(d.drops().count(DropReason.UNKNOWN_PEER)).isEqualTo(50);
    assertThat(d.isUnderLoad(t)).as("100 ms of work: within the budget").isFalse();
    byte[] m = initiation(gen, t);
    d.inbound(m, 0, m.length, attacker, t);
    assertThat(d.isUnderLoad(t)).as("102 ms of work in one second").isTrue();
    m = initiation(gen, t);
    d.inbound(m, 0, m.length, attacker, t);
    assertThat(d.drops().count(DropReason.COOKIE_REQUIRED)).isEqualTo(1);
    assertThat(sent).hasSize(1);
    assertThat(d.isUnderLoad(t + 1_000_000_001L)).isFalse();
  }

  @Test
  void oneSlowHandshakeOnAColdStartIsNoLoad() {
    io.dctun.core.testing.ManualClock slow = new io.dctun.core.testing.ManualClock(0, 0) {
      @Override
      public long nanoTime() {
        now += 500_000_000L; // half a second per handshake
        return now;
      }
    };
    io.dctun.crypto.PrivateKey key = io.dctun.crypto.PrivateKey.generate();
    Device d = new Device(key, 1420, new Output() {
      @Override
      public void sendToNetwork(io.dctun.core.transport.Endpoint to, byte[] buf, int off, int len) {}

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    }, slow);
    CookieGenerator gen = new CookieGenerator(key.publicKey());
    long t = 5_000_000_000L;
    for (int i = 0; i < 3; i++) {
      byte[] m = initiation(gen, t);
      d.inbound(m, 0, m.length, UdpEndpoint.of("198.18.0.2", 51820), t);
    }
    assertThat(d.isUnderLoad(t)).as("a few slow handshakes (a cold JIT) are no flood").isFalse();
  }

  @Test
  void statusShowsLoadAndTheLimiter() {
    Pair p = new Pair(true);
    p.b.setForceUnderLoad(true);
    DeviceStatusTest.Recording r = new DeviceStatusTest.Recording();
    p.b.report(r);
    assertThat(r.facts).containsEntry("handshake.under-load", "gauge:1")
        .containsEntry("handshake.limiter-sources", "gauge:0")
        .containsEntry("handshake.limiter-evictions", "counter:0")
        .containsEntry("handshake.limiter-penalties", "counter:0")
        .containsEntry("drop.HANDSHAKE_RATE_LIMITED", "counter:0");
    assertThat(Arrays.asList(DropReason.values())).contains(DropReason.HANDSHAKE_RATE_LIMITED);
  }
}
