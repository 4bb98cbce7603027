package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.TestData;
import io.dctun.ha.internal.GratuitousArp;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class GratuitousArpFrameTest {
  @Test
  void frameIsByteForByteWhatKeepalivedSends() throws Exception {
    List<Pcap.Frame> frames = Pcap.read(TestData.path("vrrp/vrrp-v3.pcap"));
    List<Pcap.Frame> arps = frames.stream().filter(f -> f.etherType() == 0x0806).toList();
    assertThat(arps).hasSizeGreaterThanOrEqualTo(5);
    for (Pcap.Frame f : arps) {
      byte[] mac = Arrays.copyOfRange(f.data(), 6, 12);
      int vip = VrrpAdvert.ipv4("198.18.1.100");
      byte[] mine = new byte[GratuitousArp.FRAME_LENGTH + 4];
      int n = GratuitousArp.frame(mine, 2, mac, vip);
      assertThat(n).isEqualTo(42);
      assertThat(Arrays.copyOfRange(mine, 2, 2 + n)).isEqualTo(f.data());
    }
  }
}
