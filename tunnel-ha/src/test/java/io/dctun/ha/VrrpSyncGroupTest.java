package io.dctun.ha;

import static io.dctun.ha.VrrpRouterTest.MS;
import static io.dctun.ha.VrrpRouterTest.S;
import static io.dctun.ha.VrrpRouterTest.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.ha.VrrpAction.RemoveVips;
import java.util.List;
import org.junit.jupiter.api.Test;

class VrrpSyncGroupTest {
  static final int PEER = VrrpAdvert.ipv4("198.18.1.2");

  private static VrrpRouter router(String name, int vrid, String vip) {
    return new VrrpRouter(VrrpConfig.builder(name).interfaceName("eth-" + name).vrid(vrid)
        .priority(150).advertIntervalCentis(100).vip(vip).primaryAddress("198.18.1.1")
        .track(VrrpConfig.Track.fault("link-" + name)).build());
  }

  private final VrrpRouter pub = router("public", 51, "198.18.1.100/24");
  private final VrrpRouter priv = router("private", 52, "198.18.2.100/24");
  private final VrrpSyncGroup g = new VrrpSyncGroup(List.of(pub, priv));

  private void bothMaster() {
    g.start(T0);
    g.poll(g.nextDeadline());
    assertThat(pub.state()).isEqualTo(VrrpState.MASTER);
    assertThat(priv.state()).isEqualTo(VrrpState.MASTER);
  }

  @Test
  void aMemberThatHearsNoMasterWaitsWhileAnotherStillHearsOne() {
    g.start(T0);
    // only "public" hears a master; "private" fires first and wants MASTER, but the group waits
    g.onAdvert(T0 + 100 * MS, pub, new VrrpAdvert().set(PEER, 51, 200, 100, 0));
    List<VrrpAction> a = g.poll(g.nextDeadline());
    assertThat(a).isEmpty();
    assertThat(priv.wantsMaster()).isTrue();
    assertThat(priv.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(pub.state()).isEqualTo(VrrpState.BACKUP);
    // once "public" stops hearing it too, every member wants MASTER: the group goes, together
    a = g.poll(g.nextDeadline());
    assertThat(a).contains(new VrrpAction.AddVips("public"), new VrrpAction.AddVips("private"));
    assertThat(pub.state()).isEqualTo(VrrpState.MASTER);
    assertThat(priv.state()).isEqualTo(VrrpState.MASTER);
  }

  @Test
  void oneBecomingBackupTakesTheOthersAlong() {
    bothMaster();
    List<VrrpAction> a = g.onAdvert(T0 + 10 * S, priv, new VrrpAdvert().set(PEER, 52, 200, 100, 0));
    assertThat(priv.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(pub.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(a).contains(new RemoveVips("public"), new RemoveVips("private"));
  }

  @Test
  void oneFaultHoldsAllInFaultUntilItRecovers() {
    bothMaster();
    List<VrrpAction> a = g.setCondition(T0 + 10 * S, "link-public", false);
    assertThat(pub.state()).isEqualTo(VrrpState.FAULT);
    assertThat(priv.state()).isEqualTo(VrrpState.FAULT);
    assertThat(a).contains(new VrrpAction.SendAdvert("public", 0),
        new VrrpAction.SendAdvert("private", 0), new RemoveVips("public"), new RemoveVips("private"));
    assertThat(g.nextDeadline()).isEqualTo(VrrpRouter.NEVER);
    g.setCondition(T0 + 20 * S, "link-public", true);
    assertThat(pub.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(priv.state()).isEqualTo(VrrpState.BACKUP);
  }

  @Test
  void aMemberStartingInFaultHoldsTheOthers() {
    pub.setCondition(T0, "link-public", false);
    g.start(T0);
    assertThat(priv.state()).isEqualTo(VrrpState.FAULT);
  }
}
