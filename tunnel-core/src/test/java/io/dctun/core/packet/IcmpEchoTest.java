package io.dctun.core.packet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class IcmpEchoTest {

  private static final int SRC = 0xC6120001; // 198.18.0.1
  private static final int DST = 0xC6130002; // 198.19.0.2

  @Test
  void writesRequestWithValidChecksums() {
    byte[] buf = new byte[128];
    byte[] payload = "dctun-ping".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    int n = IcmpEcho.writeV4Request(buf, 16, SRC, DST, 0x1234, 7, payload);
    assertThat(n).isEqualTo(20 + 8 + payload.length);
    assertThat(IpPacket.isValid(buf, 16, n)).isTrue();
    assertThat(IpPacket.ipv4ChecksumValid(buf, 16, n)).isTrue();
    assertThat(IpPacket.protocol(buf, 16, n)).isEqualTo(IpPacket.PROTO_ICMP);
    assertThat(IpPacket.icmpType(buf, 16, n)).isEqualTo(IcmpEcho.TYPE_ECHO_REQUEST);
    assertThat(IpPacket.icmpCode(buf, 16, n)).isZero();
    assertThat(IpPacket.sourceV4(buf, 16, n)).isEqualTo(SRC);
    assertThat(IpPacket.destinationV4(buf, 16, n)).isEqualTo(DST);
    // ICMP checksum over the message sums to 0xFFFF.
    assertThat(IpPacket.onesComplementSum(buf, 36, n - 20, 0)).isEqualTo(0xFFFF);

    assertThat(IcmpEcho.parseV4(buf, 16, n)).isEqualTo(IcmpEcho.TYPE_ECHO_REQUEST);
    assertThat(IcmpEcho.id(buf, 16, n)).isEqualTo(0x1234);
    assertThat(IcmpEcho.sequence(buf, 16, n)).isEqualTo(7);
    assertThat(IcmpEcho.payloadLength(buf, 16, n)).isEqualTo(payload.length);
    int at = IcmpEcho.payloadOffset(buf, 16, n);
    assertThat(Arrays.copyOfRange(buf, at, at + payload.length)).isEqualTo(payload);
  }

  @Test
  void matchesKnownEncoding() {
    // Echo request 198.18.0.1 -> 198.19.0.2, id 1 seq 1, no payload, IP id 0, DF, TTL 64.
    // ICMP checksum by hand: ~(0x0800 + 0x0001 + 0x0001) = 0xf7fd.
    byte[] buf = new byte[28];
    int n = IcmpEcho.writeV4Request(buf, 0, SRC, DST, 1, 1, new byte[0]);
    assertThat(n).isEqualTo(28);
    assertThat(HexFormat.of().formatHex(buf)).isEqualTo(
        "4500001c000040004001" + hex16(expectedIpChecksum()) + "c6120001c6130002"
            + "0800f7fd00010001");
  }

  /** The IP checksum by the textbook method: sum of 16-bit words, fold, invert. */
  private static int expectedIpChecksum() {
    int[] words = {0x4500, 0x001c, 0x0000, 0x4000, 0x4001, 0x0000, 0xc612, 0x0001, 0xc613,
        0x0002};
    int sum = 0;
    for (int w : words) {
      sum += w;
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return ~sum & 0xFFFF;
  }

  private static String hex16(int v) {
    return String.format("%04x", v);
  }

  @Test
  void writesReplyAndOddPayload() {
    byte[] buf = new byte[64];
    int n = IcmpEcho.writeV4Reply(buf, 0, DST, SRC, 9, 65535, new byte[] {1, 2, 3});
    assertThat(IcmpEcho.parseV4(buf, 0, n)).isEqualTo(IcmpEcho.TYPE_ECHO_REPLY);
    assertThat(IcmpEcho.sequence(buf, 0, n)).isEqualTo(65535);
    assertThat(IcmpEcho.payloadLength(buf, 0, n)).isEqualTo(3);
  }

  @Test
  void refusesWhenBufferTooSmall() {
    assertThat(IcmpEcho.writeV4Request(new byte[30], 4, SRC, DST, 1, 1, new byte[0]))
        .isEqualTo(-1);
    assertThat(IcmpEcho.writeV4Request(new byte[30], -1, SRC, DST, 1, 1, new byte[0]))
        .isEqualTo(-1);
  }

  @Test
  void parseRejectsCorruptedChecksums() {
    byte[] buf = new byte[64];
    int n = IcmpEcho.writeV4Request(buf, 0, SRC, DST, 1, 1, new byte[] {42, 43});
    byte[] badIp = buf.clone();
    badIp[8] = 1; // TTL changed, checksum not updated
    assertThat(IcmpEcho.parseV4(badIp, 0, n)).isEqualTo(-1);
    byte[] badIcmp = buf.clone();
    badIcmp[29] ^= 1; // payload changed
    assertThat(IcmpEcho.parseV4(badIcmp, 0, n)).isEqualTo(-1);
    assertThat(IcmpEcho.id(badIcmp, 0, n)).isEqualTo(-1);
    assertThat(IcmpEcho.parseV4(buf, 0, 27)).isEqualTo(-1);
  }

  @Test
  void parseRejectsOtherIcmpTypes() {
    byte[] buf = new byte[64];
    int n = IcmpEcho.writeV4Request(buf, 0, SRC, DST, 1, 1, new byte[0]);
    buf[20] = 3; // destination unreachable
    buf[22] = 0;
    buf[23] = 0;
    int c = IpPacket.internetChecksum(buf, 20, 8);
    buf[22] = (byte) (c >>> 8);
    buf[23] = (byte) c;
    assertThat(IpPacket.icmpType(buf, 0, n)).isEqualTo(3);
    assertThat(IcmpEcho.parseV4(buf, 0, n)).isEqualTo(-1);
  }

  @Test
  void turnsRequestIntoReplyInPlace() {
    byte[] buf = new byte[64];
    int n = IcmpEcho.writeV4Request(buf, 8, SRC, DST, 77, 3, new byte[] {5, 6, 7, 8});
    assertThat(IcmpEcho.toReplyInPlace(buf, 8, n)).isEqualTo(n);
    assertThat(IcmpEcho.parseV4(buf, 8, n)).isEqualTo(IcmpEcho.TYPE_ECHO_REPLY);
    assertThat(IpPacket.sourceV4(buf, 8, n)).isEqualTo(DST);
    assertThat(IpPacket.destinationV4(buf, 8, n)).isEqualTo(SRC);
    assertThat(IcmpEcho.id(buf, 8, n)).isEqualTo(77);
    assertThat(IcmpEcho.sequence(buf, 8, n)).isEqualTo(3);
    byte[] before = buf.clone();
    assertThat(IcmpEcho.toReplyInPlace(buf, 8, n)).as("a reply is not a request").isEqualTo(-1);
    assertThat(buf).isEqualTo(before);
  }
}
