package io.dctun.tun.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds one rtnetlink request and reads the kernel's acknowledgement. Host byte order
 * throughout, every part aligned to 4 bytes.
 *
 * <pre>
 *   struct nlmsghdr (16):  u32 len | u16 type | u16 flags | u32 seq | u32 pid
 *   family header:         ifinfomsg (16) / ifaddrmsg (8) / rtmsg (12)
 *   struct rtattr (4+n):   u16 len | u16 type | payload, padded to 4
 *
 *   NLMSG_ERROR reply:     nlmsghdr | s32 -errno (0 = ACK) | nlmsghdr of the request
 *                          [ | TLVs (NLMSGERR_ATTR_MSG = 1: text) when flags has ACK_TLVS ]
 * </pre>
 */
public final class NetlinkMessage {

  public static final int HDR_LEN = 16;

  public static final short NLMSG_ERROR = 2;
  public static final short NLMSG_DONE = 3;

  public static final short NLM_F_REQUEST = 0x1;
  public static final short NLM_F_ACK = 0x4;
  public static final short NLM_F_EXCL = 0x200;
  public static final short NLM_F_CREATE = 0x400;
  /** In an NLMSG_ERROR reply: the request payload was not echoed. */
  public static final short NLM_F_CAPPED = 0x100;
  /** In an NLMSG_ERROR reply: extended-ack TLVs follow. */
  public static final short NLM_F_ACK_TLVS = 0x200;

  private static final int NLMSGERR_ATTR_MSG = 1;

  private final ByteBuffer buf = ByteBuffer.allocate(1024).order(ByteOrder.nativeOrder());

  /** Starts a message; the length is filled in by {@link #finish}. */
  public NetlinkMessage(short type, short flags, int seq) {
    buf.putInt(0).putShort(type).putShort(flags).putInt(seq).putInt(0);
  }

  public NetlinkMessage u8(int v) {
    buf.put((byte) v);
    return this;
  }

  public NetlinkMessage u16(int v) {
    buf.putShort((short) v);
    return this;
  }

  public NetlinkMessage u32(int v) {
    buf.putInt(v);
    return this;
  }

  /** Appends an attribute with a raw payload. */
  public NetlinkMessage attr(int type, byte[] payload) {
    align();
    buf.putShort((short) (4 + payload.length)).putShort((short) type).put(payload);
    align();
    return this;
  }

  /** Appends an attribute holding a u32 in host order. */
  public NetlinkMessage attrU32(int type, int value) {
    align();
    buf.putShort((short) 8).putShort((short) type).putInt(value);
    return this;
  }

  private void align() {
    while ((buf.position() & 3) != 0) {
      buf.put((byte) 0);
    }
  }

  /** The finished message bytes. */
  public byte[] finish() {
    align();
    int len = buf.position();
    buf.putInt(0, len);
    byte[] out = new byte[len];
    buf.get(0, out, 0, len);
    return out;
  }

  /**
   * Looks in a datagram of replies for the NLMSG_ERROR answering {@code seq}.
   *
   * @return null if it is not in this datagram; otherwise {errno (0 = ACK), extack text or ""}
   */
  public static Object[] findAck(byte[] data, int length, int seq) {
    ByteBuffer b = ByteBuffer.wrap(data, 0, length).order(ByteOrder.nativeOrder());
    int pos = 0;
    while (pos + HDR_LEN <= length) {
      int len = b.getInt(pos);
      short type = b.getShort(pos + 4);
      short flags = b.getShort(pos + 6);
      int s = b.getInt(pos + 8);
      if (len < HDR_LEN || pos + len > length) {
        break;
      }
      if (s == seq && type == NLMSG_ERROR && len >= HDR_LEN + 4) {
        int err = -b.getInt(pos + HDR_LEN);
        String text = "";
        if ((flags & NLM_F_ACK_TLVS) != 0) {
          int inner = pos + HDR_LEN + 4;
          int tlv = inner + HDR_LEN;
          if ((flags & NLM_F_CAPPED) == 0) {
            tlv = inner + ((b.getInt(inner) + 3) & ~3);
          }
          text = extackMessage(b, tlv, pos + len);
        }
        return new Object[] {err, text};
      }
      pos += (len + 3) & ~3;
    }
    return null;
  }

  private static String extackMessage(ByteBuffer b, int pos, int end) {
    while (pos + 4 <= end) {
      int alen = b.getShort(pos) & 0xffff;
      int atype = b.getShort(pos + 2) & 0x3fff;
      if (alen < 4 || pos + alen > end) {
        break;
      }
      if (atype == NLMSGERR_ATTR_MSG) {
        int n = alen - 4;
        while (n > 0 && b.get(pos + 4 + n - 1) == 0) {
          n--;
        }
        byte[] s = new byte[n];
        b.get(pos + 4, s, 0, n);
        return new String(s, StandardCharsets.UTF_8);
      }
      pos += (alen + 3) & ~3;
    }
    return "";
  }
}
