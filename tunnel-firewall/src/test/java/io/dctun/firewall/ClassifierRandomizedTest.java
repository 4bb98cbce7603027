package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.PublicKey;
import io.dctun.firewall.internal.Pkt;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The compiled classifier against a plain first-match scan, on random rules and packets. */
class ClassifierRandomizedTest {
  private static final PublicKey[] KEYS = {PROD, STAGING, BACKUP, STRANGER};
  private static final String[] PROTOS = {"tcp", "udp", "icmp", "icmpv6", "any", "50"};

  @Test
  void compiledMatchesLinearReference() throws Exception {
    SplittableRandom rnd = new SplittableRandom(42);
    long compared = 0;
    long matched = 0;
    for (int round = 0; round < 40; round++) {
      int n = 1 + rnd.nextInt(round < 20 ? 60 : 600);
      RuleSet.Builder b = peers();
      for (int i = 0; i < n; i++) {
        b.rule(randomRule(rnd, "r" + i));
      }
      RuleSet rs = b.build();
      Firewall fw = new Firewall(rs);
      Pkt p = new Pkt();
      for (int k = 0; k < 2000; k++) {
        byte[] pkt = randomPacket(rnd);
        assertThat(p.parse(pkt, 0, pkt.length)).isTrue();
        p.dir = rnd.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND;
        p.peer = rs.peerIndex(KEYS[rnd.nextInt(KEYS.length)]);
        p.state = rnd.nextInt(4);
        int fast = rs.firstMatch(p);
        int slow = rs.firstMatchLinear(p);
        assertThat(fast).as("round %d packet %d rules %d", round, k, n).isEqualTo(slow);
        compared++;
        if (slow >= 0) {
          matched++;
        }
        // The public path (parse + peer lookup + classify) agrees too.
        PublicKey key = KEYS[rnd.nextInt(KEYS.length)];
        assertThat(fw.classify(p.dir, key, pkt, 0, pkt.length, 0))
            .isEqualTo(fw.classifyLinear(p.dir, key, pkt, 0, pkt.length, 0));
      }
    }
    assertThat(compared).isEqualTo(80_000);
    // The universe is small on purpose, so that a good share of packets match something.
    assertThat(matched).isGreaterThan(compared / 5);
  }

  static Rule randomRule(SplittableRandom rnd, String name) {
    Rule r = Rule.named(name);
    int d = rnd.nextInt(3);
    if (d == 0) {
      r.inbound();
    } else if (d == 1) {
      r.outbound();
    }
    if (rnd.nextInt(3) == 0) {
      r.peer(rnd.nextBoolean() ? "prod" : "staging");
    }
    if (rnd.nextInt(5) == 0) {
      r.group(rnd.nextBoolean() ? "dc" : "storage");
    }
    boolean v6 = rnd.nextInt(4) == 0;
    if (rnd.nextInt(2) == 0) {
      for (int i = 0, m = 1 + rnd.nextInt(2); i < m; i++) {
        r.source(randomPrefix(rnd, v6));
      }
    }
    if (rnd.nextInt(2) == 0) {
      r.destination(randomPrefix(rnd, v6 ^ rnd.nextInt(6) == 0));
    }
    String proto = rnd.nextInt(4) == 0 ? null : PROTOS[rnd.nextInt(PROTOS.length)];
    if (proto != null) {
      r.protocol(proto);
    }
    if ("tcp".equals(proto) || "udp".equals(proto)) {
      if (rnd.nextInt(3) != 0) {
        for (int i = 0, m = 1 + rnd.nextInt(2); i < m; i++) {
          r.destinationPort(randomRange(rnd));
        }
      }
      if (rnd.nextInt(5) == 0) {
        r.sourcePort(randomRange(rnd));
      }
    }
    if (("icmp".equals(proto) || "icmpv6".equals(proto)) && rnd.nextBoolean()) {
      r.icmpType(rnd.nextInt(4) == 0 ? 0 : 8);
      if (rnd.nextBoolean()) {
        r.icmpCode(rnd.nextInt(2));
      }
    }
    if (rnd.nextInt(4) == 0) {
      r.state(new ConnState[] {ConnState.NEW, ConnState.RELATED, ConnState.INVALID}[rnd.nextInt(3)]);
    }
    r.action(Action.values()[rnd.nextInt(3)]);
    return r;
  }

  static String randomPrefix(SplittableRandom rnd, boolean v6) {
    int a = rnd.nextInt(3);
    int c = rnd.nextInt(3);
    int len = new int[] {0, 8, 16, 24, 30, 32}[rnd.nextInt(6)];
    if (v6) {
      return "fd00:" + a + "::" + c + "/" + (len == 0 ? 0 : len + 96);
    }
    return "10." + a + ".0." + c + "/" + len;
  }

  static String randomRange(SplittableRandom rnd) {
    int lo = rnd.nextInt(30);
    return rnd.nextBoolean() ? String.valueOf(lo) : lo + "-" + (lo + rnd.nextInt(10));
  }

  static byte[] randomPacket(SplittableRandom rnd) {
    boolean v6 = rnd.nextInt(4) == 0;
    String s = v6 ? "fd00:" + rnd.nextInt(3) + "::" + rnd.nextInt(4) : "10." + rnd.nextInt(3) + ".0." + rnd.nextInt(4);
    String d = v6 ? "fd00:" + rnd.nextInt(3) + "::" + rnd.nextInt(4) : "10." + rnd.nextInt(3) + ".0." + rnd.nextInt(4);
    switch (rnd.nextInt(5)) {
      case 0:
        return Packets.tcp(s, rnd.nextInt(40), d, rnd.nextInt(40), SYN);
      case 1:
        return Packets.udp(s, rnd.nextInt(40), d, rnd.nextInt(40), 4);
      case 2:
        return Packets.icmp(s, d, v6 ? (rnd.nextBoolean() ? 128 : 129) : (rnd.nextBoolean() ? 8 : 0),
            rnd.nextInt(2), new byte[4]);
      case 3:
        return Packets.raw(s, d, 50, 8);
      default:
        return Packets.icmp(s, d, rnd.nextInt(4) == 0 ? 8 : 3, rnd.nextInt(2), new byte[4]);
    }
  }

  @Test
  void tenThousandRulesCompileAndMatchReference() throws Exception {
    SplittableRandom rnd = new SplittableRandom(7);
    RuleSet.Builder b = peers();
    List<Rule> rules = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      rules.add(randomRule(rnd, "r" + i));
    }
    RuleSet rs = b.rules(rules).build();
    Pkt p = new Pkt();
    for (int k = 0; k < 5000; k++) {
      byte[] pkt = randomPacket(rnd);
      p.parse(pkt, 0, pkt.length);
      p.dir = rnd.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND;
      p.peer = rnd.nextInt(4) - 1;
      p.state = rnd.nextInt(4);
      assertThat(rs.firstMatch(p)).isEqualTo(rs.firstMatchLinear(p));
    }
  }
}
