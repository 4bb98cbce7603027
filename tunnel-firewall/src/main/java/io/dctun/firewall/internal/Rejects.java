package io.dctun.firewall.internal;

import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.PacketFilter;

import static io.dctun.firewall.internal.Bytes.put16;
import static io.dctun.firewall.internal.Bytes.put32;
import static io.dctun.firewall.internal.Bytes.put64;
import static io.dctun.firewall.internal.Bytes.i32;
import static io.dctun.firewall.internal.Bytes.u8;

/**
 * Builds the answer to a rejected packet in place, over the packet itself: a TCP RST for TCP,
 * an ICMP destination unreachable "communication administratively prohibited" (type 3 code 13)
 * or ICMPv6 type 1 code 1 otherwise. The reply goes back to the sender, from the address the
 * packet was sent to.
 *
 * <pre>
 * TCP RST, IPv4 (40 bytes)          ICMP unreachable, IPv4 (28 + quote)
 * +----------------------+         +----------------------+
 * | IPv4 header, 20      |         | IPv4 header, 20      |  src/dst swapped, TTL 64, DF
 * +----------------------+         +----------------------+
 * | TCP header, 20       |         | type 3 code 13 csum  |  checksum over ICMP message
 * | ports swapped, RST   |         | unused (4 bytes)     |
 * +----------------------+         | quote: IP header +   |  up to 576 bytes in all (RFC 1812)
 *                                  | as much as fits      |
 *                                  +----------------------+
 * IPv6: 40-byte header instead; ICMPv6 quotes up to 1280 bytes in all (RFC 4443); the TCP and
 * ICMPv6 checksums include the pseudo-header.
 * </pre>
 *
 * RST numbering follows RFC 9293 3.10.7.1: if the segment had ACK, seq = its ack and only RST;
 * otherwise seq 0, RST+ACK, ack = its seq + data length (+1 for SYN, +1 for FIN). No reply is
 * made to a RST, an ICMP error, a non-first fragment, a multicast or broadcast destination, or
 * an unspecified source; nor when the reply does not fit the buffer with
 * {@link PacketFilter#REPLY_TAILROOM} after it.
 *
 * <p>Thread-safety: stateless.
 */
public final class Rejects {
  static final int TTL = 64;
  static final int V4_QUOTE_TOTAL = 576;
  static final int V6_QUOTE_TOTAL = 1280;

  private Rejects() {}

  /** Writes the reply for the parsed packet {@code p} (over {@code p.buf}); its length or 0. */
  public static int write(Pkt p) {
    if (!mayAnswer(p)) {
      return 0;
    }
    if (p.proto == IpPacket.PROTO_TCP && p.tcpFlags >= 0) {
      return tcpReset(p);
    }
    return unreachable(p);
  }

  static boolean mayAnswer(Pkt p) {
    if (p.nonFirstFragment || p.isIcmpError()) {
      return false;
    }
    if (p.proto == IpPacket.PROTO_TCP && (p.tcpFlags < 0 || (p.tcpFlags & IpPacket.TCP_RST) != 0)) {
      return false;
    }
    if (p.version == 4) {
      int d = (int) (p.dstHi >>> 32);
      int s = (int) (p.srcHi >>> 32);
      return (d >>> 28) != 0xE && d != -1 && s != 0 && (s >>> 28) != 0xE;
    }
    return (p.dstHi >>> 56) != 0xFF && (p.srcHi >>> 56) != 0xFF && (p.srcHi | p.srcLo) != 0;
  }

  private static boolean fits(Pkt p, int n) {
    return p.off + n + PacketFilter.REPLY_TAILROOM <= p.buf.length;
  }

  static int tcpReset(Pkt p) {
    byte[] b = p.buf;
    int off = p.off;
    int t = off + p.l4;
    int seq = i32(b, t + 4);
    int ack = i32(b, t + 8);
    int dataOffset = (u8(b, t + 12) >>> 4) << 2;
    int data = Math.max(0, p.total - p.l4 - dataOffset);
    int f = p.tcpFlags;
    int rSeq;
    int rAck;
    int rFlags;
    if ((f & IpPacket.TCP_ACK) != 0) {
      rSeq = ack;
      rAck = 0;
      rFlags = IpPacket.TCP_RST;
    } else {
      rSeq = 0;
      rAck = seq + data + ((f & IpPacket.TCP_SYN) != 0 ? 1 : 0) + ((f & IpPacket.TCP_FIN) != 0 ? 1 : 0);
      rFlags = IpPacket.TCP_RST | IpPacket.TCP_ACK;
    }
    int ipLen = writeIpHeader(p, IpPacket.PROTO_TCP, 20);
    if (ipLen < 0) {
      return 0;
    }
    int th = off + ipLen;
    put16(b, th, p.dport);
    put16(b, th + 2, p.sport);
    put32(b, th + 4, rSeq);
    put32(b, th + 8, rAck);
    b[th + 12] = 0x50;
    b[th + 13] = (byte) rFlags;
    put16(b, th + 14, 0); // window
    put16(b, th + 16, 0); // checksum
    put16(b, th + 18, 0); // urgent
    put16(b, th + 16, IpPacket.pseudoHeaderChecksum(b, off, p.version, IpPacket.PROTO_TCP, th, 20));
    return ipLen + 20;
  }

  static int unreachable(Pkt p) {
    byte[] b = p.buf;
    int off = p.off;
    int hdr = p.version == 4 ? 20 : IpPacket.V6_HEADER;
    int total = p.total;
    int quote = Math.min(total, (p.version == 4 ? V4_QUOTE_TOTAL : V6_QUOTE_TOTAL) - hdr - 8);
    if (!fits(p, hdr + 8 + quote)) {
      quote = Math.min(total, p.l4 + 8); // the minimum that lets the sender match its socket
      if (!fits(p, hdr + 8 + quote)) {
        return 0;
      }
    }
    // The quote first (memmove semantics), then the headers over the old header's bytes.
    System.arraycopy(b, off, b, off + hdr + 8, quote);
    int proto = p.version == 4 ? IpPacket.PROTO_ICMP : IpPacket.PROTO_ICMPV6;
    writeIpHeader(p, proto, 8 + quote);
    int ic = off + hdr;
    b[ic] = (byte) (p.version == 4 ? 3 : 1);
    b[ic + 1] = (byte) (p.version == 4 ? 13 : 1);
    put16(b, ic + 2, 0);
    put32(b, ic + 4, 0);
    int c = p.version == 4 ? IpPacket.internetChecksum(b, ic, 8 + quote)
        : IpPacket.pseudoHeaderChecksum(b, off, 6, proto, ic, 8 + quote);
    put16(b, ic + 2, c);
    return hdr + 8 + quote;
  }

  /** Writes the reply's IP header at p.off (addresses swapped); returns its length or -1. */
  private static int writeIpHeader(Pkt p, int proto, int payload) {
    byte[] b = p.buf;
    int off = p.off;
    if (p.version == 4) {
      if (!fits(p, 20 + payload)) {
        return -1;
      }
      b[off] = 0x45;
      b[off + 1] = 0;
      put16(b, off + 2, 20 + payload);
      put16(b, off + 4, 0);
      put16(b, off + 6, IpPacket.V4_FLAG_DF);
      b[off + 8] = (byte) TTL;
      b[off + 9] = (byte) proto;
      put16(b, off + 10, 0);
      put32(b, off + 12, (int) (p.dstHi >>> 32));
      put32(b, off + 16, (int) (p.srcHi >>> 32));
      put16(b, off + 10, IpPacket.ipv4Checksum(b, off, 20));
      return 20;
    }
    if (!fits(p, 40 + payload)) {
      return -1;
    }
    put32(b, off, 0x60000000);
    put16(b, off + 4, payload);
    b[off + 6] = (byte) proto;
    b[off + 7] = (byte) TTL;
    put64(b, off + 8, p.dstHi);
    put64(b, off + 16, p.dstLo);
    put64(b, off + 24, p.srcHi);
    put64(b, off + 32, p.srcLo);
    return 40;
  }

}
