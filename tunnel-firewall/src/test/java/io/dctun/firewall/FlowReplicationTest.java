package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Flows exported from the master's firewall and imported into its twin's keep passing there. */
class FlowReplicationTest {

  private static final long S = 1_000_000_000L;

  /** Copies every changed flow from {@code from} to {@code to}; returns how many. */
  private static int replicate(Firewall from, Firewall to, long now) {
    List<long[]> flows = new ArrayList<>();
    from.exportChangedFlows(now, (k0, k1, k2, k3, m, st, rem) -> flows.add(new long[] {k0, k1, k2, k3, m, st, rem}),
        1000);
    for (long[] f : flows) {
      assertThat(to.importFlow(f[0], f[1], f[2], f[3], f[4], (int) f[5], f[6], now)).isTrue();
    }
    return flows.size();
  }

  private static void establish(Firewall fw, int port, long t) {
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", port, "10.2.5.10", 5432, SYN), t)).isEqualTo(ACCEPT);
    assertThat(out(fw, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", port, SYN_ACK), t)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.tcp("10.1.3.4", port, "10.2.5.10", 5432, ACK), t)).isEqualTo(ACCEPT);
  }

  @Test
  void establishedFlowSurvivesFailoverToTwin() throws Exception {
    Firewall master = FirewallTest.stagingFirewall();
    Firewall backup = FirewallTest.stagingFirewall();
    establish(master, 40000, S);
    // Without the state, the backup sees a mid-stream segment: invalid, dropped.
    assertThat(in(backup, PROD, Packets.tcp("10.1.3.4", 40001, "10.2.5.10", 5432, ACK), S)).isEqualTo(DROP);

    assertThat(replicate(master, backup, 2 * S)).isEqualTo(1);
    // Failover: both directions of the established flow pass on the twin, no SYN needed.
    assertThat(in(backup, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 3 * S)).isEqualTo(ACCEPT);
    assertThat(out(backup, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40000, ACK), 3 * S)).isEqualTo(ACCEPT);
    // A new connection from the other side is still refused there.
    assertThat(out(backup, PROD, Packets.tcp("10.2.5.10", 5432, "10.1.3.4", 40002, SYN), 3 * S)).isEqualTo(DROP);
  }

  @Test
  void onlyChangedAssuredFlowsAreExportedOnce() throws Exception {
    Firewall master = FirewallTest.stagingFirewall();
    Firewall backup = FirewallTest.stagingFirewall();
    // A half-open flow (SYN only) is not worth replicating.
    in(master, PROD, Packets.tcp("10.1.3.4", 41000, "10.2.5.10", 5432, SYN), S);
    assertThat(replicate(master, backup, S)).isZero();
    establish(master, 40000, S);
    assertThat(replicate(master, backup, S)).isEqualTo(1);
    assertThat(replicate(master, backup, S)).as("nothing changed since").isZero();
    // A state change (FIN) marks it again.
    in(master, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, FIN_ACK), 2 * S);
    assertThat(replicate(master, backup, 2 * S)).isEqualTo(1);
    master.markAllFlowsChanged();
    assertThat(replicate(master, backup, 2 * S)).isEqualTo(1);
  }

  @Test
  void importedFlowIsRecheckedAgainstTheTwinsRules() throws Exception {
    Firewall master = FirewallTest.stagingFirewall();
    Firewall strict = new Firewall(peers().build()); // the twin allows nothing
    establish(master, 40000, S);
    replicate(master, strict, S);
    assertThat(in(strict, PROD, Packets.tcp("10.1.3.4", 40000, "10.2.5.10", 5432, ACK), 2 * S)).isEqualTo(DROP);
  }

  @Test
  void exportIsBoundedPerCallAndResumes() throws Exception {
    Firewall master = FirewallTest.stagingFirewall();
    Firewall backup = FirewallTest.stagingFirewall();
    for (int p = 0; p < 50; p++) {
      establish(master, 30000 + p, S);
    }
    int total = 0;
    for (int round = 0; round < 20; round++) {
      List<long[]> batch = new ArrayList<>();
      int n = master.exportChangedFlows(S, (k0, k1, k2, k3, m, st, rem) -> batch.add(new long[] {k0}), 7);
      assertThat(n).isLessThanOrEqualTo(7).isEqualTo(batch.size());
      total += n;
    }
    assertThat(total).isEqualTo(50);
    assertThat(backup).isNotNull();
  }
}
