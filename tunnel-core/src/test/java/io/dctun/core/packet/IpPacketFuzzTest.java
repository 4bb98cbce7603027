package io.dctun.core.packet;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzz target for the inner-packet views: whatever bytes arrive from a TUN device or out of a
 * decrypted data message, no accessor throws, reads outside its slice, or reports fields that
 * contradict each other. The slice is copied to the very end of a fresh array, so a read past
 * {@code off + len} is an {@link ArrayIndexOutOfBoundsException} the fuzzer reports.
 *
 * <p>Runs the corpus in {@code IpPacketFuzzTestInputs/} in every build; {@code scripts/fuzz}
 * fuzzes it (JAZZER_FUZZ=1).
 */
class IpPacketFuzzTest {

  @FuzzTest(maxDuration = "5s")
  void viewsNeverThrowOrDisagree(byte[] data) {
    int pad = data.length % 8; // the slice does not always start at 0
    byte[] buf = new byte[pad + data.length];
    System.arraycopy(data, 0, buf, pad, data.length);
    int len = data.length;

    int version = IpPacket.version(buf, pad, len);
    assertThat(version).isIn(-1, 4, 6);
    int total = IpPacket.totalLength(buf, pad, len);
    boolean valid = IpPacket.isValid(buf, pad, len);
    int header = IpPacket.headerLength(buf, pad, len);
    int l4 = IpPacket.l4Offset(buf, pad, len);
    int proto = IpPacket.protocol(buf, pad, len);
    if (total >= 0) {
      assertThat(version).isNotEqualTo(-1);
      assertThat(total).isBetween(header, len);
    }
    if (valid) {
      assertThat(total).isGreaterThanOrEqualTo(0);
      assertThat(l4).isBetween(header, total);
      assertThat(proto).isBetween(0, 255);
      assertThat(IpPacket.addressLength(buf, pad, len)).isEqualTo(version == 4 ? 4 : 16);
    } else {
      assertThat(l4).isEqualTo(-1);
      assertThat(proto).isEqualTo(-1);
    }
    int sport = IpPacket.sourcePort(buf, pad, len);
    int dport = IpPacket.destinationPort(buf, pad, len);
    assertThat(sport).isBetween(-1, 65535);
    assertThat(dport).isBetween(-1, 65535);
    if (sport >= 0) {
      assertThat(proto).isIn(IpPacket.PROTO_TCP, IpPacket.PROTO_UDP);
      assertThat(IpPacket.isNonFirstFragment(buf, pad, len)).isFalse();
    }
    int flags = IpPacket.tcpFlags(buf, pad, len);
    if (flags >= 0) {
      assertThat(proto).isEqualTo(IpPacket.PROTO_TCP);
    }
    int type = IpPacket.icmpType(buf, pad, len);
    int code = IpPacket.icmpCode(buf, pad, len);
    if (type >= 0) {
      assertThat(proto).isIn(IpPacket.PROTO_ICMP, IpPacket.PROTO_ICMPV6);
      assertThat(code).as("-1 when only the type byte is there").isBetween(-1, 255);
    }
    IpPacket.isV4Fragment(buf, pad, len);
    IpPacket.ipv4ChecksumValid(buf, pad, len);

    byte[] address = new byte[16];
    int copied = IpPacket.copySource(buf, pad, len, address, 0);
    assertThat(copied).isIn(-1, 4, 16);
    assertThat(IpPacket.copyDestination(buf, pad, len, address, 0)).isEqualTo(copied);
    assertThat(IpPacket.copySource(buf, pad, len, address, 14)).isEqualTo(-1);
    if (version == 4) {
      IpPacket.sourceV4(buf, pad, len);
      IpPacket.destinationV4(buf, pad, len);
    }

    // The writers: only ever on well-formed packets, and what they write verifies.
    if (version == 4 && IpPacket.writeIpv4Checksum(buf, pad, len)) {
      assertThat(IpPacket.ipv4ChecksumValid(buf, pad, len)).isTrue();
      if (IpPacket.decrementTtl(buf, pad)) {
        assertThat(IpPacket.ipv4ChecksumValid(buf, pad, len)).as("RFC 1624 incremental update").isTrue();
      }
    }

    // ICMP echo views over the same bytes.
    int echo = IcmpEcho.parseV4(buf, pad, len);
    if (echo >= 0) {
      assertThat(IcmpEcho.payloadOffset(buf, pad, len)).isBetween(pad, pad + len);
      assertThat(IcmpEcho.payloadLength(buf, pad, len)).isBetween(0, len);
      if (echo == IcmpEcho.TYPE_ECHO_REQUEST) {
        assertThat(IcmpEcho.toReplyInPlace(buf, pad, len)).isEqualTo(IpPacket.totalLength(buf, pad, len));
        assertThat(IcmpEcho.parseV4(buf, pad, len)).isEqualTo(IcmpEcho.TYPE_ECHO_REPLY);
      }
    }
  }
}
