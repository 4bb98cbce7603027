package io.dctun.ha;

import static io.dctun.ha.VrrpRouterTest.MS;
import static io.dctun.ha.VrrpRouterTest.S;
import static io.dctun.ha.VrrpRouterTest.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.ha.VrrpAction.SendAdvert;
import io.dctun.ha.VrrpCounters.Event;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * VRRPv3 has no authentication (RFC 5798 removed it): what a forged advert does in multicast
 * mode (the threat, counted), and what unicast peers with the TTL check stop. The forger is
 * 198.18.1.66, on the segment; the pair is 198.18.1.1 (priority 200) and 198.18.1.2 (100).
 */
class VrrpForgeryTest {
  static final int A = VrrpAdvert.ipv4("198.18.1.1");
  static final int B = VrrpAdvert.ipv4("198.18.1.2");
  static final int FORGER = VrrpAdvert.ipv4("198.18.1.66");
  static final int VIP = VrrpAdvert.ipv4("198.18.1.100");

  static VrrpConfig.Builder cfg(String primary, int prio) {
    return VrrpConfig.builder("vi").interfaceName("eth0").vrid(51).priority(prio)
        .advertIntervalCentis(100).vip("198.18.1.100/24").primaryAddress(primary);
  }

  static VrrpConfig.Builder unicast(String primary, int prio, String peer) {
    return cfg(primary, prio).unicastPeer(peer);
  }

  /** An advert as it would arrive: to {@code dst}, with this TTL. */
  static byte[] advert(int src, int dst, int prio, int intervalCs, int ttl) {
    byte[] b = new byte[VrrpCodec.ipv4Length(1)];
    VrrpCodec.encodeIpv4(b, 0, 9, src, dst, 51, prio, intervalCs, new int[] {VIP}, 1);
    if (ttl != 255) {
      b[8] = (byte) ttl;
      int sum = 0; // the IPv4 header checksum again
      b[10] = 0;
      b[11] = 0;
      for (int i = 0; i < 20; i += 2) {
        sum += (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
      }
      while (sum >>> 16 != 0) {
        sum = (sum & 0xffff) + (sum >>> 16);
      }
      b[10] = (byte) (~sum >>> 8);
      b[11] = (byte) ~sum;
    }
    return b;
  }

  static List<VrrpAction> rx(VrrpRouter r, long now, byte[] p) {
    return r.onPacket(now, p, 0, p.length);
  }

  static VrrpRouter master(VrrpConfig c) {
    VrrpRouter r = new VrrpRouter(c);
    r.start(T0);
    r.poll(r.nextDeadline());
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    return r;
  }

  @Test
  void multicastModeAForgedOwnerAdvertTakesTheVipAndIsCounted() {
    VrrpRouter a = master(cfg("198.18.1.1", 200).build());
    rx(a, T0 + 10 * S, advert(FORGER, VrrpCodec.VRRP_MULTICAST, 255, 100, 255));
    assertThat(a.state()).as("the threat: anyone on the segment takes the VIP").isEqualTo(VrrpState.BACKUP);
    assertThat(a.counters().get(Event.OWNER_PRIORITY_NOT_OWNER)).isEqualTo(1);
    assertThat(a.counters().get(Event.INTERVAL_MISMATCH)).isZero();
  }

  @Test
  void multicastModeAForgedLongIntervalStallsTheBackupAndIsCounted() {
    VrrpRouter b = new VrrpRouter(cfg("198.18.1.2", 100).build());
    b.start(T0);
    rx(b, T0 + 100 * MS, advert(FORGER, VrrpCodec.VRRP_MULTICAST, 254, VrrpCodec.MAX_INTERVAL_CENTIS, 255));
    assertThat(b.counters().get(Event.INTERVAL_MISMATCH)).isEqualTo(1);
    assertThat(b.nextDeadline() - (T0 + 100 * MS))
        .as("the threat: a dead master goes unnoticed for two minutes").isGreaterThan(120 * S);
    assertThat(b.counters().get(Event.OWNER_PRIORITY_NOT_OWNER)).isZero();
  }

  @Test
  void unicastModeForgedAdvertsFromAnUnlistedSourceAreDroppedAndCounted() {
    VrrpRouter a = master(unicast("198.18.1.1", 200, "198.18.1.2").build());
    long deadline = a.nextDeadline();
    assertThat(rx(a, T0 + 10 * S, advert(FORGER, A, 255, 100, 255))).isEmpty();
    assertThat(rx(a, T0 + 10 * S, advert(FORGER, VrrpCodec.VRRP_MULTICAST, 255, 100, 255))).isEmpty();
    assertThat(a.state()).isEqualTo(VrrpState.MASTER);
    assertThat(a.nextDeadline()).isEqualTo(deadline);
    assertThat(a.counters().drops(DropReason.UNKNOWN_PEER)).isEqualTo(2);
    assertThat(a.counters().get(Event.ADVERTS_ACCEPTED)).isZero();

    VrrpRouter b = new VrrpRouter(unicast("198.18.1.2", 100, "198.18.1.1").build());
    b.start(T0);
    long down = b.nextDeadline();
    rx(b, T0 + 100 * MS, advert(FORGER, B, 254, VrrpCodec.MAX_INTERVAL_CENTIS, 255));
    assertThat(b.nextDeadline()).as("no stall").isEqualTo(down);
    assertThat(b.counters().drops(DropReason.UNKNOWN_PEER)).isEqualTo(1);
  }

  @Test
  void unicastModeAListedPeersAdvertThatCrossedARouterIsDroppedUnlessTheCheckIsOff() {
    byte[] routed = advert(B, A, 250, 100, 63);
    VrrpRouter checked = master(unicast("198.18.1.1", 200, "198.18.1.2").build());
    assertThat(rx(checked, T0 + 10 * S, routed)).isEmpty();
    assertThat(checked.counters().drops(DropReason.TTL_NOT_255)).isEqualTo(1);
    assertThat(checked.state()).isEqualTo(VrrpState.MASTER);
    VrrpRouter routedPeers = master(unicast("198.18.1.1", 200, "198.18.1.2").unicastTtlCheck(false).build());
    rx(routedPeers, T0 + 10 * S, routed);
    assertThat(routedPeers.state()).as("a higher-priority listed peer, TTL not checked").isEqualTo(VrrpState.BACKUP);
    assertThat(routedPeers.counters().drops(DropReason.TTL_NOT_255)).isZero();
  }

  @Test
  void aListedPeersAdvertWithAnotherIntervalIsTakenAndCounted() {
    VrrpRouter b = new VrrpRouter(unicast("198.18.1.2", 100, "198.18.1.1").build());
    b.start(T0);
    rx(b, T0 + 100 * MS, advert(A, B, 200, 50, 255));
    assertThat(b.counters().get(Event.ADVERTS_ACCEPTED)).isEqualTo(1);
    assertThat(b.counters().get(Event.INTERVAL_MISMATCH)).isEqualTo(1);
    assertThat(b.masterAdverIntervalCentis()).as("RFC 5798: the backup learns the master's").isEqualTo(50);
  }

  /** Two routers in unicast mode, each sending to the other's address only: election, hand-over, back. */
  @Test
  void unicastAdvertsBetweenTwoInstancesElectAndHandOver() {
    VrrpRouter a = new VrrpRouter(unicast("198.18.1.1", 200, "198.18.1.2").build());
    VrrpRouter b = new VrrpRouter(unicast("198.18.1.2", 100, "198.18.1.1").build());
    long now = T0;
    deliver(a, b, a.start(now), now);
    deliver(b, a, b.start(now), now);
    int sentByA = 0;
    for (int i = 0; i < 200; i++) { // 20 s of 100 ms steps
      now += 100 * MS;
      List<VrrpAction> fromA = a.poll(now);
      sentByA += (int) fromA.stream().filter(x -> x instanceof SendAdvert).count();
      deliver(a, b, fromA, now);
      deliver(b, a, b.poll(now), now);
    }
    assertThat(a.state()).isEqualTo(VrrpState.MASTER);
    assertThat(b.state()).isEqualTo(VrrpState.BACKUP);
    assertThat(sentByA).isGreaterThanOrEqualTo(15);
    assertThat(b.counters().get(Event.ADVERTS_ACCEPTED)).isGreaterThanOrEqualTo(15);
    assertThat(b.counters().totalDrops()).isZero();
    deliver(a, b, a.shutdown(now), now); // priority 0 to B's address
    assertThat(b.nextDeadline() - now).as("Skew_Time after priority 0").isLessThan(S);
    now = b.nextDeadline();
    deliver(b, a, b.poll(now), now);
    assertThat(b.state()).isEqualTo(VrrpState.MASTER);
  }

  /** Carries {@code from}'s SendAdverts to {@code to}, unicast to {@code to}'s address with TTL 255. */
  static void deliver(VrrpRouter from, VrrpRouter to, List<VrrpAction> actions, long now) {
    for (VrrpAction x : actions) {
      if (x instanceof SendAdvert s) {
        byte[] p = new byte[VrrpCodec.ipv4Length(1)];
        VrrpCodec.encodeIpv4(p, 0, 1, from.primaryAddress(), to.primaryAddress(), 51, s.priority(),
            from.config().advertIntervalCentis(), from.vipsRaw(), 1);
        to.onPacket(now, p, 0, p.length);
      }
    }
  }
}
