package io.dctun.tun;

import java.nio.ByteBuffer;

/** Hand-built IPv4 ICMP echo packets, checksums included, for driving the kernel in tests. */
final class Icmp {
  static final int IPV4_HEADER = 20;
  static final int ICMP_HEADER = 8;

  static byte[] echoRequest(byte[] src, byte[] dst, int id, int seq, byte[] payload) {
    int total = IPV4_HEADER + ICMP_HEADER + payload.length;
    ByteBuffer b = ByteBuffer.allocate(total);
    b.put((byte) 0x45).put((byte) 0).putShort((short) total)
        .putShort((short) 0x1234).putShort((short) 0x4000) // DF
        .put((byte) 64).put((byte) 1).putShort((short) 0)
        .put(src).put(dst);
    b.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) seq)
        .put(payload);
    byte[] p = b.array();
    putShort(p, 10, checksum(p, 0, IPV4_HEADER));
    putShort(p, IPV4_HEADER + 2, checksum(p, IPV4_HEADER, total - IPV4_HEADER));
    return p;
  }

  /** True if {@code p} is an ICMP echo reply from {@code src} to {@code dst} with this id/seq. */
  static boolean isEchoReply(byte[] p, int len, byte[] src, byte[] dst, int id, int seq) {
    if (len < IPV4_HEADER + ICMP_HEADER || (p[0] & 0xf0) != 0x40 || p[9] != 1) {
      return false;
    }
    int ihl = (p[0] & 0x0f) * 4;
    for (int i = 0; i < 4; i++) {
      if (p[12 + i] != src[i] || p[16 + i] != dst[i]) {
        return false;
      }
    }
    return p[ihl] == 0 && p[ihl + 1] == 0
        && getShort(p, ihl + 4) == id && getShort(p, ihl + 6) == seq
        && checksum(p, 0, ihl) == 0 && checksum(p, ihl, len - ihl) == 0;
  }

  /** The Internet checksum (RFC 1071); 0 over a region whose checksum field is correct. */
  static int checksum(byte[] p, int off, int len) {
    long sum = 0;
    for (int i = 0; i + 1 < len; i += 2) {
      sum += ((p[off + i] & 0xff) << 8) | (p[off + i + 1] & 0xff);
    }
    if ((len & 1) != 0) {
      sum += (p[off + len - 1] & 0xff) << 8;
    }
    while ((sum >> 16) != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return (int) (~sum & 0xffff);
  }

  private static void putShort(byte[] p, int at, int v) {
    p[at] = (byte) (v >> 8);
    p[at + 1] = (byte) v;
  }

  private static int getShort(byte[] p, int at) {
    return ((p[at] & 0xff) << 8) | (p[at + 1] & 0xff);
  }

  private Icmp() {}
}
