package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.control.ControlFrame;
import io.dctun.core.mesh.MeshMessage.Announce;
import io.dctun.core.mesh.MeshMessage.Entry;
import io.dctun.core.mesh.MeshMessage.Hello;
import io.dctun.core.mesh.MeshMessage.Withdraw;
import io.dctun.core.route.Prefix;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MeshCodecTest {

  static MeshMessage roundTrip(MeshMessage m) throws Exception {
    byte[] b = MeshCodec.encode(m);
    return MeshCodec.decode(b, 0, b.length);
  }

  @Test
  void everyKindSurvivesTheWire() throws Exception {
    Entry v4 = new Entry(Prefix.parse("198.18.60.1/32"), Long.MAX_VALUE, 15_000);
    Entry v6 = new Entry(Prefix.parse("2001:db8::7/128"), -5, 0);
    assertThat(roundTrip(new Hello(7, 0))).isEqualTo(new Hello(7, 0));
    assertThat(roundTrip(new Announce(9, List.of(v4, v6)))).isEqualTo(new Announce(9, List.of(v4, v6)));
    assertThat(roundTrip(new Withdraw(9, List.of(v6)))).isEqualTo(new Withdraw(9, List.of(v6)));
    assertThat(roundTrip(new Announce(9, List.of()))).isEqualTo(new Announce(9, List.of()));
  }

  @Test
  void aFullMessageOfIpv6EntriesFitsAControlFrameAtTheSmallestIpv6Mtu() {
    List<Entry> e = new ArrayList<>();
    for (int i = 0; i < HostDirectory.MAX_ENTRIES_PER_MESSAGE; i++) {
      e.add(new Entry(Prefix.parse("2001:db8::" + Integer.toHexString(i + 1) + "/128"), i, 1000));
    }
    assertThat(MeshCodec.encode(new Announce(1, e)).length + ControlFrame.HEADER_LENGTH).isLessThanOrEqualTo(1280);
  }

  @Test
  void malformedPayloadsAreRefusedWithAReason() {
    byte[] good = MeshCodec.encode(new Announce(3, List.of(new Entry(Prefix.parse("198.18.60.0/24"), 1, 1))));
    for (int cut = 0; cut < good.length; cut++) {
      int c = cut;
      assertThatThrownBy(() -> MeshCodec.decode(good, 0, c)).as("cut at %d", c).isInstanceOf(MeshCodec.MalformedMessageException.class);
    }
    byte[] kind = good.clone();
    kind[0] = 9;
    assertThatThrownBy(() -> MeshCodec.decode(kind, 0, kind.length)).hasMessageContaining("unknown kind 9");
    byte[] alen = good.clone();
    alen[11] = 5;
    assertThatThrownBy(() -> MeshCodec.decode(alen, 0, alen.length)).hasMessageContaining("address length 5");
    byte[] plen = good.clone();
    plen[12] = 33;
    assertThatThrownBy(() -> MeshCodec.decode(plen, 0, plen.length)).hasMessageContaining("prefix length 33");
    byte[] hostBits = good.clone();
    hostBits[16] = 1; // 198.18.60.1/24
    assertThatThrownBy(() -> MeshCodec.decode(hostBits, 0, hostBits.length)).hasMessageContaining("host bits");
    byte[] zeroInc = MeshCodec.encode(new Hello(1, 0));
    zeroInc[8] = 0;
    assertThatThrownBy(() -> MeshCodec.decode(zeroInc, 0, zeroInc.length)).hasMessageContaining("incarnation 0");
    byte[] trailing = java.util.Arrays.copyOf(good, good.length + 1);
    assertThatThrownBy(() -> MeshCodec.decode(trailing, 0, trailing.length)).hasMessageContaining("after the message");
  }

  @Test
  void randomBytesNeverThrowAnythingElse() {
    Random r = new Random(1);
    for (int i = 0; i < 20_000; i++) {
      byte[] b = new byte[r.nextInt(80)];
      r.nextBytes(b);
      try {
        MeshCodec.decode(b, 0, b.length);
      } catch (MeshCodec.MalformedMessageException expected) {
        // refused with a reason: fine
      }
    }
  }
}
