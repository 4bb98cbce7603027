package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.TestData;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VrrpCodecTest {
  private static final int R1 = VrrpAdvert.ipv4("198.18.1.1");
  private static final int R2 = VrrpAdvert.ipv4("198.18.1.2");
  private static final int VIP = VrrpAdvert.ipv4("198.18.1.100");

  private static byte[] oneAdvert() throws Exception {
    return Pcap.hexDump(Files.readString(TestData.path("vrrp/one-v3-advert.hex.txt")));
  }

  private static byte[] ipOf(Pcap.Frame f) {
    return Arrays.copyOfRange(f.data(), 14, f.data().length);
  }

  @Test
  void decodesKeepalivedAdvertAndVerifiesItsChecksum() throws Exception {
    byte[] p = oneAdvert();
    assertThat(p).hasSize(32);
    VrrpAdvert a = new VrrpAdvert();
    assertThat(VrrpCodec.decodeIpv4(p, 0, p.length, a)).isEqualTo(DropReason.NONE);
    assertThat(a.vrid()).isEqualTo(51);
    assertThat(a.priority()).isEqualTo(150);
    assertThat(a.intervalCentis()).isEqualTo(100);
    assertThat(a.addressCount()).isEqualTo(1);
    assertThat(a.address(0)).isEqualTo(VIP);
    assertThat(a.source()).isEqualTo(R1);
    assertThat(a.destination()).isEqualTo(VrrpCodec.VRRP_MULTICAST);
    assertThat(a.checksum()).isEqualTo(0xc94d);
  }

  @Test
  void encodesByteForByteWhatKeepalivedSent() throws Exception {
    byte[] expected = oneAdvert();
    byte[] b = new byte[64];
    int n = VrrpCodec.encodeIpv4(b, 3, 1, R1, VrrpCodec.VRRP_MULTICAST, 51, 150, 100,
        new int[] {VIP}, 1);
    assertThat(Arrays.copyOfRange(b, 3, 3 + n)).isEqualTo(expected);
  }

  @Test
  void everyAdvertInTheV3CaptureDecodes() throws Exception {
    List<Pcap.Frame> frames = Pcap.read(TestData.path("vrrp/vrrp-v3.pcap"));
    VrrpAdvert a = new VrrpAdvert();
    List<String> seen = new ArrayList<>();
    int adverts = 0;
    for (Pcap.Frame f : frames) {
      if (f.etherType() != 0x0800) {
        continue;
      }
      byte[] ip = ipOf(f);
      assertThat(VrrpCodec.decodeIpv4(ip, 0, ip.length, a)).as("frame %s", seen.size())
          .isEqualTo(DropReason.NONE);
      adverts++;
      assertThat(a.vrid()).isEqualTo(51);
      assertThat(a.intervalCentis()).isEqualTo(100);
      assertThat(a.ttl()).isEqualTo(255);
      assertThat(a.addressCount()).isEqualTo(1);
      assertThat(a.address(0)).isEqualTo(VIP);
      if (a.source() == R1) {
        assertThat(a.priority()).isIn(150, 0);
      } else {
        assertThat(a.source()).isEqualTo(R2);
        assertThat(a.priority()).isIn(100, 0);
      }
      // re-encoding the decoded fields gives the same bytes (checksum included)
      byte[] again = new byte[ip.length];
      VrrpCodec.encodeIpv4(again, 0, (ip[4] & 0xff) << 8 | (ip[5] & 0xff), a.source(),
          a.destination(), a.vrid(), a.priority(), a.intervalCentis(), new int[] {VIP}, 1);
      assertThat(again).isEqualTo(ip);
      seen.add(VrrpAdvert.toString(a.source()) + "/" + a.priority());
    }
    assertThat(adverts).isGreaterThanOrEqualTo(5);
    assertThat(seen).contains("198.18.1.1/150", "198.18.1.2/100");
    // the capture ends with the shutdown advert: priority 0
    assertThat(seen.get(seen.size() - 1)).endsWith("/0");
  }

  @Test
  void everyAdvertInTheV2CaptureIsWrongVersion() throws Exception {
    List<Pcap.Frame> frames = Pcap.read(TestData.path("vrrp/vrrp-v2.pcap"));
    VrrpAdvert a = new VrrpAdvert();
    int n = 0;
    for (Pcap.Frame f : frames) {
      if (f.etherType() == 0x0800) {
        byte[] ip = ipOf(f);
        assertThat(VrrpCodec.decodeIpv4(ip, 0, ip.length, a)).isEqualTo(DropReason.WRONG_VERSION);
        n++;
      }
    }
    assertThat(n).isGreaterThanOrEqualTo(3);
  }

  @Test
  void namesTheReasonForEachKindOfBadPacket() throws Exception {
    VrrpAdvert a = new VrrpAdvert();
    byte[] good = oneAdvert();
    assertThat(decode(mutate(good, 8, 64), a)).isEqualTo(DropReason.TTL_NOT_255);
    assertThat(decode(mutate(good, 9, 17), a)).isEqualTo(DropReason.NOT_VRRP);
    assertThat(decode(mutate(good, 20, 0x21), a)).isEqualTo(DropReason.WRONG_VERSION);
    assertThat(decode(mutate(good, 20, 0x32), a)).isEqualTo(DropReason.WRONG_TYPE);
    assertThat(decode(mutate(good, 23, 2), a)).isEqualTo(DropReason.BAD_LENGTH);
    assertThat(decode(mutate(good, 23, 0), a)).isEqualTo(DropReason.BAD_ADDRESS_COUNT);
    assertThat(decode(mutate(good, 27, 0x4e), a)).isEqualTo(DropReason.BAD_CHECKSUM);
    assertThat(decode(mutate(good, 31, 0x65), a)).isEqualTo(DropReason.BAD_CHECKSUM);
    assertThat(decode(mutate(good, 12, 0xc7), a)).as("pseudo-header source")
        .isEqualTo(DropReason.BAD_CHECKSUM);
    assertThat(decode(mutate(good, 0, 0x65), a)).isEqualTo(DropReason.BAD_IP_HEADER);
    assertThat(decode(mutate(good, 0, 0x44), a)).isEqualTo(DropReason.BAD_IP_HEADER);
    assertThat(decode(mutate(good, 3, 0x40), a)).as("total length past the buffer")
        .isEqualTo(DropReason.BAD_IP_HEADER);
    byte[] zero = new byte[32];
    VrrpCodec.encodeIpv4(zero, 0, 1, R1, VrrpCodec.VRRP_MULTICAST, 51, 150, 1, new int[] {VIP}, 1);
    zero[25] = 0; // interval 1 -> 0; fix the checksum so only the interval is wrong
    zero[26] = 0;
    zero[27] = 0;
    int c = io.dctun.core.packet.IpPacket.pseudoHeaderChecksum(zero, 0, 4, VrrpCodec.IP_PROTO_VRRP, 20, 12);
    zero[26] = (byte) (c >>> 8);
    zero[27] = (byte) c;
    assertThat(decode(zero, a)).isEqualTo(DropReason.BAD_INTERVAL);
  }

  @Test
  void truncatedAndRandomInputNeverThrows() throws Exception {
    VrrpAdvert a = new VrrpAdvert();
    byte[] good = oneAdvert();
    for (int len = 0; len < good.length; len++) {
      assertThat(VrrpCodec.decodeIpv4(good, 0, len, a)).isNotEqualTo(DropReason.NONE);
    }
    Random rnd = new Random(42);
    byte[] buf = new byte[80];
    for (int i = 0; i < 100_000; i++) {
      rnd.nextBytes(buf);
      if (rnd.nextBoolean()) {
        System.arraycopy(good, 0, buf, 0, 20); // a plausible header, random payload
      }
      VrrpCodec.decodeIpv4(buf, 0, rnd.nextInt(buf.length + 1), a);
    }
  }

  @Test
  void encoderRejectsOutOfRangeFields() {
    byte[] b = new byte[64];
    int[] v = {VIP};
    assertThatThrownBy(() -> VrrpCodec.encodeIpv4(b, 0, 0, R1, R2, 0, 100, 100, v, 1))
        .hasMessageContaining("VRID").hasMessageContaining("0");
    assertThatThrownBy(() -> VrrpCodec.encodeIpv4(b, 0, 0, R1, R2, 1, 256, 100, v, 1))
        .hasMessageContaining("priority");
    assertThatThrownBy(() -> VrrpCodec.encodeIpv4(b, 0, 0, R1, R2, 1, 100, 4096, v, 1))
        .hasMessageContaining("4096");
    assertThatThrownBy(() -> VrrpCodec.encodeIpv4(new byte[20], 0, 0, R1, R2, 1, 100, 1, v, 1))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  private static DropReason decode(byte[] p, VrrpAdvert a) {
    return VrrpCodec.decodeIpv4(p, 0, p.length, a);
  }

  private static byte[] mutate(byte[] p, int at, int value) {
    byte[] c = p.clone();
    c[at] = (byte) value;
    return c;
  }
}
