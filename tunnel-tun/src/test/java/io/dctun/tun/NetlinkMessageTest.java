package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.tun.internal.NetlinkMessage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class NetlinkMessageTest {

  @Test
  void buildsAlignedMessageWithLengthFilledIn() {
    byte[] m = new NetlinkMessage((short) 20, (short) 5, 9).u8(2).u8(24).u8(0).u8(0).u32(3)
        .attr(2, new byte[] {(byte) 198, 18, 77, 1}).attr(3, new byte[] {1}).finish();
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.nativeOrder());
    assertThat(m.length % 4).isZero();
    assertThat(b.getInt(0)).isEqualTo(m.length);
    assertThat(b.getShort(4)).isEqualTo((short) 20);
    assertThat(b.getInt(8)).isEqualTo(9);
    assertThat(b.getShort(24)).isEqualTo((short) 8); // rta_len of the address attribute
    assertThat(b.getShort(32)).isEqualTo((short) 5); // the 1-byte attribute, padded after
    assertThat(m.length).isEqualTo(40);
  }

  @Test
  void decodesErrorAndExtendedAckText() {
    byte[] text = "Invalid prefix\0".getBytes();
    int tlvLen = 4 + text.length;
    int len = 16 + 4 + 16 + ((tlvLen + 3) & ~3);
    ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
    b.putInt(len).putShort(NetlinkMessage.NLMSG_ERROR)
        .putShort((short) (NetlinkMessage.NLM_F_CAPPED | NetlinkMessage.NLM_F_ACK_TLVS))
        .putInt(42).putInt(0);
    b.putInt(-22);
    b.putInt(32).putShort((short) 20).putShort((short) 0).putInt(42).putInt(0);
    b.putShort((short) tlvLen).putShort((short) 1).put(text);
    Object[] ack = NetlinkMessage.findAck(b.array(), len, 42);
    assertThat(ack).containsExactly(22, "Invalid prefix");
    assertThat(NetlinkMessage.findAck(b.array(), len, 41)).isNull();
  }

  @Test
  void routeDestinationDropsHostBits() {
    assertThat(LinkConfig.network(new byte[] {(byte) 198, 18, 77, 5}, 20))
        .containsExactly((byte) 198, 18, 64, 0);
    assertThat(LinkConfig.network(new byte[] {1, 2, 3, 4}, 0)).containsExactly(0, 0, 0, 0);
    assertThat(LinkConfig.network(new byte[] {1, 2, 3, 4}, 32)).containsExactly(1, 2, 3, 4);
  }
}
