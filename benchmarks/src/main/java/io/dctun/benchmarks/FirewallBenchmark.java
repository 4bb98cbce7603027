package io.dctun.benchmarks;

import io.dctun.crypto.PublicKey;
import io.dctun.firewall.Action;
import io.dctun.firewall.Direction;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Packets;
import io.dctun.firewall.Rule;
import io.dctun.firewall.RuleSet;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The firewall's per-packet cost with 10, 1,000 and 10,000 rules, 1024 packets per invocation.
 *
 * <p>Rules look like an inter-datacenter ACL: rule i lets peer {@code i % 16} reach port
 * {@code 1000 + i % 4000} on hosts 172.16.(i % 64).0/24 from 10.(i / 256).(i % 256).0/24, with
 * one in eight a DROP or REJECT. Half the packets hit a random rule, half are default-denied
 * near misses (right source, wrong port), the costlier case for a first-match classifier.
 *
 * <ul>
 *   <li>{@code classify}: parse + peer lookup + compiled first match (the classifier alone);
 *   <li>{@code established}: the full {@code filterInbound} of a tracked flow (parse + connection
 *       table lookup under its stripe lock + TCP state update + rule counters).
 *   <li>{@code newFlow}: a connection opened and reset, per packet: a SYN on the tuple of a
 *       closed flow (the flow is removed, the SYN classified and a new flow inserted) and then
 *       its RST (the flow closes). The cost of creating and removing flows (and of counting
 *       them per peer, issue 13), which {@code established} never pays.
 * </ul>
 *
 * Run: {@code java -jar benchmarks/target/benchmarks.jar FirewallBenchmark -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FirewallBenchmark {
  static final int PACKETS = 1024;
  static final int PEERS = 16;

  @Param({"10", "1000", "10000"})
  public int rules;

  Firewall fw;
  PublicKey[] keys = new PublicKey[PEERS];
  byte[][] packets = new byte[PACKETS][];
  PublicKey[] packetPeer = new PublicKey[PACKETS];
  byte[][] flowPackets = new byte[PACKETS][];
  PublicKey[] flowPeer = new PublicKey[PACKETS];
  byte[][] openPackets = new byte[PACKETS][];
  byte[][] resetPackets = new byte[PACKETS][];

  static String src(int i) {
    return "10." + ((i / 256) % 256) + "." + (i % 256) + ".7";
  }

  static String dst(int i) {
    return "172.16." + (i % 64) + ".10";
  }

  static int port(int i) {
    return 1000 + i % 4000;
  }

  @Setup
  public void setup() throws Exception {
    RuleSet.Builder b = RuleSet.builder();
    for (int p = 0; p < PEERS; p++) {
      byte[] k = new byte[32];
      k[0] = (byte) (p + 1);
      keys[p] = PublicKey.of(k);
      b.peer("dc" + p, keys[p], "group" + (p % 4));
    }
    for (int i = 0; i < rules; i++) {
      b.rule(Rule.named("r" + i).inbound().peer("dc" + (i % PEERS))
          .source("10." + ((i / 256) % 256) + "." + (i % 256) + ".0/24")
          .destination("172.16." + (i % 64) + ".0/24").protocol("tcp")
          .destinationPort(String.valueOf(port(i)))
          .action(i % 8 == 7 ? (i % 16 == 7 ? Action.REJECT : Action.DROP) : Action.ACCEPT));
    }
    fw = new Firewall(b.build());
    SplittableRandom r = new SplittableRandom(1);
    for (int n = 0; n < PACKETS; n++) {
      int i = r.nextInt(rules);
      boolean hit = n % 2 == 0;
      packets[n] = pad(Packets.tcp(src(i), 40000 + n, dst(i), hit ? port(i) : 9, 0x02));
      packetPeer[n] = keys[i % PEERS];
      // Established flows: open each through an accepting rule.
      int a = i - (i % 8 == 7 ? 1 : 0);
      a = Math.max(a, 0);
      PublicKey peer = keys[a % PEERS];
      byte[] syn = pad(Packets.tcp(src(a), 20000 + n, dst(a), port(a), 0x02));
      byte[] synAck = pad(Packets.tcp(dst(a), port(a), src(a), 20000 + n, 0x12));
      byte[] ack = pad(Packets.tcp(src(a), 20000 + n, dst(a), port(a), 0x10));
      if (fw.filterInbound(peer, syn, 16, syn.length - 48, 0) != 0
          || fw.filterOutbound(peer, synAck, 16, synAck.length - 48, 0) != 0
          || fw.filterInbound(peer, ack, 16, ack.length - 48, 0) != 0) {
        throw new IllegalStateException("flow " + n + " not admitted");
      }
      flowPackets[n] = ack;
      flowPeer[n] = peer;
      // Open-and-reset flows: same peer and rule, another client port, reset once.
      openPackets[n] = pad(Packets.tcp(src(a), 50000 + n, dst(a), port(a), 0x02));
      resetPackets[n] = pad(Packets.tcp(src(a), 50000 + n, dst(a), port(a), 0x04));
      if (fw.filterInbound(peer, openPackets[n], 16, openPackets[n].length - 48, 0) != 0
          || fw.filterInbound(peer, resetPackets[n], 16, resetPackets[n].length - 48, 0) != 0) {
        throw new IllegalStateException("flow " + n + " not opened and reset");
      }
    }
  }

  /** 16 bytes of headroom and 32 of tailroom, as the device hands packets over. */
  static byte[] pad(byte[] p) {
    byte[] b = new byte[16 + p.length + 32];
    System.arraycopy(p, 0, b, 16, p.length);
    return b;
  }

  @Benchmark
  @OperationsPerInvocation(PACKETS)
  public int classify() {
    int acc = 0;
    for (int n = 0; n < PACKETS; n++) {
      byte[] p = packets[n];
      acc += fw.classify(Direction.INBOUND, packetPeer[n], p, 16, p.length - 48, 1);
    }
    return acc;
  }

  @Benchmark
  @OperationsPerInvocation(PACKETS)
  public int established() {
    int acc = 0;
    for (int n = 0; n < PACKETS; n++) {
      byte[] p = flowPackets[n];
      acc += fw.filterInbound(flowPeer[n], p, 16, p.length - 48, 1);
    }
    return acc;
  }

  /** Two packets per flow (SYN reopening a closed flow, then RST): ops are packets. */
  @Benchmark
  @OperationsPerInvocation(2 * PACKETS)
  public int newFlow() {
    int acc = 0;
    for (int n = 0; n < PACKETS; n++) {
      byte[] s = openPackets[n];
      acc += fw.filterInbound(flowPeer[n], s, 16, s.length - 48, 1);
      byte[] r = resetPackets[n];
      acc += fw.filterInbound(flowPeer[n], r, 16, r.length - 48, 1);
    }
    return acc;
  }
}
