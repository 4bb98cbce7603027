package io.dctun.firewall;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.firewall.internal.ConnTrack;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConnTrackTest {

  /** One peer (prod) may fill the whole table: these tests are about the table's own bound. */
  static Firewall open(int maxFlows) throws RuleSetException {
    return new Firewall(peers()
        .rule(Rule.named("pg").inbound().protocol("tcp").destinationPort("5432").action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withMaxFlows(maxFlows).withMaxFlowsPerPeer(maxFlows));
  }

  /** Client i: 10.1.(i/250).(i%250+1):40000 -> 10.2.0.1:5432. */
  static byte[] seg(int i, boolean fromClient, int flags) {
    String c = "10.1." + (i / 250) + "." + (i % 250 + 1);
    return fromClient ? Packets.tcp(c, 40000, "10.2.0.1", 5432, flags)
        : Packets.tcp("10.2.0.1", 5432, c, 40000, flags);
  }

  static boolean establish(Firewall fw, int i, long now) {
    return in(fw, PROD, seg(i, true, SYN), now) == ACCEPT
        && out(fw, PROD, seg(i, false, SYN_ACK), now) == ACCEPT
        && in(fw, PROD, seg(i, true, ACK), now) == ACCEPT;
  }

  /** Spoofed SYN n toward the allowed port, from 100.64.0.0/10, fast (template + patch). */
  static void synFlood(Firewall fw, int count, long now) {
    byte[] t = Packets.tcp("100.64.0.1", 1024, "10.2.0.1", 5432, SYN);
    byte[] buf = new byte[16 + t.length + 32];
    for (int n = 0; n < count; n++) {
      System.arraycopy(t, 0, buf, 16, t.length);
      int a = 0x64400000 | (n & 0x3FFFFF);
      buf[16 + 12] = (byte) (a >>> 24);
      buf[16 + 13] = (byte) (a >>> 16);
      buf[16 + 14] = (byte) (a >>> 8);
      buf[16 + 15] = (byte) a;
      buf[16 + 20] = (byte) (1024 + (n >>> 22));
      fw.filterInbound(PROD, buf, 16, t.length, now);
    }
  }

  @Test
  void tableFullNeverEvictsEstablished() throws Exception {
    Firewall fw = open(640);
    List<Integer> up = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      if (establish(fw, i, 0)) {
        up.add(i);
      }
    }
    // Every segment filled with assured flows; the rest were refused, none evicted.
    assertThat(fw.connections().size()).isEqualTo(640);
    assertThat(up).hasSize(640);
    assertThat(fw.reasonCount(Reason.TABLE_FULL)).isEqualTo(2000 - 640);
    synFlood(fw, 50_000, 1);
    assertThat(fw.reasonCount(Reason.TABLE_FULL)).isEqualTo(2000 - 640 + 50_000);
    for (int i : up) {
      assertThat(out(fw, PROD, seg(i, false, ACK), 2)).isEqualTo(ACCEPT);
    }
  }

  @Test
  void synFloodStaysBounded() throws Exception {
    int max = 1 << 14;
    Firewall fw = open(max);
    long tableBytes = fw.connections().tableBytes();
    List<Integer> up = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      assertThat(establish(fw, i, 0)).isTrue();
      up.add(i);
    }
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    synFlood(fw, 1_000_000, 1);
    System.gc();
    long after = rt.totalMemory() - rt.freeMemory();
    assertThat(fw.connections().size()).isLessThanOrEqualTo(max);
    assertThat(fw.connections().tableBytes()).isEqualTo(tableBytes);
    // Heap did not grow with the flood (allow GC noise).
    assertThat(after - before).isLessThan(8L << 20);
    // The flood recycled its own unassured slots: established flows all survive.
    assertThat(fw.connections().assuredCount()).isEqualTo(3000);
    for (int i : up) {
      assertThat(out(fw, PROD, seg(i, false, ACK), 2)).isEqualTo(ACCEPT);
    }
    // And a new legitimate client still gets in (it evicts a spoofed half-open flow).
    assertThat(establish(fw, 3001, 2)).isTrue();
  }

  @Test
  void expiredFlowsAreSweptAndReused() throws Exception {
    Firewall fw = open(640);
    for (int i = 0; i < 100; i++) {
      in(fw, PROD, seg(i, true, SYN), 0);
    }
    assertThat(fw.connections().size()).isEqualTo(100);
    assertThat(fw.expire(119 * SEC)).isZero();
    assertThat(fw.expire(120 * SEC)).isEqualTo(100);
    assertThat(fw.connections().size()).isZero();
  }

  @Test
  void bytesPerFlowWithinBudget() {
    int max = 1 << 20;
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    ConnTrack ct = new ConnTrack(max);
    System.gc();
    long after = rt.totalMemory() - rt.freeMemory();
    double computed = (double) ct.tableBytes() / max;
    double measured = (double) (after - before) / max;
    System.out.printf("conntrack: %d flows, %.1f bytes/flow by array sizes, %.1f measured on heap%n",
        max, computed, measured);
    assertThat(computed).isLessThanOrEqualTo(128.0);
    assertThat(measured).isBetween(computed * 0.9, 128.0);
    assertThat(ct.size()).isZero();
  }

  @Test
  void portReuseAfterCloseStartsNewFlow() throws Exception {
    Firewall fw = open(640);
    assertThat(establish(fw, 1, 0)).isTrue();
    assertThat(in(fw, PROD, seg(1, true, RST), 1)).isEqualTo(ACCEPT);
    // A fresh SYN on the same 4-tuple is a new connection, checked against the rules.
    assertThat(in(fw, PROD, seg(1, true, SYN), 2)).isEqualTo(ACCEPT);
    assertThat(fw.reasonCount(Reason.RULE_ACCEPT)).isEqualTo(2);
    assertThat(out(fw, PROD, seg(1, false, ACK), 3)).isEqualTo(DROP);
  }
}
