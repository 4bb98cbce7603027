package io.dctun.firewall;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 13: no peer holds more than its share of the connection table, so one peer's flows,
 * answered or not, never deny new connections to the others. Who loses is the peer at its share:
 * its new flow replaces its own unanswered one, else is refused (PEER_SHARE_FULL); its assured
 * flows, and everyone else's, stay.
 */
class PeerShareTest {

  /** 1024 flows in 64 segments of 16; any peer may open TCP 5432 and UDP 53 inbound. */
  static Firewall open(int perPeer) throws RuleSetException {
    return new Firewall(peers()
        .rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .rule(Rule.named("dns").inbound().protocol("udp").destinationPort("53").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(1024).withMaxFlowsPerPeer(perPeer));
  }

  /** Client i of a peer: its own /16 (prod 10.1, staging 10.3, backup 10.5) and a port per i. */
  static String client(PublicKey peer, int i) {
    int net = peer == PROD ? 1 : peer == STAGING ? 3 : 5;
    return "10." + net + "." + (i / 250) + "." + (i % 250 + 1);
  }

  static byte[] seg(PublicKey peer, int i, boolean fromClient, int flags) {
    String c = client(peer, i);
    return fromClient ? Packets.tcp(c, 40000, "10.2.0.1", 5432, flags)
        : Packets.tcp("10.2.0.1", 5432, c, 40000, flags);
  }

  /** A full TCP handshake of client i of {@code peer}: the flow becomes assured. */
  static boolean establish(Firewall fw, PublicKey peer, int i, long now) {
    return in(fw, peer, seg(peer, i, true, SYN), now) == ACCEPT
        && out(fw, peer, seg(peer, i, false, SYN_ACK), now) == ACCEPT
        && in(fw, peer, seg(peer, i, true, ACK), now) == ACCEPT;
  }

  /** A UDP query of client i and its answer: the flow becomes assured (UDP_REPLIED, 120 s). */
  static boolean query(Firewall fw, PublicKey peer, int i, long now) {
    String c = client(peer, i);
    return in(fw, peer, Packets.udp(c, 33000, "10.2.0.53", 53, 8), now) == ACCEPT
        && out(fw, peer, Packets.udp("10.2.0.53", 53, c, 33000, 8), now) == ACCEPT;
  }

  @Test
  void aPeerAtItsShareOfAssuredFlowsIsRefusedAndTheOthersStillGetIn() throws Exception {
    Firewall fw = open(100);
    List<Integer> up = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      if (establish(fw, PROD, i, 0)) {
        up.add(i);
      }
    }
    assertThat(up).hasSize(100);
    assertThat(fw.peerFlowCount("prod")).isEqualTo(100);
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(200);
    assertThat(fw.reasonCount(Reason.TABLE_FULL)).isZero();

    // The other peers open as many as their own shares allow, TCP and UDP.
    for (int i = 0; i < 60; i++) {
      assertThat(establish(fw, STAGING, i, 1)).as("staging connection %d", i).isTrue();
      assertThat(query(fw, BACKUP, i, 1)).as("backup query %d", i).isTrue();
    }
    assertThat(fw.peerFlowCount("staging")).isEqualTo(60);
    assertThat(fw.peerFlowCount("backup")).isEqualTo(60);
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(200);

    // Refusing prod's new flows cut none of its established ones.
    for (int i : up) {
      assertThat(out(fw, PROD, seg(PROD, i, false, ACK), 2)).isEqualTo(ACCEPT);
    }
    assertThat(fw.connections().assuredCount()).isEqualTo(220);
  }

  @Test
  void aNewFlowOverTheShareReplacesThePeersOwnUnansweredFlow() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(4096).withMaxFlowsPerPeer(640));
    for (int i = 0; i < 50; i++) {
      assertThat(establish(fw, STAGING, i, 0)).isTrue();
    }
    // prod fills its share with half-open connections (SYN, never answered), ten per segment.
    for (int i = 0; i < 640; i++) {
      assertThat(in(fw, PROD, seg(PROD, i, true, SYN), 0)).isEqualTo(ACCEPT);
    }
    assertThat(fw.peerFlowCount("prod")).isEqualTo(640);
    // Its real connections still get in, each in place of one of its own half-open flows.
    for (int i = 1000; i < 1050; i++) {
      assertThat(establish(fw, PROD, i, 1)).as("prod connection %d", i).isTrue();
    }
    assertThat(fw.peerFlowCount("prod")).isEqualTo(640);
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isZero();
    // Nothing of staging's was taken for them.
    assertThat(fw.peerFlowCount("staging")).isEqualTo(50);
    for (int i = 0; i < 50; i++) {
      assertThat(out(fw, STAGING, seg(STAGING, i, false, ACK), 2)).isEqualTo(ACCEPT);
    }
    // The replaced ones were the oldest unanswered: their SYN_ACK now finds no flow.
    int lost = 0;
    for (int i = 0; i < 640; i++) {
      if (out(fw, PROD, seg(PROD, i, false, SYN_ACK), 2) == DROP) {
        lost++;
      }
    }
    assertThat(lost).isEqualTo(50);
  }

  @Test
  void theShareIsFreedAsThePeersFlowsEndOrExpire() throws Exception {
    Firewall fw = open(64);
    for (int i = 0; i < 64; i++) {
      assertThat(query(fw, PROD, i, 0)).isTrue();
    }
    assertThat(query(fw, PROD, 64, 0)).isFalse();
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(1);

    // A TCP connection closed by RST and reopened counts once, not twice.
    Firewall tcp = open(2);
    assertThat(establish(tcp, PROD, 0, 0)).isTrue();
    assertThat(in(tcp, PROD, seg(PROD, 0, true, RST), 0)).isEqualTo(ACCEPT);
    assertThat(establish(tcp, PROD, 0, 1)).as("the SYN reopens the closed flow").isTrue();
    assertThat(tcp.peerFlowCount("prod")).isEqualTo(1);
    assertThat(establish(tcp, PROD, 1, 1)).isTrue();
    assertThat(tcp.peerFlowCount("prod")).isEqualTo(2);
    assertThat(establish(tcp, PROD, 2, 1)).isFalse();

    // Answered UDP lives 120 s: once swept, the count is back to zero and prod gets in again.
    assertThat(fw.expire(119 * SEC)).isZero();
    assertThat(fw.peerFlowCount("prod")).isEqualTo(64);
    assertThat(fw.expire(121 * SEC)).isEqualTo(64);
    assertThat(fw.peerFlowCount("prod")).isZero();
    for (int i = 100; i < 164; i++) {
      assertThat(query(fw, PROD, i, 122 * SEC)).isTrue();
    }
    assertThat(fw.peerFlowCount("prod")).isEqualTo(64);
    assertThat(fw.flowCount()).isEqualTo(64);
  }

  @Test
  void anExpiredFlowOfThePeerIsReusedBeforeTheSweep() throws Exception {
    Firewall fw = open(64);
    for (int i = 0; i < 64; i++) {
      assertThat(query(fw, PROD, i, 0)).isTrue();
    }
    // No sweep ran: the flows are expired but still held. A new one takes an expired one's place
    // when the peer has one in the new flow's segment (64 flows over 64 segments: not always).
    int in = 0;
    for (int i = 100; i < 200; i++) {
      if (query(fw, PROD, i, 200 * SEC)) {
        in++;
      }
    }
    assertThat(in).isPositive();
    assertThat(fw.peerFlowCount("prod")).isLessThanOrEqualTo(64);
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(100 - in);
  }

  @Test
  void flowsOfUnknownPeersShareOneBucket() throws Exception {
    Firewall fw = open(10);
    for (int i = 0; i < 20; i++) {
      in(fw, STRANGER, Packets.udp("10.9.0." + (i + 1), 33000, "10.2.0.53", 53, 8), 0);
    }
    assertThat(fw.peerFlowCount(null)).isEqualTo(10);
    assertThat(fw.peerFlowCount("prod")).isZero();
    assertThat(query(fw, PROD, 1, 0)).isTrue();
    assertThatThrownBy(() -> fw.peerFlowCount("nobody")).hasMessageContaining("unknown peer 'nobody'");
  }

  @Test
  void theAutomaticShareDividesTheTableAmongUpToFourPeers() throws Exception {
    FirewallOptions o = FirewallOptions.DEFAULTS.withMaxFlows(1200);
    assertThat(o.perPeerLimit(0)).isEqualTo(1200);
    assertThat(o.perPeerLimit(1)).isEqualTo(1200);
    assertThat(o.perPeerLimit(2)).isEqualTo(600);
    assertThat(o.perPeerLimit(3)).isEqualTo(400);
    assertThat(o.perPeerLimit(4)).isEqualTo(300);
    assertThat(o.perPeerLimit(500)).isEqualTo(300);
    assertThat(o.withMaxFlowsPerPeer(5000).perPeerLimit(3)).as("at most the table").isEqualTo(1200);
    assertThat(o.withMaxFlowsPerPeer(7).perPeerLimit(3)).isEqualTo(7);
    assertThatThrownBy(() -> o.withMaxFlowsPerPeer(-1)).hasMessageContaining("maxFlowsPerPeer");

    // A firewall follows its rule set's peer count across installs.
    Firewall fw = new Firewall(RuleSet.builder().peer("prod", PROD).build(), o);
    assertThat(fw.maxFlowsPerPeer()).isEqualTo(1200);
    fw.install(peers().build());
    assertThat(fw.maxFlowsPerPeer()).isEqualTo(400);
    fw.setMaxFlowsPerPeer(50);
    assertThat(fw.maxFlowsPerPeer()).isEqualTo(50);
    fw.setMaxFlowsPerPeer(FirewallOptions.AUTO_PER_PEER);
    assertThat(fw.maxFlowsPerPeer()).isEqualTo(400);
  }

  @Test
  void countsStayRightWhenARuleSetWithMorePeersIsInstalled() throws Exception {
    Rule pg = Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT);
    Firewall fw = new Firewall(RuleSet.builder().peer("prod", PROD).rule(pg).build(),
        FirewallOptions.DEFAULTS.withMaxFlows(1024).withMaxFlowsPerPeer(30));
    for (int i = 0; i < 20; i++) {
      assertThat(establish(fw, PROD, i, 0)).isTrue();
    }
    fw.install(peers().rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432")
        .action(Action.ACCEPT)).build());
    assertThat(fw.peerFlowCount("prod")).isEqualTo(20);
    for (int i = 0; i < 30; i++) {
      assertThat(establish(fw, BACKUP, i, 1)).isTrue();
    }
    assertThat(establish(fw, BACKUP, 30, 1)).isFalse();
    assertThat(fw.peerFlowCount("backup")).isEqualTo(30);
    assertThat(fw.peerFlowCount("prod")).isEqualTo(20);
    for (int i = 20; i < 30; i++) {
      assertThat(establish(fw, PROD, i, 1)).isTrue();
    }
    assertThat(establish(fw, PROD, 30, 1)).isFalse();
  }

  @Test
  void exportAndImportKeepThePerPeerCounts() throws Exception {
    Firewall master = open(100);
    for (int i = 0; i < 50; i++) {
      assertThat(establish(master, PROD, i, SEC)).isTrue();
    }
    for (int i = 0; i < 30; i++) {
      assertThat(query(master, STAGING, i, SEC)).isTrue();
    }
    // The backup has a smaller share: it still takes every flow the master admitted.
    Firewall backup = open(40);
    List<long[]> flows = new ArrayList<>();
    FlowSink sink = (k0, k1, k2, k3, m, st, rem) -> flows.add(new long[] {k0, k1, k2, k3, m, st, rem});
    assertThat(master.exportChangedFlows(2 * SEC, sink, 1000)).isEqualTo(80);
    for (long[] f : flows) {
      assertThat(backup.importFlow(f[0], f[1], f[2], f[3], f[4], (int) f[5], f[6], 2 * SEC)).isTrue();
    }
    assertThat(backup.peerFlowCount("prod")).isEqualTo(50);
    assertThat(backup.peerFlowCount("staging")).isEqualTo(30);
    // A refresh of the same flows (a new twin: everything resent) does not count them twice.
    master.markAllFlowsChanged();
    flows.clear();
    master.exportChangedFlows(3 * SEC, sink, 1000);
    for (long[] f : flows) {
      assertThat(backup.importFlow(f[0], f[1], f[2], f[3], f[4], (int) f[5], f[6], 3 * SEC)).isTrue();
    }
    assertThat(backup.peerFlowCount("prod")).isEqualTo(50);
    assertThat(backup.flowCount()).isEqualTo(80);
    // After failover the imported flows pass; prod, over the backup's share, opens nothing new
    // until it is under it again; staging, under it, does.
    assertThat(out(backup, PROD, seg(PROD, 7, false, ACK), 4 * SEC)).isEqualTo(ACCEPT);
    assertThat(establish(backup, PROD, 500, 4 * SEC)).isFalse();
    assertThat(backup.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(1);
    assertThat(establish(backup, STAGING, 500, 4 * SEC)).isTrue();
    assertThat(backup.peerFlowCount("staging")).isEqualTo(31);
  }

  @Test
  void statusReportsTheShareAndEachPeersFlows() throws Exception {
    Firewall fw = open(100);
    for (int i = 0; i < 3; i++) {
      assertThat(establish(fw, STAGING, i, 0)).isTrue();
    }
    String text = io.dctun.core.status.StatusText.of(fw);
    assertThat(text).contains("max-flows-per-peer 100").contains("peer.staging.flows 3")
        .contains("peer.prod.flows 0").contains("reason.PEER_SHARE_FULL 0");
  }
}
