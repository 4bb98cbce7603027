package io.dctun.firewall;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Firewall#explain} runs the data path's decision, so for every packet it must give the
 * verdict the data path then gives: the same accept or not, the same reason counted, and for a
 * REJECT a reply or a drop. Each packet is explained first (which must change nothing), then
 * filtered, so both see the same connection table; the sequences drive flows through their
 * states, reloads, full tables, rejects and module rules.
 */
class ExplainMatchesDataPathTest {

  /** Explains, filters, and asserts the two agree; returns the data path's result. */
  static int both(Firewall fw, Direction dir, PublicKey peer, byte[] pkt, long now) {
    Map<Reason, Long> before = fw.reasonCounts();
    int flows = fw.connections().size();
    List<RuleStats> stats = fw.ruleStats();
    Explanation e = fw.explain(dir, peer, pkt.clone(), 0, pkt.length, now);
    assertThat(fw.reasonCounts()).as("explain counts nothing").isEqualTo(before);
    assertThat(fw.connections().size()).as("explain tracks nothing").isEqualTo(flows);
    assertThat(fw.ruleStats()).as("explain touches no rule counter").isEqualTo(stats);
    assertThat(e.steps()).isNotEmpty();

    int r = dir == Direction.INBOUND ? in(fw, peer, pkt, now) : out(fw, peer, pkt, now);
    Map<Reason, Long> after = fw.reasonCounts();
    List<Reason> counted = new ArrayList<>();
    for (Reason x : Reason.values()) {
      for (long n = before.get(x); n < after.get(x); n++) {
        counted.add(x);
      }
    }
    String what = dir + " " + e + " " + e.steps();
    assertThat(counted).as("reason counted by the data path for " + what).containsExactly(e.reason());
    switch (e.action()) {
      case ACCEPT -> assertThat(r).as(what).isEqualTo(ACCEPT);
      case DROP -> assertThat(r).as(what).isEqualTo(DROP);
      case REJECT -> assertThat(r).as(what).isNotEqualTo(ACCEPT);
    }
    return r;
  }

  static int in2(Firewall fw, PublicKey peer, byte[] pkt, long now) {
    return both(fw, Direction.INBOUND, peer, pkt, now);
  }

  static int out2(Firewall fw, PublicKey peer, byte[] pkt, long now) {
    return both(fw, Direction.OUTBOUND, peer, pkt, now);
  }

  static byte[] c2s(int port, int flags) {
    return Packets.tcp("10.1.3.4", port, "10.2.5.10", 5432, flags);
  }

  static byte[] s2c(int port, int flags) {
    return Packets.tcp("10.2.5.10", 5432, "10.1.3.4", port, flags);
  }

  @Test
  void agreesThroughTcpLifecycles() throws Exception {
    Firewall fw = FirewallTest.stagingFirewall();
    // Open, data, close from both sides, stragglers, port reuse.
    assertThat(in2(fw, PROD, c2s(40000, SYN), 0)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, SYN), 0)).isEqualTo(ACCEPT); // retransmitted SYN
    assertThat(out2(fw, PROD, s2c(40000, ACK), 0)).isEqualTo(DROP); // out of step
    assertThat(out2(fw, PROD, s2c(40000, SYN_ACK), 0)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, ACK), 0)).isEqualTo(ACCEPT);
    assertThat(out2(fw, PROD, s2c(40000, ACK | IpPacketFlags.PSH), SEC)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, SYN), SEC)).isEqualTo(DROP); // SYN in an open flow
    assertThat(in2(fw, PROD, c2s(40000, FIN_ACK), 2 * SEC)).isEqualTo(ACCEPT);
    assertThat(out2(fw, PROD, s2c(40000, FIN_ACK), 2 * SEC)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, ACK), 2 * SEC)).isEqualTo(ACCEPT);
    assertThat(out2(fw, PROD, s2c(40000, ACK), 3 * SEC)).isEqualTo(ACCEPT); // in TIME_WAIT
    assertThat(in2(fw, PROD, c2s(40000, SYN), 4 * SEC)).isEqualTo(ACCEPT); // port reuse: new flow
    // RST, then silence past CLOSE's 10 s.
    out2(fw, PROD, s2c(40000, SYN_ACK), 4 * SEC);
    in2(fw, PROD, c2s(40000, ACK), 4 * SEC);
    assertThat(out2(fw, PROD, s2c(40000, RST), 5 * SEC)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, ACK), 16 * SEC)).isEqualTo(DROP);
    // No flow: the wrong peer, the wrong direction, a mid-stream segment.
    assertThat(out2(fw, STAGING, s2c(40001, SYN_ACK), 16 * SEC)).isEqualTo(DROP);
    assertThat(out2(fw, PROD, Packets.tcp("10.2.5.10", 50000, "10.1.3.4", 5432, SYN), 16 * SEC))
        .isEqualTo(DROP);
    assertThat(in2(fw, PROD, c2s(40002, ACK), 16 * SEC)).isEqualTo(DROP);
    // A SYN_SENT flow that timed out.
    in2(fw, PROD, c2s(40003, SYN), 16 * SEC);
    assertThat(out2(fw, PROD, s2c(40003, SYN_ACK), 137 * SEC)).isEqualTo(DROP);
    // Malformed.
    byte[] bad = c2s(40004, SYN);
    bad[2] = (byte) 0xFF;
    assertThat(in2(fw, PROD, bad, 140 * SEC)).isEqualTo(DROP);
  }

  @Test
  void agreesAcrossReload() throws Exception {
    Firewall fw = FirewallTest.stagingFirewall();
    for (String host : new String[] {"10.1.3.4", "10.1.9.9"}) {
      in2(fw, PROD, Packets.tcp(host, 40000, "10.2.5.10", 5432, SYN), 0);
      out2(fw, PROD, Packets.tcp("10.2.5.10", 5432, host, 40000, SYN_ACK), 0);
      in2(fw, PROD, Packets.tcp(host, 40000, "10.2.5.10", 5432, ACK), 0);
    }
    fw.reload(peers()
        .rule(Rule.named("pg-replica-only").inbound().peer("prod").source("10.1.3.0/24")
            .destination("10.2.5.10").protocol("tcp").destinationPort("5432").action(Action.ACCEPT)));
    // Kept (re-checked from the reply side first), revoked, then gone.
    assertThat(out2(fw, PROD, s2c(40000, ACK), 1)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, c2s(40000, ACK), 1)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, Packets.tcp("10.1.9.9", 40000, "10.2.5.10", 5432, ACK), 1)).isEqualTo(DROP);
    assertThat(out2(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.9.9", 40000, ACK), 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.REVOKED_BY_RELOAD)).isEqualTo(1);
  }

  @Test
  void agreesOnRejectsRelatedAndPings() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-ssh").inbound().protocol("tcp").destinationPort("22")
            .state(ConnState.NEW, ConnState.INVALID).action(Action.REJECT))
        .rule(Rule.named("no-snmp").outbound().protocol("udp").destinationPort("161").action(Action.REJECT))
        .rule(Rule.named("no-redirect").protocol("icmp").icmpType(5).state(ConnState.RELATED)
            .action(Action.DROP))
        .rule(Rule.named("out-udp").outbound().protocol("udp").action(Action.ACCEPT))
        .rule(Rule.named("ping-out").outbound().protocol("icmp").icmpType(8).action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withRejectsPerSecond(1));
    assertThat(in2(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 22, SYN), 1)).isPositive();
    assertThat(in2(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 22, ACK), 1))
        .isEqualTo(DROP); // rejected, reply budget spent
    in2(fw, PROD, Packets.tcp("10.1.3.4", 40002, "10.2.5.10", 22, RST), 1);
    out2(fw, PROD, Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 10), 2 * SEC);
    byte[] query = Packets.udp("10.2.0.1", 5001, "10.1.0.9", 53, 12);
    assertThat(out2(fw, PROD, query, 2 * SEC)).isEqualTo(ACCEPT);
    byte[] quote = new byte[28];
    System.arraycopy(query, 0, quote, 0, 28);
    assertThat(in2(fw, PROD, Packets.icmpError("10.1.0.9", "10.2.0.1", 3, 3, quote), 2 * SEC))
        .isEqualTo(ACCEPT); // related
    assertThat(in2(fw, PROD, Packets.icmpError("10.1.0.9", "10.2.0.1", 5, 1, quote), 2 * SEC))
        .isEqualTo(DROP); // related, dropped by rule
    assertThat(in2(fw, STAGING, Packets.icmpError("10.1.0.9", "10.2.0.1", 3, 3, quote), 2 * SEC))
        .isEqualTo(DROP); // quotes no flow of that peer: invalid
    assertThat(in2(fw, PROD, Packets.udp("10.1.0.9", 53, "10.2.0.1", 5001, 40), 3 * SEC)).isEqualTo(ACCEPT);
    assertThat(out2(fw, PROD, Packets.echo("10.2.0.1", "10.1.0.1", true, 77), 3 * SEC)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, Packets.echo("10.1.0.1", "10.2.0.1", false, 77), 3 * SEC)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, Packets.echo("10.1.0.1", "10.2.0.1", false, 78), 3 * SEC)).isEqualTo(DROP);
    assertThat(in2(fw, PROD, Packets.raw("10.1.0.1", "10.2.0.1", 50, 8), 3 * SEC)).isEqualTo(DROP);
  }

  @Test
  void agreesOnModuleRules() throws Exception {
    long[] wall = {9 * 3600 * SEC};
    Clock clock = new Clock() {
      @Override
      public long nanoTime() {
        return 0;
      }

      @Override
      public long wallClockNanos() {
        return wall[0];
      }
    };
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("office-ssh").inbound().protocol("tcp").destinationPort("22")
            .match("time-window", Map.of("from", "08:00", "to", "18:00")).action(Action.ACCEPT))
        .rule(Rule.named("dns-limited").inbound().protocol("udp").destinationPort("53")
            .match("rate-limit", Map.of("rate", "1000", "burst", "1000")).action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withClock(clock));
    assertThat(in2(fw, PROD, Packets.tcp("10.1.0.1", 1000, "10.2.0.1", 22, SYN), 1)).isEqualTo(ACCEPT);
    wall[0] = 19 * 3600 * SEC;
    assertThat(in2(fw, PROD, Packets.tcp("10.1.0.1", 1001, "10.2.0.1", 22, SYN), 1)).isEqualTo(DROP);
    assertThat(out2(fw, PROD, Packets.tcp("10.2.0.1", 22, "10.1.0.1", 1000, SYN_ACK), 2)).isEqualTo(ACCEPT);
    assertThat(in2(fw, PROD, Packets.udp("10.1.0.1", 2000, "10.2.0.53", 53, 10), 2)).isEqualTo(ACCEPT);
  }

  @Test
  void agreesWhenTheTableIsFull() throws Exception {
    Firewall fw = ConnTrackTest.open(64);
    int full = 0;
    for (int i = 0; i < 400; i++) {
      if (in2(fw, PROD, ConnTrackTest.seg(i, true, SYN), 0) == ACCEPT) {
        out2(fw, PROD, ConnTrackTest.seg(i, false, SYN_ACK), 0);
        in2(fw, PROD, ConnTrackTest.seg(i, true, ACK), 0);
      } else {
        full++;
      }
    }
    assertThat(full).isPositive().isEqualTo(fw.reasonCount(Reason.TABLE_FULL));
    // Half-open flows can be evicted for new ones; expired ones reclaimed.
    for (int i = 400; i < 500; i++) {
      in2(fw, PROD, ConnTrackTest.seg(i, true, SYN), 432_001 * SEC);
    }
  }

  @Test
  void agreesWhenAPeerHoldsItsShare() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(1024).withMaxFlowsPerPeer(20));
    // prod: 20 assured flows, then refused; its half-open ones can be replaced; staging still in.
    for (int i = 0; i < 30; i++) {
      if (in2(fw, PROD, ConnTrackTest.seg(i, true, SYN), 0) == ACCEPT) {
        out2(fw, PROD, ConnTrackTest.seg(i, false, SYN_ACK), 0);
        in2(fw, PROD, ConnTrackTest.seg(i, true, ACK), 0);
      }
    }
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(10);
    for (int i = 0; i < 40; i++) {
      in2(fw, STAGING, ConnTrackTest.seg(i, true, SYN), 1);
    }
    assertThat(fw.peerFlowCount("staging")).isEqualTo(20);
    // Expired flows of the peer (UDP would be sooner; TCP ESTABLISHED lives 5 days).
    for (int i = 100; i < 130; i++) {
      in2(fw, PROD, ConnTrackTest.seg(i, true, SYN), 432_001 * SEC);
    }
    assertThat(fw.peerFlowCount("prod")).isLessThanOrEqualTo(20);
  }

  /**
   * Random packets of a few dozen flows (client on either side, a few hosts and ports), from
   * either end, with random TCP flags, peers and pauses; a reload half way.
   */
  @Test
  void agreesOnRandomTraffic() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("deny-telnet").protocol("tcp").destinationPort("23").action(Action.REJECT))
        .rule(Rule.named("pg").inbound().peer("prod").protocol("tcp").destinationPort("5432")
            .action(Action.ACCEPT))
        .rule(Rule.named("dns").outbound().protocol("udp").destinationPort("53").action(Action.ACCEPT))
        .rule(Rule.named("drop-invalid").inbound().group("storage").state(ConnState.INVALID)
            .action(Action.DROP))
        .rule(Rule.named("ping").protocol("icmp").icmpType(8).action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(64));
    SplittableRandom r = new SplittableRandom(42);
    String[] near = {"10.1.0.1", "10.1.0.2", "10.1.0.3"};
    String[] far = {"10.2.0.1", "10.2.0.2"};
    int[] clientPorts = {40000, 40001};
    int[] services = {5432, 5432, 23, 53};
    int[] flags = {SYN, SYN, SYN_ACK, SYN_ACK, ACK, ACK, ACK, FIN_ACK, FIN_ACK, RST,
        SYN | IpPacketFlags.FIN, 0};
    PublicKey[] who = {PROD, PROD, PROD, PROD, STAGING, BACKUP, STRANGER};
    long now = 0;
    for (int n = 0; n < 20_000; n++) {
      now += r.nextInt(16) == 0 ? r.nextLong(40 * SEC) : r.nextInt(1000);
      boolean clientNear = r.nextInt(4) != 0;
      boolean fromClient = r.nextBoolean();
      String client = clientNear ? near[r.nextInt(near.length)] : far[r.nextInt(far.length)];
      String server = clientNear ? far[r.nextInt(far.length)] : near[r.nextInt(near.length)];
      int cp = clientPorts[r.nextInt(clientPorts.length)];
      int sp = services[r.nextInt(services.length)];
      String src = fromClient ? client : server;
      String dst = fromClient ? server : client;
      int sport = fromClient ? cp : sp;
      int dport = fromClient ? sp : cp;
      // The near side is the peer's: its packets come in.
      boolean inbound = clientNear == fromClient;
      byte[] p = switch (r.nextInt(5)) {
        case 0, 1, 2 -> Packets.tcp(src, sport, dst, dport, flags[r.nextInt(flags.length)]);
        case 3 -> Packets.udp(src, sport, dst, dport, 4);
        default -> Packets.echo(src, dst, fromClient, cp & 1);
      };
      both(fw, inbound ? Direction.INBOUND : Direction.OUTBOUND, who[r.nextInt(who.length)], p, now);
      if (n == 10_000) {
        fw.reload(peers()
            .rule(Rule.named("pg").inbound().peer("prod").source("10.1.0.1").protocol("tcp")
                .destinationPort("5432").action(Action.ACCEPT))
            .rule(Rule.named("ping").protocol("icmp").icmpType(8).action(Action.ACCEPT)));
      }
    }
    Map<Reason, Long> counts = fw.reasonCounts();
    // MALFORMED, RELATED, TABLE_FULL and PEER_SHARE_FULL have their own sequences.
    assertThat(counts).as("the traffic reached the other reasons")
        .allSatisfy((reason, count) -> {
          if (reason != Reason.MALFORMED && reason != Reason.RELATED
              && reason != Reason.TABLE_FULL && reason != Reason.PEER_SHARE_FULL) {
            assertThat(count).as(reason.name()).isPositive();
          }
        });
  }

  /** TCP flags the fixtures do not name. */
  static final class IpPacketFlags {
    static final int PSH = io.dctun.core.packet.IpPacket.TCP_PSH;
    static final int FIN = io.dctun.core.packet.IpPacket.TCP_FIN;
  }
}
