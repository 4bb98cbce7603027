package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.packet.IpPacket;
import org.junit.jupiter.api.Test;

class FirewallTest {

  /** Staging's end: production may stream PostgreSQL replication in, nothing else. */
  static Firewall stagingFirewall() throws RuleSetException {
    return new Firewall(peers()
        .rule(Rule.named("pg-from-prod").inbound().peer("prod").source("10.1.0.0/16")
            .destination("10.2.5.10").protocol("tcp").destinationPort("5432")
            .action(Action.ACCEPT))
        .build());
  }

  @Test
  void allowsPostgresFromProdToStagingOnly() throws Exception {
    Firewall fw = stagingFirewall();
    long t = 1;
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), t))
        .isEqualTo(ACCEPT);
    // Other port, other host, other source, other peer, UDP: all dropped by default.
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 22, SYN), t)).isEqualTo(DROP);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40002, "10.2.5.11", 5432, SYN), t)).isEqualTo(DROP);
    assertThat(in(fw, PROD, Packets.tcp("10.9.3.4", 40003, "10.2.5.10", 5432, SYN), t)).isEqualTo(DROP);
    assertThat(in(fw, BACKUP, Packets.tcp("10.1.3.4", 40004, "10.2.5.10", 5432, SYN), t)).isEqualTo(DROP);
    assertThat(in(fw, STRANGER, Packets.tcp("10.1.3.4", 40005, "10.2.5.10", 5432, SYN), t)).isEqualTo(DROP);
    assertThat(in(fw, PROD, Packets.udp("10.1.3.4", 40006, "10.2.5.10", 5432, 10), t)).isEqualTo(DROP);
    // Staging may not open anything toward production.
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 50000, "10.1.3.4", 5432, SYN), t)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.NO_RULE)).isEqualTo(7);
    assertThat(fw.reasonCount(Reason.RULE_ACCEPT)).isEqualTo(1);
    assertThat(fw.ruleStats().get(0).packets()).isEqualTo(1);
  }

  @Test
  void replyOfAcceptedFlowPassesWithoutRule() throws Exception {
    Firewall fw = stagingFirewall();
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 1)).isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, SYN_ACK), 2)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 3)).isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, ACK), 4)).isEqualTo(ACCEPT);
    assertThat(fw.reasonCount(Reason.ESTABLISHED)).isEqualTo(3);
    assertThat(fw.connections().assuredCount()).isEqualTo(1);
    // The rule's counters include the flow's later packets.
    assertThat(fw.ruleStats().get(0).packets()).isEqualTo(4);
    assertThat(fw.ruleStats().get(0).lastHitNanos()).isEqualTo(4);
  }

  @Test
  void newConnectionFromOtherSideDropped() throws Exception {
    Firewall fw = stagingFirewall();
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 1)).isEqualTo(ACCEPT);
    // Staging opening a new connection back to the same production host: no rule, dropped.
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, SYN), 2)).isEqualTo(DROP);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 33000, "10.1.3.4", 5432, SYN), 2)).isEqualTo(DROP);
    // The same tuple as the flow, but through another peer: not that flow.
    assertThat(out(fw, STAGING, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, SYN_ACK), 2))
        .isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.NO_RULE)).isEqualTo(2);
    assertThat(fw.reasonCount(Reason.INVALID_STATE)).isEqualTo(1);
  }

  @Test
  void tcpSegmentWithoutConnectionIsInvalid() throws Exception {
    Firewall fw = stagingFirewall();
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.INVALID_STATE)).isEqualTo(1);
    assertThat(fw.connections().size()).isZero();
  }

  @Test
  void handshakeOutOfStepIsInvalid() throws Exception {
    Firewall fw = stagingFirewall();
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 1);
    // An ACK from the responder before any SYN+ACK is out of step.
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, ACK), 2)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.INVALID_STATE)).isEqualTo(1);
  }

  @Test
  void udpReplyPassesAndUnrepliedFlowTimesOutAfter30s() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("dns").outbound().protocol("udp").destinationPort("53").action(Action.ACCEPT))
        .build());
    assertThat(out(fw, PROD, Packets.udp("10.2.0.1", 5000, "10.1.0.53", 53, 20), 0)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.udp("10.1.0.53", 53, "10.2.0.1", 5000, 40), 29 * SEC)).isEqualTo(ACCEPT);
    // Replied: stream timeout 120 s from the last packet.
    assertThat(in(fw, PROD, Packets.udp("10.1.0.53", 53, "10.2.0.1", 5000, 40), 148 * SEC)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.udp("10.1.0.53", 53, "10.2.0.1", 5000, 40), 269 * SEC)).isEqualTo(DROP);
    // Another flow, never answered: gone after 30 s.
    assertThat(out(fw, PROD, Packets.udp("10.2.0.1", 5001, "10.1.0.53", 53, 20), 0)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.udp("10.1.0.53", 53, "10.2.0.1", 5001, 40), 30 * SEC)).isEqualTo(DROP);
  }

  @Test
  void tcpTimeoutsFollowState() throws Exception {
    Firewall fw = stagingFirewall();
    long t = 0;
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), t);
    // SYN_SENT lasts 120 s: a SYN+ACK after that belongs to nothing.
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, SYN_ACK), 121 * SEC))
        .isEqualTo(DROP);
    in(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 5432, SYN), t);
    out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, SYN_ACK), t);
    in(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 5432, ACK), t);
    // ESTABLISHED lasts 5 days of silence.
    t += 4 * 24 * 3600 * SEC;
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, ACK), t)).isEqualTo(ACCEPT);
    // FIN both ways, last ACK: TIME_WAIT 120 s, then gone.
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 5432, FIN_ACK), t)).isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, FIN_ACK), t)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 5432, ACK), t)).isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, ACK), t + 119 * SEC))
        .isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40001, ACK), t + 240 * SEC))
        .isEqualTo(DROP);
  }

  @Test
  void rstClosesFlowWithin10s() throws Exception {
    Firewall fw = stagingFirewall();
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 0);
    out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, SYN_ACK), 0);
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 0);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, RST), SEC)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 12 * SEC)).isEqualTo(DROP);
  }

  @Test
  void rejectProducesTcpRst() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-ssh").inbound().protocol("tcp").destinationPort("22")
            .state(ConnState.NEW, ConnState.INVALID).action(Action.REJECT))
        .build());
    byte[] syn = Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 22, SYN);
    Buf x = new Buf(syn);
    int n = fw.filterInbound(PROD, x.b, x.off, x.len, 1);
    assertThat(n).isEqualTo(40);
    byte[] r = x.slice(n);
    assertThat(IpPacket.isValid(r, 0, n)).isTrue();
    assertThat(IpPacket.ipv4ChecksumValid(r, 0, n)).isTrue();
    assertThat(Packets.l4ChecksumValid(r, 0, n)).isTrue();
    assertThat(IpPacket.protocol(r, 0, n)).isEqualTo(IpPacket.PROTO_TCP);
    assertThat(IpPacket.sourceV4(r, 0, n)).isEqualTo(IpPacket.destinationV4(syn, 0, syn.length));
    assertThat(IpPacket.destinationV4(r, 0, n)).isEqualTo(IpPacket.sourceV4(syn, 0, syn.length));
    assertThat(IpPacket.sourcePort(r, 0, n)).isEqualTo(22);
    assertThat(IpPacket.destinationPort(r, 0, n)).isEqualTo(40000);
    assertThat(IpPacket.tcpFlags(r, 0, n)).isEqualTo(IpPacket.TCP_RST | IpPacket.TCP_ACK);
    // SYN with seq 1000: the RST acknowledges 1001 and has seq 0.
    assertThat(readInt(r, 20 + 4)).isZero();
    assertThat(readInt(r, 20 + 8)).isEqualTo(1001);
    assertThat(fw.reasonCount(Reason.RULE_REJECT)).isEqualTo(1);

    // A segment with ACK gets a bare RST whose seq is that ack.
    Buf y = new Buf(Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 22, ACK));
    n = fw.filterInbound(PROD, y.b, y.off, y.len, 1);
    byte[] r2 = y.slice(n);
    assertThat(IpPacket.tcpFlags(r2, 0, n)).isEqualTo(IpPacket.TCP_RST);
    assertThat(readInt(r2, 20 + 4)).isEqualTo(2000);
    assertThat(Packets.l4ChecksumValid(r2, 0, n)).isTrue();
    // Never answer a RST.
    Buf z = new Buf(Packets.tcp("10.1.3.4", 40002, "10.2.5.10", 22, RST));
    assertThat(fw.filterInbound(PROD, z.b, z.off, z.len, 1)).isEqualTo(DROP);
  }

  @Test
  void rejectProducesIcmpUnreachable() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-udp").outbound().protocol("udp").action(Action.REJECT))
        .build());
    byte[] udp = Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 100);
    Buf x = new Buf(udp, 200); // a pooled buffer with room for the whole quote
    int n = fw.filterOutbound(PROD, x.b, x.off, x.len, 1);
    assertThat(n).isEqualTo(20 + 8 + udp.length);
    byte[] r = x.slice(n);
    assertThat(IpPacket.isValid(r, 0, n)).isTrue();
    assertThat(IpPacket.ipv4ChecksumValid(r, 0, n)).isTrue();
    assertThat(IpPacket.icmpType(r, 0, n)).isEqualTo(3);
    assertThat(IpPacket.icmpCode(r, 0, n)).isEqualTo(13);
    assertThat(Packets.l4ChecksumValid(r, 0, n)).isTrue();
    assertThat(IpPacket.sourceV4(r, 0, n)).isEqualTo(IpPacket.destinationV4(udp, 0, udp.length));
    assertThat(IpPacket.destinationV4(r, 0, n)).isEqualTo(IpPacket.sourceV4(udp, 0, udp.length));
    byte[] quoted = new byte[udp.length];
    System.arraycopy(r, 28, quoted, 0, udp.length);
    assertThat(quoted).isEqualTo(udp);
  }

  @Test
  void rejectIcmpShrinksQuoteToFitTheBufferOrDrops() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-udp").protocol("udp").action(Action.REJECT)).build());
    byte[] udp = Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 400);
    Buf x = new Buf(udp, 32); // room for 28 + (20 + 8) only if we shrink the quote
    int n = fw.filterOutbound(PROD, x.b, x.off, x.len, 1);
    assertThat(n).isEqualTo(28 + 28);
    assertThat(Packets.l4ChecksumValid(x.slice(n), 0, n)).isTrue();
    byte[] tiny = Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 0);
    Buf y = new Buf(tiny, 0);
    assertThat(fw.filterOutbound(PROD, y.b, y.off, y.len, 1)).isEqualTo(DROP);
  }

  @Test
  void rejectProducesIcmpv6Unreachable() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-udp6").protocol("udp").action(Action.REJECT)).build());
    byte[] udp = Packets.udp("fd00::1", 5000, "fd00:1::9", 53, 10);
    Buf x = new Buf(udp, 200);
    int n = fw.filterInbound(STAGING, x.b, x.off, x.len, 1);
    assertThat(n).isEqualTo(40 + 8 + udp.length);
    byte[] r = x.slice(n);
    assertThat(IpPacket.isValid(r, 0, n)).isTrue();
    assertThat(IpPacket.protocol(r, 0, n)).isEqualTo(IpPacket.PROTO_ICMPV6);
    assertThat(IpPacket.icmpType(r, 0, n)).isEqualTo(1);
    assertThat(IpPacket.icmpCode(r, 0, n)).isEqualTo(1);
    assertThat(Packets.l4ChecksumValid(r, 0, n)).isTrue();
    byte[] src = new byte[16];
    IpPacket.copySource(r, 0, n, src, 0);
    byte[] origDst = new byte[16];
    IpPacket.copyDestination(udp, 0, udp.length, origDst, 0);
    assertThat(src).isEqualTo(origDst);
  }

  @Test
  void rejectRepliesAreRateLimited() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-udp").protocol("udp").action(Action.REJECT)).build(),
        FirewallOptions.DEFAULTS.withRejectsPerSecond(2));
    int replies = 0;
    for (int i = 0; i < 10; i++) {
      Buf x = new Buf(Packets.udp("10.2.0.1", 5000 + i, "10.1.0.9", 161, 10), 200);
      if (fw.filterOutbound(PROD, x.b, x.off, x.len, 5) > 0) {
        replies++;
      }
    }
    assertThat(replies).isEqualTo(2);
    assertThat(fw.reasonCount(Reason.RULE_REJECT)).isEqualTo(10);
  }

  @Test
  void icmpErrorIsRelated() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("out-udp").outbound().protocol("udp").action(Action.ACCEPT)).build());
    byte[] query = Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 12);
    assertThat(out(fw, PROD, query, 1)).isEqualTo(ACCEPT);
    // The far end answers with port unreachable quoting our datagram: related, accepted.
    byte[] quote = new byte[28];
    System.arraycopy(query, 0, quote, 0, 28);
    byte[] err = Packets.icmpError("10.1.0.9", "10.2.0.1", 3, 3, quote);
    assertThat(in(fw, PROD, err, 2)).isEqualTo(ACCEPT);
    assertThat(fw.reasonCount(Reason.RELATED)).isEqualTo(1);
    // The same error quoting a datagram we never sent is invalid and dropped.
    byte[] other = Packets.udp("10.2.0.1", 5999, "10.1.0.9", 161, 12);
    System.arraycopy(other, 0, quote, 0, 28);
    assertThat(in(fw, PROD, Packets.icmpError("10.1.0.9", "10.2.0.1", 3, 3, quote), 2)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.INVALID_STATE)).isEqualTo(1);
    assertThat(fw.explain(Direction.INBOUND, "prod", "icmp 10.1.0.9 -> 10.2.0.1 type 3 code 3", 2)
        .state()).isEqualTo(ConnState.INVALID);
  }

  @Test
  void relatedIcmpCanBeDroppedByRule() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("no-redirects").protocol("icmp").icmpType(3).state(ConnState.RELATED)
            .action(Action.DROP))
        .rule(Rule.named("out-udp").outbound().protocol("udp").action(Action.ACCEPT)).build());
    byte[] query = Packets.udp("10.2.0.1", 5000, "10.1.0.9", 161, 12);
    out(fw, PROD, query, 1);
    byte[] quote = new byte[28];
    System.arraycopy(query, 0, quote, 0, 28);
    assertThat(in(fw, PROD, Packets.icmpError("10.1.0.9", "10.2.0.1", 3, 3, quote), 2)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.RULE_DROP)).isEqualTo(1);
  }

  @Test
  void pingTracksEchoReply() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("ping-out").outbound().protocol("icmp").icmpType(8).action(Action.ACCEPT))
        .build());
    assertThat(out(fw, PROD, Packets.echo("10.2.0.1", "10.1.0.1", true, 77), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.echo("10.1.0.1", "10.2.0.1", false, 77), 2)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.echo("10.1.0.1", "10.2.0.1", false, 78), 2)).isEqualTo(DROP);
    assertThat(in(fw, PROD, Packets.echo("10.1.0.1", "10.2.0.1", false, 77), 40 * SEC)).isEqualTo(DROP);
  }

  @Test
  void ipv6FlowsAndPrefixes() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("https6").inbound().group("dc").source("fd00:1::/32")
            .destination("fd00:2::443").protocol("tcp").destinationPort("443").action(Action.ACCEPT))
        .build());
    assertThat(in(fw, STAGING, Packets.tcp("fd00:1:0:5::7", 40000, "fd00:2::443", 443, SYN), 1)).isEqualTo(ACCEPT);
    assertThat(out(fw, STAGING, Packets.tcp("fd00:2::443", 443, "fd00:1:0:5::7", 40000, SYN_ACK), 2)).isEqualTo(ACCEPT);
    assertThat(in(fw, STAGING, Packets.tcp("fd00:9::7", 40000, "fd00:2::443", 443, SYN), 1)).isEqualTo(DROP);
    assertThat(in(fw, BACKUP, Packets.tcp("fd00:1::7", 40000, "fd00:2::443", 443, SYN), 1)).isEqualTo(DROP);
    // An IPv4 packet never matches a rule that lists only IPv6 prefixes.
    assertThat(in(fw, STAGING, Packets.tcp("10.0.0.1", 40000, "10.0.0.2", 443, SYN), 1)).isEqualTo(DROP);
  }

  @Test
  void policiesDifferPerPeerAndFirstMatchWins() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("backup-blocked-host").inbound().peer("backup").destination("10.2.0.66")
            .action(Action.DROP).log(true))
        .rule(Rule.named("backup-rsync").inbound().group("storage").protocol("tcp")
            .destinationPort("873").action(Action.ACCEPT))
        .rule(Rule.named("dc-web").inbound().group("dc").protocol("tcp")
            .destinationPort("80", "8000-8099").action(Action.ACCEPT))
        .build());
    assertThat(in(fw, BACKUP, Packets.tcp("10.3.0.1", 1, "10.2.0.5", 873, SYN), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, BACKUP, Packets.tcp("10.3.0.1", 2, "10.2.0.66", 873, SYN), 1)).isEqualTo(DROP);
    assertThat(in(fw, BACKUP, Packets.tcp("10.3.0.1", 3, "10.2.0.5", 80, SYN), 1)).isEqualTo(DROP);
    assertThat(in(fw, PROD, Packets.tcp("10.1.0.1", 4, "10.2.0.5", 8042, SYN), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.0.1", 5, "10.2.0.5", 873, SYN), 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.RULE_DROP)).isEqualTo(1);
    assertThat(fw.ruleStats()).extracting(RuleStats::packets).containsExactly(1L, 1L, 1L);
  }

  @Test
  void malformedPacketsAreDroppedWithReason() throws Exception {
    Firewall fw = stagingFirewall();
    byte[] bad = Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN);
    bad[2] = (byte) 0xFF; // total length beyond the buffer
    assertThat(in(fw, PROD, bad, 1)).isEqualTo(DROP);
    assertThat(in(fw, PROD, new byte[3], 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.MALFORMED)).isEqualTo(2);
  }

  @Test
  void reloadKeepsEstablishedFlows() throws Exception {
    Firewall fw = stagingFirewall();
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 0);
    out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, SYN_ACK), 0);
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 0);
    // Also a flow from 10.1.9.9, which the new rules will no longer allow.
    in(fw, PROD, Packets.tcp("10.1.9.9", 41000, "10.2.5.10", 5432, SYN), 0);
    out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.9.9", 41000, SYN_ACK), 0);
    in(fw, PROD, Packets.tcp("10.1.9.9", 41000, "10.2.5.10", 5432, ACK), 0);

    fw.reload(peers()
        .rule(Rule.named("pg-from-prod-replica-only").inbound().peer("prod").source("10.1.3.0/24")
            .destination("10.2.5.10").protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .rule(Rule.named("ssh").inbound().protocol("tcp").destinationPort("22").action(Action.ACCEPT)));
    assertThat(fw.rulesVersion()).isEqualTo(2);
    // The reply direction is re-checked too (the first packet after reload is the server's).
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, ACK), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 1)).isEqualTo(ACCEPT);
    assertThat(fw.ruleStats().get(0).packets()).isEqualTo(2);
    assertThat(fw.ruleStats().get(0).rule()).isEqualTo("pg-from-prod-replica-only");
    assertThat(in(fw, PROD, Packets.tcp("10.1.9.9", 41000, "10.2.5.10", 5432, ACK), 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.REVOKED_BY_RELOAD)).isEqualTo(1);
    // Revoked means gone: the server's next segment is now INVALID, not established.
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.9.9", 41000, ACK), 1)).isEqualTo(DROP);
    assertThat(fw.reasonCount(Reason.INVALID_STATE)).isEqualTo(1);
  }

  @Test
  void countersSurviveReloadOfSameNamedRule() throws Exception {
    Firewall fw = stagingFirewall();
    in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 7);
    fw.install(peers()
        .rule(Rule.named("ssh").inbound().protocol("tcp").destinationPort("22").action(Action.ACCEPT))
        .rule(Rule.named("pg-from-prod").inbound().peer("prod").protocol("tcp")
            .destinationPort("5432").action(Action.ACCEPT))
        .build());
    assertThat(fw.ruleStats()).extracting(RuleStats::rule, RuleStats::packets, RuleStats::lastHitNanos)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("ssh", 0L, 0L),
            org.assertj.core.groups.Tuple.tuple("pg-from-prod", 1L, 7L));
  }

  @Test
  void reloadWithErrorKeepsOldRules() throws Exception {
    Firewall fw = stagingFirewall();
    RuleSet before = fw.ruleSet();
    assertThatThrownBy(() -> fw.reload(peers()
        .rule(Rule.named("ok").inbound().protocol("tcp").destinationPort("22").action(Action.ACCEPT))
        .rule(Rule.named("broken").inbound().source("10.1.0.0/33").action(Action.ACCEPT))))
        .isInstanceOf(RuleSetException.class)
        .hasMessageContaining("broken").hasMessageContaining("source");
    assertThat(fw.ruleSet()).isSameAs(before);
    assertThat(fw.rulesVersion()).isEqualTo(1);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, SYN), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 22, SYN), 1)).isEqualTo(DROP);
  }

  @Test
  void explainNamesTheDecidingRule() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("deny-telnet").protocol("tcp").destinationPort("23").action(Action.REJECT))
        .rule(Rule.named("pg-from-prod").inbound().peer("prod").protocol("tcp")
            .destinationPort("5432").action(Action.ACCEPT))
        .build());
    Explanation e = fw.explain(Direction.INBOUND, "prod", "tcp 10.1.0.1:40000 -> 10.2.0.1:5432", 1);
    assertThat(e.action()).isEqualTo(Action.ACCEPT);
    assertThat(e.rule()).isEqualTo("pg-from-prod");
    assertThat(e.ruleIndex()).isEqualTo(1);
    assertThat(e.state()).isEqualTo(ConnState.NEW);
    e = fw.explain(Direction.INBOUND, PROD.toBase64(), "tcp 10.1.0.1:40000 -> 10.2.0.1:23", 1);
    assertThat(e.action()).isEqualTo(Action.REJECT);
    assertThat(e.rule()).isEqualTo("deny-telnet");
    e = fw.explain(Direction.OUTBOUND, "prod", "tcp 10.2.0.1:40000 -> 10.1.0.1:5432", 1);
    assertThat(e.action()).isEqualTo(Action.DROP);
    assertThat(e.rule()).isNull();
    assertThat(e.reason()).isEqualTo(Reason.NO_RULE);
    e = fw.explain(Direction.INBOUND, "prod", "tcp 10.1.0.1:40000 -> 10.2.0.1:5432 flags ack", 1);
    assertThat(e.reason()).isEqualTo(Reason.INVALID_STATE);
    // Explaining counts nothing and tracks nothing.
    assertThat(fw.ruleStats()).allMatch(s -> s.packets() == 0);
    assertThat(fw.connections().size()).isZero();
    // A tracked flow: the reply is explained as established, with the admitting rule.
    in(fw, PROD, Packets.tcp("10.1.0.1", 40000, "10.2.0.1", 5432, SYN), 1);
    e = fw.explain(Direction.OUTBOUND, "prod", "tcp 10.2.0.1:5432 -> 10.1.0.1:40000 flags syn,ack", 2);
    assertThat(e.reason()).isEqualTo(Reason.ESTABLISHED);
    assertThat(e.rule()).isEqualTo("pg-from-prod");
    assertThatThrownBy(() -> fw.explain(Direction.INBOUND, "nobody", "tcp 1.1.1.1:1 -> 2.2.2.2:2", 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nobody");
    assertThatThrownBy(() -> fw.explain(Direction.INBOUND, "prod", "tcp 1.1.1.1 -> 2.2.2.2:2", 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("address:port");
  }

  @Test
  void nonFirstFragmentsMatchOnlyPortlessRules() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("pg").protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .rule(Rule.named("frag-from-prod").peer("prod").protocol("udp").action(Action.ACCEPT))
        .build());
    byte[] f = Packets.udp("10.1.0.1", 1, "10.2.0.1", 2, 20);
    f[6] = 0x00;
    f[7] = 0x10; // fragment offset 16 (x 8 bytes)
    f[10] = 0;
    f[11] = 0;
    IpPacket.writeIpv4Checksum(f, 0, f.length);
    assertThat(in(fw, PROD, f, 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, STAGING, f, 1)).isEqualTo(DROP);
    assertThat(fw.connections().size()).isZero();
  }

  static int readInt(byte[] b, int i) {
    return ((b[i] & 0xFF) << 24) | ((b[i + 1] & 0xFF) << 16) | ((b[i + 2] & 0xFF) << 8) | (b[i + 3] & 0xFF);
  }
}
