package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.BACKUP;
import static io.dctun.firewall.Fixtures.PROD;
import static io.dctun.firewall.Fixtures.SEC;
import static io.dctun.firewall.Fixtures.STRANGER;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.crypto.PublicKey;

/**
 * Fuzz target for the firewall as a peer drives it: a sequence of packets, in both directions,
 * from configured and unknown peers, through time, into a small connection table. Some packets
 * are built from fuzzed fields over a handful of addresses (so flows open, progress, close and
 * fill the table), others are raw bytes. For every one, {@link Firewall#explain} must predict the
 * data path's verdict and counted reason exactly ({@link ExplainMatchesDataPathTest#both}), and
 * nothing may throw.
 */
class FirewallFuzzTest {
  private static final String[] HOSTS = {"10.1.3.4", "10.2.5.10", "10.1.0.9", "10.2.0.1", "fd00::1", "fd00::2"};
  private static final PublicKey[] PEERS = {PROD, BACKUP, STRANGER};

  @FuzzTest(maxDuration = "5s")
  void explainPredictsTheDataPath(FuzzedDataProvider in) throws Exception {
    Firewall fw = new Firewall(Fixtures.peers()
        .rule(Rule.named("pg").inbound().peer("prod").source("10.1.0.0/16").destination("10.2.5.10")
            .protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .rule(Rule.named("no-ssh").inbound().protocol("tcp").destinationPort("22")
            .state(ConnState.NEW, ConnState.INVALID).action(Action.REJECT))
        .rule(Rule.named("no-snmp").outbound().protocol("udp").destinationPort("161").action(Action.REJECT))
        .rule(Rule.named("out-udp").outbound().protocol("udp").action(Action.ACCEPT))
        .rule(Rule.named("ping-out").outbound().protocol("icmp").icmpType(8).action(Action.ACCEPT))
        .rule(Rule.named("v6-in").inbound().peer("backup").source("fd00::/64").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(64).withRejectsPerSecond(2));
    long now = 0;
    int packets = in.consumeInt(1, 96); // enough to fill the 64-flow table
    for (int i = 0; i < packets && in.remainingBytes() > 0; i++) {
      Direction dir = in.consumeBoolean() ? Direction.INBOUND : Direction.OUTBOUND;
      PublicKey peer = PEERS[in.consumeInt(0, PEERS.length - 1)];
      now += in.consumeLong(0, 200 * SEC);
      byte[] pkt = in.consumeBoolean() ? raw(in) : built(in);
      ExplainMatchesDataPathTest.both(fw, dir, peer, pkt, now);
    }
  }

  private static byte[] raw(FuzzedDataProvider in) {
    return in.consumeBytes(in.consumeInt(0, 1500));
  }

  private static byte[] built(FuzzedDataProvider in) {
    boolean v6 = in.consumeBoolean();
    String src = HOSTS[(v6 ? 4 : 0) + in.consumeInt(0, v6 ? 1 : 3)];
    String dst = HOSTS[(v6 ? 4 : 0) + in.consumeInt(0, v6 ? 1 : 3)];
    int[] ports = {5432, 22, 161, 53, 40000, 40001};
    int sport = ports[in.consumeInt(0, ports.length - 1)];
    int dport = ports[in.consumeInt(0, ports.length - 1)];
    byte[] p = switch (in.consumeInt(0, 3)) {
      case 0 -> Packets.tcp(src, sport, dst, dport, in.consumeInt(0, 0x3F));
      case 1 -> Packets.udp(src, sport, dst, dport, in.consumeInt(0, 64));
      case 2 -> Packets.echo(src, dst, in.consumeBoolean(), in.consumeInt(0, 3));
      default -> Packets.icmpError(src, dst, in.consumeInt(0, 12), in.consumeInt(0, 3),
          Packets.tcp(dst, dport, src, sport, 0x12));
    };
    // A few bytes changed after building: lengths, flags, options, checksums.
    int edits = in.consumeInt(0, 2);
    for (int e = 0; e < edits; e++) {
      p[in.consumeInt(0, p.length - 1)] = in.consumeByte();
    }
    return p;
  }
}
