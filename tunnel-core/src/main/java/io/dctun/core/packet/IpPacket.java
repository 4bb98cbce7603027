package io.dctun.core.packet;

/**
 * Allocation-free views over an inner IPv4 or IPv6 packet held in {@code (buf, off, len)}.
 *
 * <p>Every accessor takes the whole buffer slice, re-checks exactly what it needs, and returns
 * {@code -1} (or {@code false}) for input that is malformed or does not carry the field asked
 * for; none reads past {@code off + len} or past the length the header declares, none allocates,
 * none throws for packet content. Offsets returned are relative to {@code off} unless the method
 * says "absolute". Trailing bytes after the declared total length (link padding) are ignored.
 *
 * <pre>
 * IPv4 (RFC 791), IHL &gt;= 5 words:
 *   0       1       2       3
 *  +-------+-------+-------+-------+
 *  |Ver|IHL|  TOS  | Total Length  |  0  V4_VERSION_IHL, V4_TOS, V4_TOTAL_LENGTH
 *  +-------+-------+-------+-------+
 *  |  Identification |Flg| FragOff |  4  V4_IDENTIFICATION, V4_FLAGS_FRAGMENT
 *  +-------+-------+-------+-------+
 *  |  TTL  | Proto |   Checksum    |  8  V4_TTL, V4_PROTOCOL, V4_CHECKSUM
 *  +-------+-------+-------+-------+
 *  |        Source Address         | 12  V4_SOURCE
 *  +-------------------------------+
 *  |      Destination Address      | 16  V4_DESTINATION
 *  +-------------------------------+
 *  |   Options (IHL - 5 words)     | 20  V4_MIN_HEADER
 *
 * IPv6 (RFC 8200), fixed 40 bytes, then extension headers:
 *  +-------+-------+-------+-------+
 *  |Ver| Traffic Class |Flow Label |  0
 *  +-------+-------+-------+-------+
 *  | Payload Length|NextHdr|HopLim |  4  V6_PAYLOAD_LENGTH, V6_NEXT_HEADER, V6_HOP_LIMIT
 *  +-------+-------+-------+-------+
 *  |   Source Address (16 bytes)   |  8  V6_SOURCE
 *  +-------------------------------+
 *  | Destination Address (16 bytes)| 24  V6_DESTINATION
 *  +-------------------------------+
 *  | extension headers ... L4      | 40  V6_HEADER
 *
 * TCP/UDP: source port at L4+0, destination port at L4+2; TCP flags at L4+13.
 * ICMP/ICMPv6: type at L4+0, code at L4+1.
 * </pre>
 *
 * <p>IPv6 extension headers walked: hop-by-hop (0), routing (43), fragment (44), destination
 * options (60) and authentication (51), at most {@link #MAX_V6_EXTENSION_HEADERS}; more is
 * treated as malformed. A non-first fragment stops the walk: the protocol is the fragment
 * header's next header and the ports are unavailable. Jumbograms (payload length 0 with a jumbo
 * option) are not supported: a payload length of 0 means an empty payload.
 *
 * <p>Thread-safety: stateless; safe from any thread, the caller owns the buffer.
 */
public final class IpPacket {

  public static final int V4_VERSION_IHL = 0;
  public static final int V4_TOS = 1;
  public static final int V4_TOTAL_LENGTH = 2;
  public static final int V4_IDENTIFICATION = 4;
  public static final int V4_FLAGS_FRAGMENT = 6;
  public static final int V4_TTL = 8;
  public static final int V4_PROTOCOL = 9;
  public static final int V4_CHECKSUM = 10;
  public static final int V4_SOURCE = 12;
  public static final int V4_DESTINATION = 16;
  public static final int V4_MIN_HEADER = 20;
  /** More-fragments flag in the 16-bit flags/fragment-offset field. */
  public static final int V4_FLAG_MF = 0x2000;
  /** Don't-fragment flag in the 16-bit flags/fragment-offset field. */
  public static final int V4_FLAG_DF = 0x4000;
  /** Fragment offset (in 8-byte units) mask of the 16-bit flags/fragment-offset field. */
  public static final int V4_FRAGMENT_OFFSET_MASK = 0x1FFF;

  public static final int V6_PAYLOAD_LENGTH = 4;
  public static final int V6_NEXT_HEADER = 6;
  public static final int V6_HOP_LIMIT = 7;
  public static final int V6_SOURCE = 8;
  public static final int V6_DESTINATION = 24;
  public static final int V6_HEADER = 40;
  /** Extension headers beyond this count make the packet malformed (bounds the walk). */
  public static final int MAX_V6_EXTENSION_HEADERS = 8;

  public static final int V4_ADDRESS_LENGTH = 4;
  public static final int V6_ADDRESS_LENGTH = 16;

  public static final int PROTO_HOPOPT = 0;
  public static final int PROTO_ICMP = 1;
  public static final int PROTO_TCP = 6;
  public static final int PROTO_UDP = 17;
  public static final int PROTO_ROUTING = 43;
  public static final int PROTO_FRAGMENT = 44;
  public static final int PROTO_ESP = 50;
  public static final int PROTO_AH = 51;
  public static final int PROTO_ICMPV6 = 58;
  public static final int PROTO_NONE = 59;
  public static final int PROTO_DSTOPTS = 60;

  /** Offsets inside a TCP or UDP header. */
  public static final int L4_SOURCE_PORT = 0;
  public static final int L4_DESTINATION_PORT = 2;
  public static final int TCP_FLAGS = 13;
  public static final int ICMP_TYPE = 0;
  public static final int ICMP_CODE = 1;

  public static final int TCP_FIN = 0x01;
  public static final int TCP_SYN = 0x02;
  public static final int TCP_RST = 0x04;
  public static final int TCP_PSH = 0x08;
  public static final int TCP_ACK = 0x10;
  public static final int TCP_URG = 0x20;

  // Packed result of locate(): (l4Offset << 9) | (nonFirstFragment << 8) | protocol.
  private static final int NON_FIRST_FRAGMENT_BIT = 1 << 8;
  private static final int L4_SHIFT = 9;

  private IpPacket() {}

  /** Whether {@code (off, len)} lies inside {@code buf}; overflow-safe. */
  private static boolean inBounds(byte[] buf, int off, int len) {
    return buf != null && off >= 0 && len >= 0 && off <= buf.length - len;
  }

  private static int u8(byte[] buf, int i) {
    return buf[i] & 0xFF;
  }

  private static int u16(byte[] buf, int i) {
    return ((buf[i] & 0xFF) << 8) | (buf[i + 1] & 0xFF);
  }

  /**
   * The IP version in the first nibble, 4 or 6, or -1 when the slice is too short for that
   * version's fixed header or the version is neither.
   */
  public static int version(byte[] buf, int off, int len) {
    if (!inBounds(buf, off, len) || len < 1) {
      return -1;
    }
    int v = u8(buf, off) >>> 4;
    if (v == 4 && len >= V4_MIN_HEADER) {
      return 4;
    }
    if (v == 6 && len >= V6_HEADER) {
      return 6;
    }
    return -1;
  }

  /**
   * The packet's declared total length (IPv4 total length; IPv6 40 + payload length), or -1
   * when the header is malformed: IHL &lt; 5, header longer than the total, or total longer than
   * {@code len}.
   */
  public static int totalLength(byte[] buf, int off, int len) {
    int v = version(buf, off, len);
    if (v == 4) {
      int ihl = (u8(buf, off) & 0x0F) << 2;
      int total = u16(buf, off + V4_TOTAL_LENGTH);
      if (ihl < V4_MIN_HEADER || total < ihl || total > len) {
        return -1;
      }
      return total;
    }
    if (v == 6) {
      int total = V6_HEADER + u16(buf, off + V6_PAYLOAD_LENGTH);
      return total > len ? -1 : total;
    }
    return -1;
  }

  /**
   * Whether the IP header is well-formed and fits: version 4 or 6, IHL &gt;= 5, total length
   * within {@code len}, and for IPv6 an extension-header chain that stays inside the payload.
   * Does not verify the IPv4 header checksum (see {@link #ipv4ChecksumValid}).
   */
  public static boolean isValid(byte[] buf, int off, int len) {
    return locate(buf, off, len) >= 0;
  }

  /** Length of the fixed IP header: IHL * 4 for IPv4, 40 for IPv6; -1 when malformed. */
  public static int headerLength(byte[] buf, int off, int len) {
    if (totalLength(buf, off, len) < 0) {
      return -1;
    }
    return version(buf, off, len) == 4 ? (u8(buf, off) & 0x0F) << 2 : V6_HEADER;
  }

  /**
   * Offset of the layer-4 header relative to {@code off}: after IPv4 options, or after the IPv6
   * extension headers. -1 when malformed.
   */
  public static int l4Offset(byte[] buf, int off, int len) {
    int r = locate(buf, off, len);
    return r < 0 ? -1 : r >>> L4_SHIFT;
  }

  /**
   * The upper-layer protocol: IPv4 protocol field, or the IPv6 next header after the extension
   * headers listed in the class comment (e.g. 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 50 ESP, 59
   * none). -1 when malformed.
   */
  public static int protocol(byte[] buf, int off, int len) {
    int r = locate(buf, off, len);
    return r < 0 ? -1 : r & 0xFF;
  }

  /**
   * Whether this is a fragment other than the first (fragment offset &gt; 0), whose layer-4
   * header is in an earlier fragment. False for malformed packets (check {@link #isValid}).
   */
  public static boolean isNonFirstFragment(byte[] buf, int off, int len) {
    int r = locate(buf, off, len);
    return r >= 0 && (r & NON_FIRST_FRAGMENT_BIT) != 0;
  }

  /** Whether an IPv4 packet has MF set or a non-zero fragment offset. False otherwise. */
  public static boolean isV4Fragment(byte[] buf, int off, int len) {
    if (version(buf, off, len) != 4 || totalLength(buf, off, len) < 0) {
      return false;
    }
    return (u16(buf, off + V4_FLAGS_FRAGMENT) & (V4_FLAG_MF | V4_FRAGMENT_OFFSET_MASK)) != 0;
  }

  /**
   * Finds the layer-4 header. Returns {@code (l4Offset << 9) | (nonFirstFragment << 8) |
   * protocol}, or -1 when malformed. One walk serves protocol, offset and fragment status.
   */
  private static int locate(byte[] buf, int off, int len) {
    int total = totalLength(buf, off, len);
    if (total < 0) {
      return -1;
    }
    if ((u8(buf, off) >>> 4) == 4) {
      int ihl = (u8(buf, off) & 0x0F) << 2;
      int frag = (u16(buf, off + V4_FLAGS_FRAGMENT) & V4_FRAGMENT_OFFSET_MASK) != 0
          ? NON_FIRST_FRAGMENT_BIT : 0;
      return (ihl << L4_SHIFT) | frag | u8(buf, off + V4_PROTOCOL);
    }
    int next = u8(buf, off + V6_NEXT_HEADER);
    int pos = V6_HEADER;
    for (int i = 0; i <= MAX_V6_EXTENSION_HEADERS; i++) {
      int extLen;
      switch (next) {
        case PROTO_HOPOPT:
        case PROTO_ROUTING:
        case PROTO_DSTOPTS:
          if (pos + 2 > total) {
            return -1;
          }
          extLen = (u8(buf, off + pos + 1) + 1) << 3;
          break;
        case PROTO_AH:
          if (pos + 2 > total) {
            return -1;
          }
          extLen = (u8(buf, off + pos + 1) + 2) << 2;
          break;
        case PROTO_FRAGMENT:
          if (pos + 8 > total) {
            return -1;
          }
          extLen = 8;
          if ((u16(buf, off + pos + 2) & 0xFFF8) != 0) {
            // Non-first fragment: what follows is payload, not headers.
            return ((pos + extLen) << L4_SHIFT) | NON_FIRST_FRAGMENT_BIT | u8(buf, off + pos);
          }
          break;
        default:
          return (pos << L4_SHIFT) | next;
      }
      if (pos + extLen > total) {
        return -1;
      }
      next = u8(buf, off + pos);
      pos += extLen;
    }
    return -1;
  }

  /** 4 or 16 for a well-formed packet, -1 otherwise. */
  public static int addressLength(byte[] buf, int off, int len) {
    if (totalLength(buf, off, len) < 0) {
      return -1;
    }
    return version(buf, off, len) == 4 ? V4_ADDRESS_LENGTH : V6_ADDRESS_LENGTH;
  }

  /**
   * Absolute index in {@code buf} of the source address (for {@code AllowedIps.lookup}), or -1
   * when the header is malformed.
   */
  public static int sourceOffset(byte[] buf, int off, int len) {
    if (totalLength(buf, off, len) < 0) {
      return -1;
    }
    return off + (version(buf, off, len) == 4 ? V4_SOURCE : V6_SOURCE);
  }

  /** Absolute index in {@code buf} of the destination address, or -1 when malformed. */
  public static int destinationOffset(byte[] buf, int off, int len) {
    if (totalLength(buf, off, len) < 0) {
      return -1;
    }
    return off + (version(buf, off, len) == 4 ? V4_DESTINATION : V6_DESTINATION);
  }

  /**
   * Copies the source address (4 or 16 bytes) to {@code dst[dstOff..]}.
   *
   * @return the number of bytes copied, or -1 when malformed or {@code dst} is too small
   */
  public static int copySource(byte[] buf, int off, int len, byte[] dst, int dstOff) {
    return copyAddress(sourceOffset(buf, off, len), buf, off, len, dst, dstOff);
  }

  /** Copies the destination address; as {@link #copySource}. */
  public static int copyDestination(byte[] buf, int off, int len, byte[] dst, int dstOff) {
    return copyAddress(destinationOffset(buf, off, len), buf, off, len, dst, dstOff);
  }

  private static int copyAddress(int at, byte[] buf, int off, int len, byte[] dst, int dstOff) {
    if (at < 0) {
      return -1;
    }
    int n = addressLength(buf, off, len);
    if (!inBounds(dst, dstOff, n)) {
      return -1;
    }
    System.arraycopy(buf, at, dst, dstOff, n);
    return n;
  }

  /**
   * The IPv4 source address as a big-endian int. Precondition: {@code version(buf, off, len) ==
   * 4}; every int is a valid address, so there is no error value. Misuse with a slice shorter than
   * 20 bytes throws {@link IllegalArgumentException}.
   */
  public static int sourceV4(byte[] buf, int off, int len) {
    requireV4(buf, off, len);
    return readInt(buf, off + V4_SOURCE);
  }

  /** The IPv4 destination address as a big-endian int; preconditions as {@link #sourceV4}. */
  public static int destinationV4(byte[] buf, int off, int len) {
    requireV4(buf, off, len);
    return readInt(buf, off + V4_DESTINATION);
  }

  private static void requireV4(byte[] buf, int off, int len) {
    if (version(buf, off, len) != 4) {
      throw new IllegalArgumentException(
          "not an IPv4 header at offset " + off + " length " + len);
    }
  }

  static int readInt(byte[] buf, int i) {
    return ((buf[i] & 0xFF) << 24) | ((buf[i + 1] & 0xFF) << 16)
        | ((buf[i + 2] & 0xFF) << 8) | (buf[i + 3] & 0xFF);
  }

  /**
   * Offset of a port field, or -1 if not TCP/UDP, a non-first fragment, or truncated before the
   * end of both ports (so a caller never sees one port without the other).
   */
  private static int portField(byte[] buf, int off, int len, int field) {
    int r = locate(buf, off, len);
    if (r < 0 || (r & NON_FIRST_FRAGMENT_BIT) != 0) {
      return -1;
    }
    int proto = r & 0xFF;
    if (proto != PROTO_TCP && proto != PROTO_UDP) {
      return -1;
    }
    int l4 = r >>> L4_SHIFT;
    if (l4 + L4_DESTINATION_PORT + 2 > totalLength(buf, off, len)) {
      return -1;
    }
    return off + l4 + field;
  }

  /** TCP or UDP source port, or -1 (other protocol, non-first fragment, truncated, malformed). */
  public static int sourcePort(byte[] buf, int off, int len) {
    int at = portField(buf, off, len, L4_SOURCE_PORT);
    return at < 0 ? -1 : u16(buf, at);
  }

  /** TCP or UDP destination port, or -1 as {@link #sourcePort}. */
  public static int destinationPort(byte[] buf, int off, int len) {
    int at = portField(buf, off, len, L4_DESTINATION_PORT);
    return at < 0 ? -1 : u16(buf, at);
  }

  /** The TCP flags byte ({@link #TCP_SYN} etc.), or -1 if not a TCP first fragment or truncated. */
  public static int tcpFlags(byte[] buf, int off, int len) {
    int r = locate(buf, off, len);
    if (r < 0 || (r & NON_FIRST_FRAGMENT_BIT) != 0 || (r & 0xFF) != PROTO_TCP) {
      return -1;
    }
    int l4 = r >>> L4_SHIFT;
    if (l4 + TCP_FLAGS + 1 > totalLength(buf, off, len)) {
      return -1;
    }
    return u8(buf, off + l4 + TCP_FLAGS);
  }

  /** Offset of an ICMP field for ICMP-in-IPv4 or ICMPv6-in-IPv6, else -1. */
  private static int icmpField(byte[] buf, int off, int len, int field) {
    int r = locate(buf, off, len);
    if (r < 0 || (r & NON_FIRST_FRAGMENT_BIT) != 0) {
      return -1;
    }
    int want = (u8(buf, off) >>> 4) == 4 ? PROTO_ICMP : PROTO_ICMPV6;
    if ((r & 0xFF) != want) {
      return -1;
    }
    int l4 = r >>> L4_SHIFT;
    if (l4 + field + 1 > totalLength(buf, off, len)) {
      return -1;
    }
    return off + l4 + field;
  }

  /** ICMP type (IPv4) or ICMPv6 type (IPv6), or -1 for other protocols or truncated input. */
  public static int icmpType(byte[] buf, int off, int len) {
    int at = icmpField(buf, off, len, ICMP_TYPE);
    return at < 0 ? -1 : u8(buf, at);
  }

  /** ICMP or ICMPv6 code, or -1 as {@link #icmpType}. */
  public static int icmpCode(byte[] buf, int off, int len) {
    int at = icmpField(buf, off, len, ICMP_CODE);
    return at < 0 ? -1 : u8(buf, at);
  }

  /**
   * The RFC 1071 one's-complement sum of {@code buf[off..off+len)} added to {@code initial},
   * folded to 16 bits but not inverted. Chain calls to sum discontiguous ranges (even lengths
   * except for the last).
   */
  public static int onesComplementSum(byte[] buf, int off, int len, int initial) {
    long sum = initial & 0xFFFFFFFFL;
    int end = off + len;
    int i = off;
    for (; i + 1 < end; i += 2) {
      sum += ((buf[i] & 0xFF) << 8) | (buf[i + 1] & 0xFF);
    }
    if (i < end) {
      sum += (buf[i] & 0xFF) << 8;
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return (int) sum;
  }

  /**
   * The checksum of the layer-4 message {@code buf[l4..l4+l4Len)} (TCP, UDP, ICMPv6, VRRP...) with
   * the pseudo-header of the IPv4 or IPv6 header at {@code ip}: its source and destination, the
   * protocol {@code proto} and the length (32 bits for IPv6, RFC 8200 8.1). The value to store
   * while the message's checksum field is zero; 0 when a received message's checksum verifies.
   */
  public static int pseudoHeaderChecksum(byte[] buf, int ip, int version, int proto, int l4, int l4Len) {
    int sum = version == 4
        ? onesComplementSum(buf, ip + V4_SOURCE, 8, 0)
        : onesComplementSum(buf, ip + V6_SOURCE, 32, 0);
    sum += proto + (l4Len & 0xFFFF) + (l4Len >>> 16);
    sum = onesComplementSum(buf, l4, l4Len, sum);
    return ~sum & 0xFFFF;
  }

  /** The Internet checksum (inverted one's-complement sum) of {@code buf[off..off+len)}. */
  public static int internetChecksum(byte[] buf, int off, int len) {
    return ~onesComplementSum(buf, off, len, 0) & 0xFFFF;
  }

  /**
   * The IPv4 header checksum for the header at {@code off} of {@code headerLength} bytes,
   * computed as if the checksum field were zero (so it can be stored directly).
   */
  public static int ipv4Checksum(byte[] buf, int off, int headerLength) {
    int sum = onesComplementSum(buf, off, V4_CHECKSUM, 0);
    sum = onesComplementSum(buf, off + V4_CHECKSUM + 2, headerLength - V4_CHECKSUM - 2, sum);
    return ~sum & 0xFFFF;
  }

  /** Computes and stores the IPv4 header checksum of a well-formed header; false otherwise. */
  public static boolean writeIpv4Checksum(byte[] buf, int off, int len) {
    if (version(buf, off, len) != 4 || totalLength(buf, off, len) < 0) {
      return false;
    }
    int ihl = (u8(buf, off) & 0x0F) << 2;
    int c = ipv4Checksum(buf, off, ihl);
    buf[off + V4_CHECKSUM] = (byte) (c >>> 8);
    buf[off + V4_CHECKSUM + 1] = (byte) c;
    return true;
  }

  /**
   * Decrements the TTL (IPv4, with an incremental checksum update as RFC 1624 gives it) or the hop
   * limit (IPv6) of a valid packet, as a router does when it forwards. Returns false, changing
   * nothing, when the packet must not be forwarded: its TTL or hop limit is 1 or 0.
   */
  public static boolean decrementTtl(byte[] buf, int off) {
    if ((buf[off] & 0xF0) == 0x60) {
      int hop = buf[off + V6_HOP_LIMIT] & 0xFF;
      if (hop <= 1) {
        return false;
      }
      buf[off + V6_HOP_LIMIT] = (byte) (hop - 1);
      return true;
    }
    int ttl = buf[off + V4_TTL] & 0xFF;
    if (ttl <= 1) {
      return false;
    }
    buf[off + V4_TTL] = (byte) (ttl - 1);
    // HC' = ~(~HC + ~m + m'): the 16-bit word holding TTL went down by 0x0100.
    int hc = (buf[off + V4_CHECKSUM] & 0xFF) << 8 | (buf[off + V4_CHECKSUM + 1] & 0xFF);
    int sum = (~hc & 0xFFFF) + 0xFEFF; // ~m + m' == -0x0100 in one's complement: + 0xFEFF
    sum = (sum & 0xFFFF) + (sum >>> 16);
    sum = (sum & 0xFFFF) + (sum >>> 16);
    int c = ~sum & 0xFFFF;
    buf[off + V4_CHECKSUM] = (byte) (c >>> 8);
    buf[off + V4_CHECKSUM + 1] = (byte) c;
    return true;
  }

  /** Whether a well-formed IPv4 header's checksum verifies. False for anything else. */
  public static boolean ipv4ChecksumValid(byte[] buf, int off, int len) {
    if (version(buf, off, len) != 4 || totalLength(buf, off, len) < 0) {
      return false;
    }
    int ihl = (u8(buf, off) & 0x0F) << 2;
    return onesComplementSum(buf, off, ihl, 0) == 0xFFFF;
  }
}
