package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.core.packet.IpPacket;
import java.util.Arrays;

/**
 * Fuzz target for the VRRP decoder, which reads whatever anyone on the segment sends: it never
 * throws, never reads outside its slice, and an advert it accepts has fields in range and encodes
 * back to an advert that decodes to the same fields. The input may ask for its checksum to be
 * fixed first, so that the fuzzer also reaches what lies behind the checksum.
 */
class VrrpCodecFuzzTest {

  @FuzzTest(maxDuration = "5s")
  void decodeNeverThrowsAndRoundTrips(FuzzedDataProvider in) {
    boolean fixChecksum = in.consumeBoolean();
    boolean checkTtl = in.consumeBoolean();
    byte[] packet = in.consumeRemainingAsBytes();
    if (fixChecksum) {
      fixChecksum(packet);
    }
    int pad = packet.length % 5;
    byte[] buf = new byte[pad + packet.length];
    System.arraycopy(packet, 0, buf, pad, packet.length);

    VrrpAdvert a = new VrrpAdvert();
    DropReason r = VrrpCodec.decode(buf, pad, packet.length, a, checkTtl);
    assertThat(r).isNotNull();
    if (r != DropReason.NONE) {
      return;
    }
    assertThat(a.version()).isEqualTo(3);
    assertThat(a.type()).isEqualTo(1);
    assertThat(a.addressCount()).isBetween(1, VrrpAdvert.MAX_ADDRESSES);
    assertThat(a.intervalCentis()).isBetween(1, 0xFFF);
    assertThat(a.family()).isIn(4, 6);
    if (checkTtl) {
      assertThat(a.ttl()).isEqualTo(255);
    }
    for (int i = 0; i < a.addressCount(); i++) {
      assertThat(a.addressAt(i)).isNotNull();
    }
    if (a.vrid() == 0) {
      return; // decodes (the router refuses it: VRIDs are 1..255), but cannot be encoded
    }
    byte[] again = new byte[2048];
    int n;
    if (a.family() == 4) {
      int[] vips = new int[a.addressCount()];
      for (int i = 0; i < vips.length; i++) {
        vips[i] = a.address(i);
      }
      n = VrrpCodec.encodeIpv4(again, 0, 1, a.source(), a.destination(), a.vrid(), a.priority(),
          a.intervalCentis(), vips, vips.length);
    } else {
      // The wire bytes, not InetAddress: Java turns ::ffff:a.b.c.d into an IPv4 address.
      byte[] vips = Arrays.copyOfRange(buf, pad + 48, pad + 48 + 16 * a.addressCount());
      n = VrrpCodec.encodeIpv6(again, 0, Arrays.copyOfRange(buf, pad + 8, pad + 24), destination6(buf, pad),
          a.vrid(), a.priority(), a.intervalCentis(), vips, a.addressCount());
    }
    VrrpAdvert b = new VrrpAdvert();
    assertThat(VrrpCodec.decode(again, 0, n, b)).isEqualTo(DropReason.NONE);
    assertThat(b.vrid()).isEqualTo(a.vrid());
    assertThat(b.priority()).isEqualTo(a.priority());
    assertThat(b.intervalCentis()).isEqualTo(a.intervalCentis());
    assertThat(b.addressCount()).isEqualTo(a.addressCount());
    for (int i = 0; i < a.addressCount(); i++) {
      assertThat(b.addressAt(i)).isEqualTo(a.addressAt(i));
    }
  }

  private static byte[] destination6(byte[] b, int off) {
    return Arrays.copyOfRange(b, off + 24, off + 40);
  }

  /** Writes the VRRP checksum an honest sender would, where the headers leave room for one. */
  private static void fixChecksum(byte[] p) {
    if (p.length >= 20 + 8 && (p[0] & 0xF0) == 0x40) {
      int ihl = (p[0] & 0x0F) * 4;
      int total = Math.min(((p[2] & 0xFF) << 8) | (p[3] & 0xFF), p.length);
      if (ihl >= 20 && total >= ihl + 8) {
        p[ihl + 6] = 0;
        p[ihl + 7] = 0;
        int c = IpPacket.pseudoHeaderChecksum(p, 0, 4, 112, ihl, total - ihl);
        p[ihl + 6] = (byte) (c >>> 8);
        p[ihl + 7] = (byte) c;
      }
    } else if (p.length >= 40 + 8 && (p[0] & 0xF0) == 0x60) {
      int payload = Math.min(((p[4] & 0xFF) << 8) | (p[5] & 0xFF), p.length - 40);
      if (payload >= 8) {
        p[46] = 0;
        p[47] = 0;
        int c = IpPacket.pseudoHeaderChecksum(p, 0, 6, 112, 40, payload);
        p[46] = (byte) (c >>> 8);
        p[47] = (byte) c;
      }
    }
  }
}
