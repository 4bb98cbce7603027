package io.dctun.firewall;

import io.dctun.core.packet.IpPacket;
import io.dctun.core.route.Prefix;
import java.util.Locale;

import static io.dctun.firewall.internal.Bytes.put16;
import static io.dctun.firewall.internal.Bytes.put32;

/**
 * Builds well-formed IPv4/IPv6 packets (checksums included) from a few fields, for
 * {@link Firewall#explain(Direction, String, String)}, tests and benchmarks. Not for the fast
 * path: every call allocates.
 *
 * <p>Text form accepted by {@link #parse}:
 *
 * <pre>
 *   tcp 10.1.0.5:40000 -> 10.2.0.9:5432 [flags syn|ack|fin|rst|psh]   (default flags: syn)
 *   udp [fd00::1]:5353 -> [fd00::2]:53
 *   icmp 10.1.0.5 -> 10.2.0.9 [type 8] [code 0]                         (default: echo request)
 *   icmpv6 fd00::1 -> fd00::2 type 128
 *   proto 50 10.1.0.5 -> 10.2.0.9
 * </pre>
 *
 * <p>Thread-safety: stateless.
 */
public final class Packets {
  private Packets() {}

  static byte[] addr(String text) {
    Prefix p = Prefix.parse(text);
    if (p.length() != p.addressLength() * 8) {
      throw new IllegalArgumentException("expected an address, not a prefix: '" + text + "'");
    }
    return p.address();
  }

  /** A TCP segment without payload. */
  public static byte[] tcp(String src, int sport, String dst, int dport, int flags) {
    byte[] l4 = new byte[20];
    put16(l4, 0, sport);
    put16(l4, 2, dport);
    put32(l4, 4, 1000);
    put32(l4, 8, (flags & IpPacket.TCP_ACK) != 0 ? 2000 : 0);
    l4[12] = 0x50;
    l4[13] = (byte) flags;
    put16(l4, 14, 65535);
    return ip(addr(src), addr(dst), IpPacket.PROTO_TCP, l4, 16);
  }

  /** A UDP datagram with {@code payload} zero bytes. */
  public static byte[] udp(String src, int sport, String dst, int dport, int payload) {
    byte[] l4 = new byte[8 + payload];
    put16(l4, 0, sport);
    put16(l4, 2, dport);
    put16(l4, 4, l4.length);
    return ip(addr(src), addr(dst), IpPacket.PROTO_UDP, l4, 6);
  }

  /** An ICMP (IPv4) or ICMPv6 message; {@code rest} follows the 4-byte type/code/checksum. */
  public static byte[] icmp(String src, String dst, int type, int code, byte[] rest) {
    byte[] s = addr(src);
    byte[] l4 = new byte[4 + rest.length];
    l4[0] = (byte) type;
    l4[1] = (byte) code;
    System.arraycopy(rest, 0, l4, 4, rest.length);
    return ip(s, addr(dst), s.length == 4 ? IpPacket.PROTO_ICMP : IpPacket.PROTO_ICMPV6, l4, 2);
  }

  /** An echo request (or reply) with identifier {@code id}, sequence 1. */
  public static byte[] echo(String src, String dst, boolean request, int id) {
    boolean v4 = addr(src).length == 4;
    int type = v4 ? (request ? 8 : 0) : (request ? 128 : 129);
    byte[] rest = new byte[4];
    put16(rest, 0, id);
    put16(rest, 2, 1);
    return icmp(src, dst, type, 0, rest);
  }

  /** An ICMP error (e.g. type 3 / ICMPv6 1) quoting {@code quoted} (4 unused bytes first). */
  public static byte[] icmpError(String src, String dst, int type, int code, byte[] quoted) {
    byte[] rest = new byte[4 + quoted.length];
    System.arraycopy(quoted, 0, rest, 4, quoted.length);
    return icmp(src, dst, type, code, rest);
  }

  /** A packet of any protocol number with {@code payload} zero bytes. */
  public static byte[] raw(String src, String dst, int proto, int payload) {
    return ip(addr(src), addr(dst), proto, new byte[payload], -1);
  }

  /** IP header + l4, with the L4 checksum at {@code csumAt} (or none when -1). */
  static byte[] ip(byte[] src, byte[] dst, int proto, byte[] l4, int csumAt) {
    boolean v4 = src.length == 4;
    if (src.length != dst.length) {
      throw new IllegalArgumentException("source and destination of different IP versions");
    }
    int h = v4 ? 20 : 40;
    byte[] b = new byte[h + l4.length];
    if (v4) {
      b[0] = 0x45;
      put16(b, 2, b.length);
      put16(b, 6, IpPacket.V4_FLAG_DF);
      b[8] = 64;
      b[9] = (byte) proto;
      System.arraycopy(src, 0, b, 12, 4);
      System.arraycopy(dst, 0, b, 16, 4);
      put16(b, 10, IpPacket.ipv4Checksum(b, 0, 20));
    } else {
      b[0] = 0x60;
      put16(b, 4, l4.length);
      b[6] = (byte) proto;
      b[7] = 64;
      System.arraycopy(src, 0, b, 8, 16);
      System.arraycopy(dst, 0, b, 24, 16);
    }
    System.arraycopy(l4, 0, b, h, l4.length);
    if (csumAt >= 0) {
      int c = (v4 && proto == IpPacket.PROTO_ICMP) ? IpPacket.internetChecksum(b, h, l4.length)
          : IpPacket.pseudoHeaderChecksum(b, 0, v4 ? 4 : 6, proto, h, l4.length);
      put16(b, h + csumAt, c);
    }
    return b;
  }

  /** Whether the TCP/UDP/ICMPv6 (or ICMP) checksum of a packet built or rejected verifies. */
  public static boolean l4ChecksumValid(byte[] b, int off, int len) {
    int proto = IpPacket.protocol(b, off, len);
    int l4 = IpPacket.l4Offset(b, off, len);
    int total = IpPacket.totalLength(b, off, len);
    if (proto < 0 || l4 < 0) {
      return false;
    }
    boolean v4 = IpPacket.version(b, off, len) == 4;
    int n = total - l4;
    if (v4 && proto == IpPacket.PROTO_ICMP) {
      return IpPacket.onesComplementSum(b, off + l4, n, 0) == 0xFFFF;
    }
    return IpPacket.pseudoHeaderChecksum(b, off, v4 ? 4 : 6, proto, off + l4, n) == 0;
  }

  /** Parses the text form in the class comment into a packet. */
  public static byte[] parse(String text) {
    String[] t = text.trim().split("\\s+");
    int i = 0;
    if (t.length < 4) {
      throw new IllegalArgumentException("expected '<proto> <src> -> <dst> ...', got '" + text + "'");
    }
    String proto = t[i++].toLowerCase(Locale.ROOT);
    int number = -1;
    if (proto.equals("proto")) {
      number = Integer.parseInt(t[i++]);
    }
    String src = t[i++];
    if (!t[i++].equals("->")) {
      throw new IllegalArgumentException("expected '->' in '" + text + "'");
    }
    String dst = t[i++];
    int flags = IpPacket.TCP_SYN;
    int type = -1;
    int code = 0;
    while (i + 1 < t.length) {
      String k = t[i++].toLowerCase(Locale.ROOT);
      String v = t[i++];
      switch (k) {
        case "flags":
          flags = 0;
          for (String f : v.toLowerCase(Locale.ROOT).split("[|,]")) {
            switch (f) {
              case "syn" -> flags |= IpPacket.TCP_SYN;
              case "ack" -> flags |= IpPacket.TCP_ACK;
              case "fin" -> flags |= IpPacket.TCP_FIN;
              case "rst" -> flags |= IpPacket.TCP_RST;
              case "psh" -> flags |= IpPacket.TCP_PSH;
              default -> throw new IllegalArgumentException("unknown TCP flag '" + f + "'");
            }
          }
          break;
        case "type":
          type = Integer.parseInt(v);
          break;
        case "code":
          code = Integer.parseInt(v);
          break;
        default:
          throw new IllegalArgumentException("unknown keyword '" + k + "' in '" + text + "'");
      }
    }
    if (i != t.length) {
      throw new IllegalArgumentException("dangling '" + t[i] + "' in '" + text + "'");
    }
    switch (proto) {
      case "tcp":
      case "udp": {
        String[] s = hostPort(src);
        String[] d = hostPort(dst);
        return proto.equals("tcp")
            ? tcp(s[0], Integer.parseInt(s[1]), d[0], Integer.parseInt(d[1]), flags)
            : udp(s[0], Integer.parseInt(s[1]), d[0], Integer.parseInt(d[1]), 0);
      }
      case "icmp":
      case "icmpv6": {
        boolean v4 = addr(src).length == 4;
        int ty = type >= 0 ? type : (v4 ? 8 : 128);
        byte[] rest = new byte[4];
        put16(rest, 0, 1);
        return icmp(src, dst, ty, code, rest);
      }
      case "proto":
        return raw(src, dst, number, 8);
      default:
        throw new IllegalArgumentException("unknown protocol '" + proto + "'");
    }
  }

  private static String[] hostPort(String s) {
    if (s.startsWith("[")) {
      int e = s.indexOf("]:");
      if (e < 0) {
        throw new IllegalArgumentException("expected [address]:port, got '" + s + "'");
      }
      return new String[] {s.substring(1, e), s.substring(e + 2)};
    }
    int c = s.lastIndexOf(':');
    if (c < 0 || s.indexOf(':') != c) {
      throw new IllegalArgumentException("expected address:port, got '" + s + "'");
    }
    return new String[] {s.substring(0, c), s.substring(c + 1)};
  }
}
