package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.ha.VrrpAction.AddVips;
import io.dctun.ha.VrrpAction.GratuitousArp;
import io.dctun.ha.VrrpAction.SendAdvert;
import io.dctun.ha.VrrpAction.StateChange;
import io.dctun.ha.internal.UnsolicitedNa;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * VRRPv3 over IPv6: the codec against keepalived 2.2.7's own advert, the router on IPv6
 * addresses, and the unsolicited neighbour advertisement against keepalived's (captures in
 * {@code src/test/resources/captures}, taken in a test namespace).
 */
class Vrrp6Test {
  static final InetAddress KEEPALIVED = VrrpConfig.literal("fe80::f438:71ff:feb3:b9bd");
  static final InetAddress LOW = VrrpConfig.literal("fe80::1");
  static final InetAddress VIP = VrrpConfig.literal("fe80::61:1");
  static final byte[] KEEPALIVED_MAC = HexFormat.of().parseHex("f63871b3b9bd");
  static final long S = 1_000_000_000L;
  static final long T0 = 5_000 * S;

  /** A capture file: '#' comment lines, then hex with any spacing. */
  static byte[] capture(String name) throws IOException {
    try (InputStream in = Vrrp6Test.class.getResourceAsStream("/captures/" + name)) {
      assertThat(in).as(name).isNotNull();
      StringBuilder hex = new StringBuilder();
      for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
        if (!line.startsWith("#")) {
          hex.append(line.replaceAll("\\s+", ""));
        }
      }
      return HexFormat.of().parseHex(hex);
    }
  }

  /** The IPv6 packet of keepalived's advert (Ethernet header stripped). */
  static byte[] keepalivedAdvert() throws IOException {
    byte[] f = capture("keepalived-2.2.7-ipv6-advert.hex");
    assertThat(f).hasSize(78);
    return Arrays.copyOfRange(f, 14, f.length);
  }

  static byte[] packet(InetAddress src, int prio, int intervalCs) {
    byte[] b = new byte[VrrpCodec.ipv6Length(1)];
    VrrpCodec.encodeIpv6(b, 0, src.getAddress(), VrrpCodec.vrrpMulticast6(), 61, prio, intervalCs,
        VIP.getAddress(), 1);
    return b;
  }

  static VrrpConfig.Builder cfg(int prio) {
    return VrrpConfig.builder("vi6").interfaceName("eth0").vrid(61).priority(prio)
        .advertIntervalCentis(20).vip("fe80::61:1/64");
  }

  @Test
  void decodesKeepalivedsIpv6AdvertAndVerifiesItsChecksum() throws Exception {
    byte[] p = keepalivedAdvert();
    VrrpAdvert a = new VrrpAdvert();
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.NONE);
    assertThat(a.family()).isEqualTo(6);
    assertThat(a.ttl()).isEqualTo(255);
    assertThat(a.vrid()).isEqualTo(61);
    assertThat(a.priority()).isEqualTo(150);
    assertThat(a.intervalCentis()).isEqualTo(20);
    assertThat(a.checksum()).isEqualTo(0x1d02);
    assertThat(a.sourceAddress()).isEqualTo(KEEPALIVED);
    assertThat(a.addressCount()).isEqualTo(1);
    assertThat(a.addressAt(0)).isEqualTo(VIP);
    assertThat(a.toString()).contains("vrid 61", "prio 150", "fe80:0:0:0:0:0:61:1");
    assertThatThrownBy(() -> a.address(0)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void encodesWhatKeepalivedSentExceptItsFlowLabel() throws Exception {
    byte[] expected = keepalivedAdvert();
    byte[] b = new byte[100];
    int n = VrrpCodec.encodeIpv6(b, 7, KEEPALIVED.getAddress(), VrrpCodec.vrrpMulticast6(), 61, 150,
        20, VIP.getAddress(), 1);
    byte[] ours = Arrays.copyOfRange(b, 7, 7 + n);
    assertThat(ours).hasSize(expected.length);
    // version 6 and traffic class 0xc0 alike; keepalived's kernel chose flow label 0xbff2b, ours is 0
    assertThat(ours[0]).isEqualTo(expected[0]);
    assertThat(ours[1] & 0xf0).isEqualTo(expected[1] & 0xf0);
    assertThat(Arrays.copyOfRange(ours, 4, n)).isEqualTo(Arrays.copyOfRange(expected, 4, n));
  }

  @Test
  void everyMalformedIpv6AdvertIsDroppedForItsOwnReason() throws Exception {
    VrrpAdvert a = new VrrpAdvert();
    byte[] good = keepalivedAdvert();
    assertThat(VrrpCodec.decode(good, 0, good.length, a)).isEqualTo(DropReason.NONE);

    byte[] p = good.clone();
    p[7] = (byte) 254; // hop limit: crossed a router
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.TTL_NOT_255);
    p = good.clone();
    p[40 + 6] ^= 0x01; // checksum
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.BAD_CHECKSUM);
    p = good.clone();
    p[24 + 15] ^= 0x01; // destination: the pseudo-header no longer matches
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.BAD_CHECKSUM);
    p = good.clone();
    p[6] = 17; // next header UDP
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.NOT_VRRP);
    p = good.clone();
    p[40] = 0x21; // VRRPv2
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.WRONG_VERSION);
    p = good.clone();
    p[40 + 3] = 2; // two addresses announced, one present
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.BAD_LENGTH);
    p = good.clone();
    p[40 + 3] = 0;
    assertThat(VrrpCodec.decode(p, 0, p.length, a)).isEqualTo(DropReason.BAD_ADDRESS_COUNT);
    assertThat(VrrpCodec.decode(good, 0, good.length - 1, a)).as("payload length beyond the data")
        .isEqualTo(DropReason.BAD_IP_HEADER);
    assertThat(VrrpCodec.decode(good, 0, 39, a)).isEqualTo(DropReason.BAD_IP_HEADER);
    assertThat(VrrpCodec.decodeIpv6(new byte[60], 0, 60, a)).isEqualTo(DropReason.BAD_IP_HEADER);
    // an IPv4 advert given to the IPv6 decoder, and back
    byte[] v4 = new byte[VrrpCodec.ipv4Length(1)];
    VrrpCodec.encodeIpv4(v4, 0, 1, VrrpAdvert.ipv4("198.18.1.1"), VrrpCodec.VRRP_MULTICAST, 61, 100,
        100, new int[] {VrrpAdvert.ipv4("198.18.1.100")}, 1);
    assertThat(VrrpCodec.decodeIpv6(v4, 0, v4.length, a)).isEqualTo(DropReason.BAD_IP_HEADER);
    assertThat(VrrpCodec.decodeIpv4(good, 0, good.length, a)).isEqualTo(DropReason.BAD_IP_HEADER);
  }

  @Test
  void randomBytesNeverThrow() {
    java.util.Random rnd = new java.util.Random(6);
    VrrpAdvert a = new VrrpAdvert();
    byte[] p = new byte[200];
    for (int i = 0; i < 100_000; i++) {
      rnd.nextBytes(p);
      p[0] = (byte) (0x60 | p[0] & 0x0f);
      p[6] = (byte) (rnd.nextBoolean() ? 112 : p[6]);
      p[7] = (byte) (rnd.nextBoolean() ? 255 : p[7]);
      p[40] = (byte) (rnd.nextBoolean() ? 0x31 : p[40]);
      int len = rnd.nextInt(p.length + 1);
      DropReason r = VrrpCodec.decode(p, 0, len, a);
      assertThat(r).isNotNull();
    }
  }

  @Test
  void routerOnIpv6BacksOffToKeepalivedsHigherPriorityAndKeepsItsOwnTimers() throws Exception {
    VrrpRouter r = new VrrpRouter(cfg(100).build(), LOW);
    assertThat(r.family()).isEqualTo(6);
    List<VrrpAction> start = r.start(T0);
    assertThat(start).anyMatch(x -> x instanceof StateChange s && s.to() == VrrpState.BACKUP);
    // keepalived's real advert (priority 150) resets Master_Down_Timer
    byte[] p = keepalivedAdvert();
    assertThat(r.onPacket(T0 + S / 2, p, 0, p.length)).isEmpty();
    assertThat(r.counters().get(VrrpCounters.Event.ADVERTS_ACCEPTED)).isEqualTo(1);
    assertThat(r.nextDeadline()).isEqualTo(T0 + S / 2 + r.masterDownIntervalNanos());
    // a bad one changes nothing
    byte[] bad = p.clone();
    bad[7] = 64;
    assertThat(r.onPacket(T0 + S, bad, 0, bad.length)).isEmpty();
    assertThat(r.counters().drops(DropReason.TTL_NOT_255)).isEqualTo(1);
    assertThat(r.nextDeadline()).isEqualTo(T0 + S / 2 + r.masterDownIntervalNanos());
    // an IPv4 advert for the same VRID is not for this instance
    byte[] v4 = new byte[VrrpCodec.ipv4Length(1)];
    VrrpCodec.encodeIpv4(v4, 0, 1, VrrpAdvert.ipv4("198.18.1.1"), VrrpCodec.VRRP_MULTICAST, 61, 200,
        20, new int[] {VrrpAdvert.ipv4("198.18.1.100")}, 1);
    assertThat(r.onPacket(T0 + S, v4, 0, v4.length)).isEmpty();
    assertThat(r.counters().drops(DropReason.WRONG_FAMILY)).isEqualTo(1);
    // silence: Master_Down_Timer fires, the VIPs come up and are announced
    List<VrrpAction> took = r.poll(T0 + S / 2 + r.masterDownIntervalNanos());
    assertThat(took).hasAtLeastOneElementOfType(AddVips.class).hasAtLeastOneElementOfType(SendAdvert.class)
        .hasAtLeastOneElementOfType(GratuitousArp.class);
    assertThat(r.state()).isEqualTo(VrrpState.MASTER);
    assertThat(r.vipBytes()).isEqualTo(VIP.getAddress());
  }

  @Test
  void equalPriorityMastersTieBreakOnTheHigherIpv6Address() {
    VrrpRouter low = new VrrpRouter(cfg(100).build(), LOW);
    low.start(T0);
    low.poll(T0 + 10 * S);
    assertThat(low.state()).isEqualTo(VrrpState.MASTER);
    byte[] fromHigh = packet(KEEPALIVED, 100, 20);
    low.onPacket(T0 + 10 * S + 1, fromHigh, 0, fromHigh.length);
    assertThat(low.state()).as("fe80::1 < fe80::f438:...: the higher address wins").isEqualTo(VrrpState.BACKUP);

    VrrpRouter high = new VrrpRouter(cfg(100).build(), KEEPALIVED);
    high.start(T0);
    high.poll(T0 + 10 * S);
    byte[] fromLow = packet(LOW, 100, 20);
    high.onPacket(T0 + 10 * S + 1, fromLow, 0, fromLow.length);
    assertThat(high.state()).isEqualTo(VrrpState.MASTER);
    assertThat(high.counters().get(VrrpCounters.Event.MASTER_CONFLICT_WON)).isEqualTo(1);
    // its own advert (same source) is recognised as such
    byte[] own = packet(KEEPALIVED, 100, 20);
    high.onPacket(T0 + 10 * S + 2, own, 0, own.length);
    assertThat(high.counters().drops(DropReason.OWN_ADVERT)).isEqualTo(1);
  }

  @Test
  void unicastPeersOverIpv6AcceptOnlyThosePeers() {
    VrrpRouter r = new VrrpRouter(cfg(100).unicastPeer("fe80::1").build(), KEEPALIVED);
    r.start(T0);
    byte[] stranger = packet(VrrpConfig.literal("fe80::99"), 200, 20);
    r.onPacket(T0 + 1, stranger, 0, stranger.length);
    assertThat(r.counters().drops(DropReason.UNKNOWN_PEER)).isEqualTo(1);
    byte[] peer = packet(LOW, 200, 20);
    r.onPacket(T0 + 2, peer, 0, peer.length);
    assertThat(r.counters().get(VrrpCounters.Event.ADVERTS_ACCEPTED)).isEqualTo(1);
  }

  @Test
  void unicastModeTakesHopLimit64OnlyWithTheTtlCheckOffMulticastModeNever() {
    byte[] p = packet(LOW, 200, 20);
    p[7] = 64; // keepalived 2.2.7's unicast IPv6 adverts: the kernel's default hop limit
    VrrpRouter checked = new VrrpRouter(cfg(100).unicastPeer("fe80::1").build(), KEEPALIVED);
    checked.start(T0);
    checked.onPacket(T0 + 1, p, 0, p.length);
    assertThat(checked.counters().drops(DropReason.TTL_NOT_255)).as("the default keeps RFC 5798's check").isEqualTo(1);
    VrrpRouter unicast = new VrrpRouter(cfg(100).unicastPeer("fe80::1").unicastTtlCheck(false).build(), KEEPALIVED);
    unicast.start(T0);
    unicast.onPacket(T0 + 1, p, 0, p.length);
    assertThat(unicast.counters().get(VrrpCounters.Event.ADVERTS_ACCEPTED)).isEqualTo(1);
    VrrpRouter multicast = new VrrpRouter(cfg(100).build(), KEEPALIVED);
    multicast.start(T0);
    multicast.onPacket(T0 + 1, p, 0, p.length);
    assertThat(multicast.counters().drops(DropReason.TTL_NOT_255)).isEqualTo(1);
    assertThat(multicast.counters().get(VrrpCounters.Event.ADVERTS_ACCEPTED)).isZero();
  }

  @Test
  void configRefusesMixedFamiliesAndParsesIpv6() {
    VrrpConfig c = cfg(100).vip("fe80::61:2").build();
    assertThat(c.family()).isEqualTo(6);
    assertThat(c.vips().get(1).prefixLength()).isEqualTo(128);
    assertThatThrownBy(() -> cfg(100).vip("198.18.1.100/24").build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mix IPv4 and IPv6");
    assertThatThrownBy(() -> cfg(100).unicastPeer("198.18.1.2").build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("198.18.1.2");
    assertThatThrownBy(() -> cfg(100).primaryAddress("198.18.1.1").build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("primary address");
    assertThatThrownBy(() -> VrrpConfig.Vip.parse("fe80::1/129"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0..128");
    assertThatThrownBy(() -> VrrpConfig.literal("fe80::1%eth0"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> VrrpConfig.literal("gateway.example"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new VrrpRouter(cfg(100).build(), VrrpAdvert.toInet(VrrpAdvert.ipv4("198.18.1.1"))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not IPv6");
  }

  @Test
  void unsolicitedNaIsKeepalivedsFrameWithTheRouterFlagRfc5798Asks() throws Exception {
    byte[] expected = capture("keepalived-2.2.7-unsolicited-na.hex");
    assertThat(expected).hasSize(UnsolicitedNa.FRAME_LENGTH);
    byte[] f = new byte[UnsolicitedNa.FRAME_LENGTH + 3];
    // with keepalived's flags (Override only) the frame is byte for byte keepalived's
    int n = UnsolicitedNa.frame(f, 3, KEEPALIVED_MAC, VIP.getAddress(), 0, 0x20);
    assertThat(Arrays.copyOfRange(f, 3, 3 + n)).isEqualTo(expected);
    // ours sets Router too (RFC 5798 6.4.2); its checksum verifies
    n = UnsolicitedNa.frame(f, 0, KEEPALIVED_MAC, VIP.getAddress(), 0, UnsolicitedNa.FLAGS);
    assertThat(f[14 + 40 + 4] & 0xff).isEqualTo(0xa0);
    assertThat(io.dctun.core.packet.IpPacket.pseudoHeaderChecksum(f, 14, 6, 58, 14 + 40, 32)).isZero();
    byte[] diff = Arrays.copyOf(f, n);
    diff[14 + 40 + 4] = 0x20;
    diff[14 + 40 + 2] = expected[14 + 40 + 2];
    diff[14 + 40 + 3] = expected[14 + 40 + 3];
    assertThat(diff).as("only the flags and the checksum differ").isEqualTo(expected);
  }
}
