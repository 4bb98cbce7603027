package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import io.dctun.core.status.StatusText;
import org.junit.jupiter.api.Test;

/** The route-sharing rules one at a time, on a few gateways and a lossless network. */
class HostDirectoryTest {
  static final Prefix H = Prefix.parse("198.18.50.7/32");

  @Test
  void aConnectedHostIsRoutedToItsGatewayEverywhere() {
    MeshSim s = new MeshSim(4);
    s.settle(500);
    s.gateways.get(1).connected(H, 100, s.now);
    s.deliverAll();
    for (int g = 0; g < 4; g++) {
      assertThat(s.gateways.get(g).owner(H)).as("at gateway %d", g).isEqualTo(1);
    }
    assertThat(s.routeChanges.get(3)).containsEntry(H, 1);
  }

  @Test
  void aMoveWinsEverywhereWhateverOrderTheAnnouncementsArriveIn() {
    MeshSim s = new MeshSim(3);
    s.settle(500);
    s.gateways.get(0).connected(H, 100, s.now);
    MeshSim.InFlight[] first = s.wire.toArray(new MeshSim.InFlight[0]);
    s.wire.clear();
    s.gateways.get(1).connected(H, 101, s.now); // the host moved before the first news arrived
    for (MeshSim.InFlight f : first) {
      s.wire.add(f); // the older news arrives last
    }
    s.deliverAll();
    for (int g = 0; g < 3; g++) {
      assertThat(s.gateways.get(g).owner(H)).as("at gateway %d", g).isEqualTo(1);
    }
    assertThat(s.gateways.get(0).localHosts()).as("gateway 0 stopped claiming it").doesNotContainKey(H);
  }

  @Test
  void aWithdrawalIsImmediateAndAnOvertakenAnnouncementCannotReviveIt() {
    MeshSim s = new MeshSim(2);
    s.settle(500);
    s.gateways.get(0).connected(H, 100, s.now);
    MeshSim.InFlight announce = s.wire.remove(0);
    s.gateways.get(0).disconnected(H, s.now);
    s.deliverAll(); // the withdrawal first
    s.wire.add(announce); // then the announcement it overtook
    s.deliverAll();
    assertThat(s.gateways.get(1).owner(H)).isNull();
    assertThat(s.gateways.get(1).staleEntries()).isEqualTo(1);
  }

  @Test
  void aDeadGatewaysHostsExpireAfterTheLease() {
    MeshSim s = new MeshSim(3);
    s.settle(500);
    s.gateways.get(2).connected(H, 100, s.now);
    s.deliverAll();
    s.kill(2);
    s.settle(MeshSim.LEASE_MILLIS - 200);
    assertThat(s.gateways.get(0).owner(H)).as("still within the lease").isEqualTo(2);
    s.settle(400);
    assertThat(s.gateways.get(0).owner(H)).as("lease over").isNull();
    assertThat(s.gateways.get(1).owner(H)).isNull();
  }

  @Test
  void liveClaimsAreRefreshedAndOutliveManyLeases() {
    MeshSim s = new MeshSim(2);
    s.settle(500);
    s.gateways.get(0).connected(H, 100, s.now);
    s.settle(MeshSim.LEASE_MILLIS * 5);
    assertThat(s.gateways.get(1).owner(H)).isEqualTo(0);
  }

  @Test
  void aRestartedGatewayLearnsEverythingAgainAndItsOldClaimsGo() {
    MeshSim s = new MeshSim(3);
    s.settle(500);
    s.gateways.get(0).connected(H, 100, s.now);
    Prefix other = Prefix.parse("198.18.50.8/32");
    s.gateways.get(2).connected(other, 7, s.now);
    s.deliverAll();
    s.start(2); // restarts: its hosts' sessions are gone with it
    s.settle(300);
    assertThat(s.gateways.get(2).owner(H)).as("learned again after the restart").isEqualTo(0);
    assertThat(s.gateways.get(0).owner(other)).as("the old incarnation's claim is void at once").isNull();
  }

  @Test
  void onlyGatewaysOfTheMeshAreHeardAndStatusCountsIt() {
    MeshSim s = new MeshSim(2);
    assertThat(s.gateways.get(0).receive(99, new MeshMessage.Hello(5, 0), s.now)).isFalse();
    assertThat(s.gateways.get(0).unknownGateway()).isEqualTo(1);
    assertThat(StatusText.of(s.gateways.get(0))).contains("unknown-gateway 1\n");
  }
}
