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

  /**
   * HA twins share one identity. The twin that takes over was started before the master it
   * replaces, so its incarnation is the older one: the other gateways must not ignore it as stale
   * (its hosts would go unrouted until it restarted); it learns the newer one and rises above it.
   */
  @Test
  void aTwinThatTakesOverWithAnOlderIncarnationRisesAboveItAndIsHeard() {
    MeshSim s = new MeshSim(3); // incarnations 1, 2, 3
    s.settle(500);
    Prefix before = Prefix.parse("198.18.50.8/32");
    s.gateways.get(2).connected(before, 100, s.now);
    s.deliverAll();
    assertThat(s.gateways.get(0).owner(before)).isEqualTo(2);

    s.kill(2); // the master dies; its twin, started first (incarnation 1 < 3), takes over
    HostDirectory<Integer> twin = s.start(2, 1);
    twin.connected(H, 200, s.now); // a host that connects to the new master
    s.settle(500);

    assertThat(twin.incarnation()).as("risen above the master it replaced").isGreaterThan(3);
    assertThat(twin.incarnationRaised()).isEqualTo(1);
    for (int g = 0; g < 2; g++) {
      assertThat(s.gateways.get(g).owner(H)).as("gateway %d hears the twin", g).isEqualTo(2);
      assertThat(s.gateways.get(g).owner(before)).as("the old master's claim is void at %d", g).isNull();
      assertThat(s.gateways.get(g).incarnationRaised()).isZero();
    }
    String stale0 = staleIncarnation(s.gateways.get(0));
    s.settle(3 * MeshSim.LEASE_MILLIS); // hello retries and refreshes: nothing more is stale, nothing rises
    assertThat(twin.incarnationRaised()).as("no incarnation ping-pong").isEqualTo(1);
    assertThat(staleIncarnation(s.gateways.get(0))).isEqualTo(stale0).isNotEqualTo("0");
    assertThat(s.gateways.get(0).owner(H)).isEqualTo(2);
  }

  private static String staleIncarnation(HostDirectory<Integer> d) {
    String text = StatusText.of(d);
    int at = text.indexOf("stale-incarnation ");
    return text.substring(at + "stale-incarnation ".length(), text.indexOf('\n', at));
  }
}
