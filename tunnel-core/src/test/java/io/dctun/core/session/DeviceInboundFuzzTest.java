package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fuzz target for the WireGuard message codec as the network reaches it: {@link Device#inbound}.
 * Each input picks a real message of an established session (initiation, response, cookie reply,
 * data, keepalive), mutates it (bytes, length), and hands it to one of the two devices. Whatever
 * arrives, the device does not throw, every message it neither delivers nor answers is counted as
 * a drop, and the session survives: a ping from A still reaches B afterwards.
 */
class DeviceInboundFuzzTest {
  private static Pair pair;
  private static final List<byte[]> toA = new ArrayList<>();
  private static final List<byte[]> toB = new ArrayList<>();
  private static int seq;

  private static synchronized Pair pair() {
    if (pair == null) {
      Pair p = new Pair(true);
      p.send(p.a, Pair.ping("198.18.1.1", "198.18.2.1", 0));
      p.pump(); // initiation, response, the queued ping, B's keepalive
      assertThat(p.netB.delivered).hasSize(1);
      collect(p);
      p.b.setForceUnderLoad(true); // one initiation answered with a cookie reply
      p.a.initiateNow(p.keyB.publicKey(), p.clock.now);
      p.pump();
      p.b.setForceUnderLoad(false);
      collect(p);
      p.advance(1); // past the initiation flood limit
      p.a.initiateNow(p.keyB.publicKey(), p.clock.now);
      p.pump(); // a fresh session: the captured messages are now old ones
      collect(p);
      assertThat(toA).isNotEmpty();
      assertThat(toB).isNotEmpty();
      pair = p;
    }
    return pair;
  }

  private static void collect(Pair p) {
    toB.addAll(p.netA.sent);
    toA.addAll(p.netB.sent);
    p.netA.sent.clear();
    p.netB.sent.clear();
  }

  @FuzzTest(maxDuration = "5s")
  void anyMessageIsCountedAndTheSessionSurvives(FuzzedDataProvider in) {
    Pair p = pair();
    boolean atB = in.consumeBoolean();
    List<byte[]> bases = atB ? toB : toA;
    byte[] base = bases.get(in.consumeInt(0, bases.size() - 1));
    int len = in.consumeBoolean() ? base.length : in.consumeInt(0, base.length + 64);
    byte[] msg = Arrays.copyOf(base, len);
    int edits = in.consumeInt(0, 8);
    for (int i = 0; i < edits && len > 0; i++) {
      msg[in.consumeInt(0, len - 1)] = in.consumeByte();
    }
    if (in.consumeBoolean()) {
      byte[] tail = in.consumeRemainingAsBytes();
      msg = Arrays.copyOf(msg, Math.min(len + tail.length, 2048));
      System.arraycopy(tail, 0, msg, len, msg.length - len);
      len = msg.length;
    }
    Endpoint from = in.consumeBoolean() ? (atB ? Pair.EP_A : Pair.EP_B) : UdpEndpoint.of("198.18.9.9", 40000);

    Device d = atB ? p.b : p.a;
    Pair.Net net = atB ? p.netB : p.netA;
    long dropsBefore = d.drops().total();
    int deliveredBefore = net.delivered.size();
    int sentBefore = net.sent.size();
    byte[] buf = new byte[len + 64];
    System.arraycopy(msg, 0, buf, 32, len);
    d.inbound(buf, 32, len, from, p.clock.now);

    boolean delivered = net.delivered.size() > deliveredBefore;
    boolean answered = net.sent.size() > sentBefore;
    assertThat(delivered || answered || d.drops().total() > dropsBefore)
        .as("a message that is neither delivered nor answered is counted as a drop: %s", d.drops().snapshot())
        .isTrue();
    p.wire.clear(); // answers to spoofed sources go nowhere

    int before = p.netB.delivered.size();
    p.send(p.a, Pair.ping("198.18.1.1", "198.18.2.1", ++seq & 0xFFFF));
    p.pump();
    assertThat(p.netB.delivered).as("the session survives any input").hasSize(before + 1);
    p.netA.sent.clear();
    p.netB.sent.clear();
    p.netA.delivered.clear();
    p.netB.delivered.clear();
  }
}
