package io.dctun.core.packet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IpPacketTest {

  private static final int OFF = 16; // headroom, as the engine reads packets

  private static byte[] hex(String s) {
    return HexFormat.of().parseHex(s.replace(" ", ""));
  }

  /** The packet at OFF inside a larger buffer, with trailing junk past its end. */
  private static byte[] placed(byte[] packet) {
    byte[] buf = new byte[OFF + packet.length + 7];
    java.util.Arrays.fill(buf, (byte) 0xEE);
    System.arraycopy(packet, 0, buf, OFF, packet.length);
    return buf;
  }

  // 20-byte IPv4 header (example from RFC 1071 literature), UDP 53 -> 33000, 8 bytes payload.
  private static final byte[] V4_UDP = hex(
      "4500 0024 1c46 4000 4011 0000 c0a8 0001 c0a8 00c7"
          + "0035 80e8 0010 0000" + "0102 0304 0506 0708");

  // IPv4 with 4 bytes of options (IHL 6), TCP 443 -> 51000, SYN|ACK.
  private static final byte[] V4_TCP_OPTIONS = hex(
      "4600 002c 0000 4000 4006 0000 0a00 0001 0a00 0002 0101 0101"
          + "01bb c738 0000 0001 0000 0000 5012 ffff 0000 0000");

  // IPv6: hop-by-hop (8) -> dest opts (16) -> TCP 22 -> 40000 with SYN.
  private static final byte[] V6_TCP_EXT = hex(
      "6000 0000 002c 0040"
          + "2001 0db8 0000 0000 0000 0000 0000 0001"
          + "2001 0db8 0000 0000 0000 0000 0000 0002"
          + "3c00 0000 0000 0000" // hop-by-hop, next 60, len 0 -> 8 bytes
          + "0601 0000 0000 0000 0000 0000 0000 0000" // dest opts, next 6, len 1 -> 16 bytes
          + "0016 9c40 0000 0000 0000 0000 5002 ffff 0000 0000");

  // IPv6 ICMPv6 echo request (type 128).
  private static final byte[] V6_ICMP = hex(
      "6000 0000 0008 3a40"
          + "fd00 0000 0000 0000 0000 0000 0000 0001"
          + "fd00 0000 0000 0000 0000 0000 0000 0002"
          + "8000 0000 0001 0001");

  @Test
  void computesKnownIpv4HeaderChecksum() {
    byte[] h = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    assertThat(IpPacket.ipv4Checksum(h, 0, 20)).isEqualTo(0xb861);
    assertThat(IpPacket.writeIpv4Checksum(h, 0, 20)).isFalse(); // total 0x73 > 20 bytes
    byte[] full = new byte[0x73];
    System.arraycopy(h, 0, full, 0, 20);
    assertThat(IpPacket.ipv4ChecksumValid(full, 0, full.length)).isFalse();
    assertThat(IpPacket.writeIpv4Checksum(full, 0, full.length)).isTrue();
    assertThat(full[10] & 0xFF).isEqualTo(0xb8);
    assertThat(full[11] & 0xFF).isEqualTo(0x61);
    assertThat(IpPacket.ipv4ChecksumValid(full, 0, full.length)).isTrue();
  }

  @Test
  void readsIpv4UdpFields() {
    byte[] b = placed(V4_UDP);
    int len = V4_UDP.length + 7; // trailing padding is ignored
    assertThat(IpPacket.version(b, OFF, len)).isEqualTo(4);
    assertThat(IpPacket.isValid(b, OFF, len)).isTrue();
    assertThat(IpPacket.totalLength(b, OFF, len)).isEqualTo(36);
    assertThat(IpPacket.headerLength(b, OFF, len)).isEqualTo(20);
    assertThat(IpPacket.l4Offset(b, OFF, len)).isEqualTo(20);
    assertThat(IpPacket.protocol(b, OFF, len)).isEqualTo(IpPacket.PROTO_UDP);
    assertThat(IpPacket.addressLength(b, OFF, len)).isEqualTo(4);
    assertThat(IpPacket.sourceV4(b, OFF, len)).isEqualTo(0xc0a80001);
    assertThat(IpPacket.destinationV4(b, OFF, len)).isEqualTo(0xc0a800c7);
    assertThat(IpPacket.sourceOffset(b, OFF, len)).isEqualTo(OFF + 12);
    assertThat(IpPacket.destinationOffset(b, OFF, len)).isEqualTo(OFF + 16);
    byte[] addr = new byte[6];
    assertThat(IpPacket.copySource(b, OFF, len, addr, 2)).isEqualTo(4);
    assertThat(addr).containsExactly(0, 0, 0xc0, 0xa8, 0, 1);
    assertThat(IpPacket.copyDestination(b, OFF, len, addr, 3)).isEqualTo(-1); // no room
    assertThat(IpPacket.sourcePort(b, OFF, len)).isEqualTo(53);
    assertThat(IpPacket.destinationPort(b, OFF, len)).isEqualTo(33000);
    assertThat(IpPacket.tcpFlags(b, OFF, len)).isEqualTo(-1);
    assertThat(IpPacket.icmpType(b, OFF, len)).isEqualTo(-1);
    assertThat(IpPacket.isNonFirstFragment(b, OFF, len)).isFalse();
    assertThat(IpPacket.isV4Fragment(b, OFF, len)).isFalse();
  }

  @Test
  void skipsIpv4OptionsToReachTcp() {
    byte[] b = placed(V4_TCP_OPTIONS);
    int len = V4_TCP_OPTIONS.length;
    assertThat(IpPacket.headerLength(b, OFF, len)).isEqualTo(24);
    assertThat(IpPacket.l4Offset(b, OFF, len)).isEqualTo(24);
    assertThat(IpPacket.protocol(b, OFF, len)).isEqualTo(IpPacket.PROTO_TCP);
    assertThat(IpPacket.sourcePort(b, OFF, len)).isEqualTo(443);
    assertThat(IpPacket.destinationPort(b, OFF, len)).isEqualTo(51000);
    assertThat(IpPacket.tcpFlags(b, OFF, len)).isEqualTo(IpPacket.TCP_SYN | IpPacket.TCP_ACK);
  }

  @Test
  void walksIpv6ExtensionHeadersToTcp() {
    byte[] b = placed(V6_TCP_EXT);
    int len = V6_TCP_EXT.length;
    assertThat(IpPacket.version(b, OFF, len)).isEqualTo(6);
    assertThat(IpPacket.isValid(b, OFF, len)).isTrue();
    assertThat(IpPacket.totalLength(b, OFF, len)).isEqualTo(84);
    assertThat(IpPacket.headerLength(b, OFF, len)).isEqualTo(40);
    assertThat(IpPacket.l4Offset(b, OFF, len)).isEqualTo(64);
    assertThat(IpPacket.protocol(b, OFF, len)).isEqualTo(IpPacket.PROTO_TCP);
    assertThat(IpPacket.sourcePort(b, OFF, len)).isEqualTo(22);
    assertThat(IpPacket.destinationPort(b, OFF, len)).isEqualTo(40000);
    assertThat(IpPacket.tcpFlags(b, OFF, len)).isEqualTo(IpPacket.TCP_SYN);
    assertThat(IpPacket.addressLength(b, OFF, len)).isEqualTo(16);
    byte[] dst = new byte[16];
    assertThat(IpPacket.copyDestination(b, OFF, len, dst, 0)).isEqualTo(16);
    assertThat(dst).isEqualTo(hex("2001 0db8 0000 0000 0000 0000 0000 0002"));
    assertThat(IpPacket.sourceOffset(b, OFF, len)).isEqualTo(OFF + 8);
    assertThatThrownBy(() -> IpPacket.sourceV4(b, OFF, len))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readsIcmpv6TypeAndCode() {
    byte[] b = placed(V6_ICMP);
    int len = V6_ICMP.length;
    assertThat(IpPacket.protocol(b, OFF, len)).isEqualTo(IpPacket.PROTO_ICMPV6);
    assertThat(IpPacket.icmpType(b, OFF, len)).isEqualTo(128);
    assertThat(IpPacket.icmpCode(b, OFF, len)).isEqualTo(0);
    assertThat(IpPacket.sourcePort(b, OFF, len)).isEqualTo(-1);
  }

  @Test
  void ipv4NonFirstFragmentHasNoPorts() {
    byte[] p = V4_UDP.clone();
    p[6] = 0x00;
    p[7] = 0x10; // offset 16 * 8 bytes
    byte[] b = placed(p);
    int len = p.length;
    assertThat(IpPacket.isValid(b, OFF, len)).isTrue();
    assertThat(IpPacket.isNonFirstFragment(b, OFF, len)).isTrue();
    assertThat(IpPacket.isV4Fragment(b, OFF, len)).isTrue();
    assertThat(IpPacket.protocol(b, OFF, len)).isEqualTo(IpPacket.PROTO_UDP);
    assertThat(IpPacket.sourcePort(b, OFF, len)).isEqualTo(-1);
    assertThat(IpPacket.destinationPort(b, OFF, len)).isEqualTo(-1);
  }

  @Test
  void ipv4FirstFragmentKeepsPorts() {
    byte[] p = V4_UDP.clone();
    p[6] = 0x20; // MF, offset 0
    p[7] = 0x00;
    byte[] b = placed(p);
    assertThat(IpPacket.isNonFirstFragment(b, OFF, p.length)).isFalse();
    assertThat(IpPacket.isV4Fragment(b, OFF, p.length)).isTrue();
    assertThat(IpPacket.sourcePort(b, OFF, p.length)).isEqualTo(53);
  }

  @Test
  void ipv6FragmentHeaderFirstAndNonFirst() {
    // Fragment header (next UDP), first fragment, then UDP 1000 -> 2000.
    byte[] first = hex("6000 0000 0010 2c40" + "00".repeat(32)
        + "1100 0001 1234 5678" + "03e8 07d0 0010 0000");
    byte[] b = placed(first);
    assertThat(IpPacket.isValid(b, OFF, first.length)).isTrue();
    assertThat(IpPacket.isNonFirstFragment(b, OFF, first.length)).isFalse();
    assertThat(IpPacket.protocol(b, OFF, first.length)).isEqualTo(IpPacket.PROTO_UDP);
    assertThat(IpPacket.l4Offset(b, OFF, first.length)).isEqualTo(48);
    assertThat(IpPacket.sourcePort(b, OFF, first.length)).isEqualTo(1000);

    byte[] later = first.clone();
    later[42] = 0x00;
    later[43] = 0x08; // offset 1 (in 8-byte units), M=0
    byte[] c = placed(later);
    assertThat(IpPacket.isValid(c, OFF, later.length)).isTrue();
    assertThat(IpPacket.isNonFirstFragment(c, OFF, later.length)).isTrue();
    assertThat(IpPacket.protocol(c, OFF, later.length)).isEqualTo(IpPacket.PROTO_UDP);
    assertThat(IpPacket.sourcePort(c, OFF, later.length)).isEqualTo(-1);
  }

  @Test
  void rejectsMalformedIpv4Headers() {
    byte[] ihl4 = V4_UDP.clone();
    ihl4[0] = 0x44;
    assertThat(IpPacket.isValid(ihl4, 0, ihl4.length)).isFalse();
    byte[] tooLong = V4_UDP.clone();
    tooLong[3] = (byte) (V4_UDP.length + 1);
    assertThat(IpPacket.isValid(tooLong, 0, tooLong.length)).isFalse();
    assertThat(IpPacket.totalLength(tooLong, 0, tooLong.length)).isEqualTo(-1);
    byte[] shorterThanHeader = V4_UDP.clone();
    shorterThanHeader[3] = 19;
    assertThat(IpPacket.isValid(shorterThanHeader, 0, shorterThanHeader.length)).isFalse();
    byte[] ihlPastTotal = V4_TCP_OPTIONS.clone();
    ihlPastTotal[0] = 0x4F; // 60-byte header in a 48-byte packet
    assertThat(IpPacket.isValid(ihlPastTotal, 0, ihlPastTotal.length)).isFalse();
    byte[] v5 = V4_UDP.clone();
    v5[0] = 0x55;
    assertThat(IpPacket.version(v5, 0, v5.length)).isEqualTo(-1);
    assertThat(IpPacket.isValid(V4_UDP, 0, 19)).isFalse();
    assertThat(IpPacket.isValid(new byte[0], 0, 0)).isFalse();
    assertThat(IpPacket.isValid(null, 0, 0)).isFalse();
  }

  @Test
  void rejectsMalformedIpv6Headers() {
    byte[] payloadTooLong = V6_ICMP.clone();
    payloadTooLong[5] = 9;
    assertThat(IpPacket.isValid(payloadTooLong, 0, payloadTooLong.length)).isFalse();
    byte[] extPastEnd = V6_TCP_EXT.clone();
    extPastEnd[41] = 10; // hop-by-hop claims 88 bytes
    assertThat(IpPacket.isValid(extPastEnd, 0, extPastEnd.length)).isFalse();
    assertThat(IpPacket.protocol(extPastEnd, 0, extPastEnd.length)).isEqualTo(-1);
    assertThat(IpPacket.isValid(V6_ICMP, 0, 39)).isFalse();
  }

  @Test
  void boundsTheExtensionHeaderChain() {
    int n = IpPacket.MAX_V6_EXTENSION_HEADERS + 1;
    byte[] p = new byte[40 + n * 8 + 8];
    p[0] = 0x60;
    p[5] = (byte) (n * 8 + 8);
    p[6] = (byte) IpPacket.PROTO_DSTOPTS;
    for (int i = 0; i < n; i++) {
      p[40 + i * 8] = (byte) (i == n - 1 ? IpPacket.PROTO_UDP : IpPacket.PROTO_DSTOPTS);
    }
    assertThat(IpPacket.isValid(p, 0, p.length)).isFalse();
    // One fewer header is fine.
    p[40 + (n - 2) * 8] = (byte) IpPacket.PROTO_UDP;
    assertThat(IpPacket.isValid(p, 0, p.length)).isTrue();
    assertThat(IpPacket.protocol(p, 0, p.length)).isEqualTo(IpPacket.PROTO_UDP);
  }

  @Test
  void truncatedTransportHeaderGivesNoPorts() {
    byte[] p = hex("4500 0016 0000 0000 4006 0000 0a00 0001 0a00 0002 01bb");
    assertThat(IpPacket.isValid(p, 0, p.length)).isTrue();
    assertThat(IpPacket.sourcePort(p, 0, p.length)).isEqualTo(-1);
    assertThat(IpPacket.tcpFlags(p, 0, p.length)).isEqualTo(-1);
  }

  @Test
  void neverThrowsOrReadsOutsideTheSliceOnGarbage() {
    Random rnd = new Random(791);
    byte[][] seeds = {V4_UDP, V4_TCP_OPTIONS, V6_TCP_EXT, V6_ICMP};
    byte[] dst = new byte[16];
    for (int i = 0; i < 200_000; i++) {
      byte[] seed = seeds[rnd.nextInt(seeds.length)];
      byte[] p = seed.clone();
      for (int k = rnd.nextInt(4); k > 0; k--) {
        p[rnd.nextInt(p.length)] = (byte) rnd.nextInt(256);
      }
      int len = rnd.nextInt(p.length + 1);
      // The slice is exactly the buffer's tail: any read past it would throw.
      byte[] b = new byte[3 + len];
      System.arraycopy(p, 0, b, 3, len);
      IpPacket.version(b, 3, len);
      IpPacket.isValid(b, 3, len);
      IpPacket.totalLength(b, 3, len);
      IpPacket.headerLength(b, 3, len);
      IpPacket.l4Offset(b, 3, len);
      IpPacket.protocol(b, 3, len);
      IpPacket.isNonFirstFragment(b, 3, len);
      IpPacket.copySource(b, 3, len, dst, 0);
      IpPacket.copyDestination(b, 3, len, dst, 0);
      IpPacket.sourcePort(b, 3, len);
      IpPacket.destinationPort(b, 3, len);
      IpPacket.tcpFlags(b, 3, len);
      IpPacket.icmpType(b, 3, len);
      IpPacket.icmpCode(b, 3, len);
      IpPacket.ipv4ChecksumValid(b, 3, len);
      IcmpEcho.parseV4(b, 3, len);
      if (IpPacket.isValid(b, 3, len)) {
        assertThat(IpPacket.totalLength(b, 3, len)).isBetween(20, len);
        assertThat(IpPacket.l4Offset(b, 3, len))
            .isBetween(0, IpPacket.totalLength(b, 3, len));
      }
    }
    assertThat(IpPacket.isValid(V4_UDP, -1, 20)).isFalse();
    assertThat(IpPacket.isValid(V4_UDP, 30, 20)).isFalse();
    assertThat(IpPacket.isValid(V4_UDP, 0, -5)).isFalse();
  }
}
