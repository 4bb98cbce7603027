package io.dctun.ha;

import io.dctun.core.packet.IpPacket;

/**
 * VRRPv3 (RFC 5798) advertisements over IPv4 and IPv6: decoding with validation, and encoding of
 * the whole IP packet. Over IPv4 the raw socket sends with {@code IP_HDRINCL}, so TTL 255, TOS
 * and the source address are ours, and the checksum's pseudo-header is the header actually sent.
 * Over IPv6 the kernel writes the header (a raw IPv6 socket cannot take one from us and never
 * hands one up): the socket is bound to the link-local source the checksum covers, sends with
 * hop limit 255 and traffic class 0xc0, and rebuilds a 40-byte header from the receive
 * ancillary data (source, destination, hop limit) so that both families decode the same way.
 *
 * <pre>
 *  IPv4 header (20 bytes, no options when we send; IHL honoured when we receive)
 *   ver/ihl 0x45 | tos 0xc0 | total length | id | flags/frag 0 | ttl 255 | proto 112 | hdr csum
 *   source address | destination address (224.0.0.18, or a unicast peer)
 *  VRRP message (8 + 4 * count bytes)
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
 *  |(rsvd) |     Max Adver Int     |          Checksum             |
 *  |                     IPv4 address(es) ...                      |
 * </pre>
 *
 * The checksum covers the IPv4 pseudo-header (source, destination, zero, protocol 112, VRRP
 * length) and the VRRP message; over IPv6, the RFC 8200 pseudo-header (source, destination,
 * 32-bit length, three zero bytes, next header 112) and 16-byte addresses, the first of which
 * RFC 5798 says should be the virtual router's link-local address.
 *
 * <pre>
 *  IPv6 header (40 bytes; no extension headers: the kernel strips them before the raw socket)
 *   ver 6 | traffic class 0xc0 | flow label | payload length | next header 112 | hop limit 255
 *   source address (link-local) | destination address (ff02::12, or a unicast peer)
 * </pre>
 *
 * <p>Thread-safety: stateless; safe from any thread.
 */
public final class VrrpCodec {
  public static final int IP_PROTO_VRRP = 112;
  public static final int VRRP_MULTICAST = 0xe0000012; // 224.0.0.18
  public static final int VERSION = 3;
  public static final int TYPE_ADVERTISEMENT = 1;
  public static final int REQUIRED_TTL = 255;
  /** ff02::12, the IPv6 VRRP multicast group. */
  static final byte[] VRRP_MULTICAST6 = {(byte) 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
  public static final int IPV4_HEADER = 20;
  public static final int IPV6_HEADER = 40;
  public static final int VRRP_HEADER = 8;
  /** TOS/DSCP keepalived uses: CS6 (network control). */
  public static final int TOS_NETWORK_CONTROL = 0xc0;
  /** Max Adver Int is 12 bits of centiseconds. */
  public static final int MAX_INTERVAL_CENTIS = 0xfff;

  private static final int OFF_VER_TYPE = 0;
  private static final int OFF_VRID = 1;
  private static final int OFF_PRIO = 2;
  private static final int OFF_COUNT = 3;
  private static final int OFF_INTERVAL = 4;
  private static final int OFF_CHECKSUM = 6;
  private static final int OFF_ADDRS = 8;

  private VrrpCodec() {}

  /** ff02::12 (a fresh copy). */
  public static byte[] vrrpMulticast6() {
    return VRRP_MULTICAST6.clone();
  }

  /** Decodes an IPv4 or IPv6 packet, by its version nibble; see the family methods. */
  public static DropReason decode(byte[] b, int off, int len, VrrpAdvert out) {
    return decode(b, off, len, out, true);
  }

  /**
   * As {@link #decode(byte[], int, int, VrrpAdvert)}; with {@code checkTtl} false the TTL / hop
   * limit is recorded but not required to be 255. Unicast mode does that, as keepalived does:
   * unicast peers may be routed, and keepalived 2.2.7 sends unicast IPv6 adverts with hop
   * limit 64.
   */
  public static DropReason decode(byte[] b, int off, int len, VrrpAdvert out, boolean checkTtl) {
    if (len >= 1 && (b[off] & 0xf0) == 0x60) {
      return decodeIpv6(b, off, len, out, checkTtl);
    }
    return decodeIpv4(b, off, len, out, checkTtl);
  }

  /**
   * Decodes and validates one IPv4 packet (starting at its IP header) into {@code out}.
   * Returns {@link DropReason#NONE} if it is a well-formed VRRPv3 advert; otherwise the first
   * reason it fails, in wire order. Does not check the VRID: that is the router's business.
   * Never throws on bad input, never allocates.
   */
  public static DropReason decodeIpv4(byte[] b, int off, int len, VrrpAdvert out) {
    return decodeIpv4(b, off, len, out, true);
  }

  private static DropReason decodeIpv4(byte[] b, int off, int len, VrrpAdvert out, boolean checkTtl) {
    if (len < IPV4_HEADER || (b[off] & 0xf0) != 0x40) {
      return DropReason.BAD_IP_HEADER;
    }
    int ihl = (b[off] & 0x0f) * 4;
    int total = u16(b, off + 2);
    if (ihl < IPV4_HEADER || total < ihl || total > len) {
      return DropReason.BAD_IP_HEADER;
    }
    out.family = 4;
    out.ttl = b[off + 8] & 0xff;
    out.source = i32(b, off + 12);
    out.destination = i32(b, off + 16);
    System.arraycopy(b, off + 12, out.sourceBytes, 0, 4);
    System.arraycopy(b, off + 16, out.destinationBytes, 0, 4);
    if ((b[off + 9] & 0xff) != IP_PROTO_VRRP) {
      return DropReason.NOT_VRRP;
    }
    if (checkTtl && out.ttl != REQUIRED_TTL) {
      return DropReason.TTL_NOT_255;
    }
    int v = off + ihl;
    int vlen = total - ihl;
    DropReason r = decodeMessage(b, v, vlen, 4, out);
    if (r != DropReason.NONE) {
      return r;
    }
    if (IpPacket.pseudoHeaderChecksum(b, off, 4, IP_PROTO_VRRP, v, vlen) != 0) {
      return DropReason.BAD_CHECKSUM;
    }
    return finish(b, v, out);
  }

  /**
   * Decodes and validates one IPv6 packet (from its 40-byte header, no extension headers) into
   * {@code out}; as {@link #decodeIpv4}. The hop limit must be 255.
   */
  public static DropReason decodeIpv6(byte[] b, int off, int len, VrrpAdvert out) {
    return decodeIpv6(b, off, len, out, true);
  }

  private static DropReason decodeIpv6(byte[] b, int off, int len, VrrpAdvert out, boolean checkTtl) {
    if (len < IPV6_HEADER || (b[off] & 0xf0) != 0x60) {
      return DropReason.BAD_IP_HEADER;
    }
    int payload = u16(b, off + 4);
    if (payload > len - IPV6_HEADER) {
      return DropReason.BAD_IP_HEADER;
    }
    out.family = 6;
    out.source = 0;
    out.destination = 0;
    out.ttl = b[off + 7] & 0xff;
    System.arraycopy(b, off + 8, out.sourceBytes, 0, 16);
    System.arraycopy(b, off + 24, out.destinationBytes, 0, 16);
    if ((b[off + 6] & 0xff) != IP_PROTO_VRRP) {
      return DropReason.NOT_VRRP;
    }
    if (checkTtl && out.ttl != REQUIRED_TTL) {
      return DropReason.TTL_NOT_255;
    }
    int v = off + IPV6_HEADER;
    DropReason r = decodeMessage(b, v, payload, 16, out);
    if (r != DropReason.NONE) {
      return r;
    }
    if (IpPacket.pseudoHeaderChecksum(b, off, 6, IP_PROTO_VRRP, v, payload) != 0) {
      return DropReason.BAD_CHECKSUM;
    }
    return finish(b, v, out);
  }

  /** The VRRP message's own checks (not the checksum), in wire order. */
  private static DropReason decodeMessage(byte[] b, int v, int vlen, int alen, VrrpAdvert out) {
    if (vlen < 1) {
      return DropReason.BAD_LENGTH;
    }
    out.version = (b[v + OFF_VER_TYPE] & 0xf0) >>> 4;
    out.type = b[v + OFF_VER_TYPE] & 0x0f;
    if (out.version != VERSION) {
      return DropReason.WRONG_VERSION;
    }
    if (out.type != TYPE_ADVERTISEMENT) {
      return DropReason.WRONG_TYPE;
    }
    if (vlen < VRRP_HEADER) {
      return DropReason.BAD_LENGTH;
    }
    out.vrid = b[v + OFF_VRID] & 0xff;
    out.priority = b[v + OFF_PRIO] & 0xff;
    out.addressCount = b[v + OFF_COUNT] & 0xff;
    out.intervalCentis = u16(b, v + OFF_INTERVAL) & MAX_INTERVAL_CENTIS;
    out.checksum = u16(b, v + OFF_CHECKSUM);
    if (out.addressCount == 0) {
      return DropReason.BAD_ADDRESS_COUNT;
    }
    if (vlen != VRRP_HEADER + alen * out.addressCount) {
      return DropReason.BAD_LENGTH;
    }
    return DropReason.NONE;
  }

  /** After the checksum: the interval, then the addresses are copied out. */
  private static DropReason finish(byte[] b, int v, VrrpAdvert out) {
    if (out.intervalCentis == 0) {
      return DropReason.BAD_INTERVAL;
    }
    int alen = out.addressLength();
    System.arraycopy(b, v + OFF_ADDRS, out.addressBytes, 0, alen * out.addressCount);
    if (alen == 4) {
      for (int i = 0; i < out.addressCount; i++) {
        out.addresses[i] = i32(b, v + OFF_ADDRS + 4 * i);
      }
    }
    return DropReason.NONE;
  }

  /** The total length {@link #encodeIpv4} writes for {@code addressCount} addresses. */
  public static int ipv4Length(int addressCount) {
    return IPV4_HEADER + VRRP_HEADER + 4 * addressCount;
  }

  /**
   * Writes a whole IPv4 packet carrying one advert at {@code off}; returns its length.
   *
   * @throws IllegalArgumentException for values that do not fit their fields
   * @throws IndexOutOfBoundsException if {@code b} is too small
   */
  public static int encodeIpv4(byte[] b, int off, int ipId, int source, int destination,
      int vrid, int priority, int intervalCentis, int[] addresses, int addressCount) {
    checkFields(vrid, priority, intervalCentis, addressCount);
    int total = ipv4Length(addressCount);
    if (off < 0 || off + total > b.length) {
      throw new IndexOutOfBoundsException("need " + total + " bytes at " + off + " of " + b.length);
    }
    b[off] = 0x45;
    b[off + 1] = (byte) TOS_NETWORK_CONTROL;
    put16(b, off + 2, total);
    put16(b, off + 4, ipId);
    put16(b, off + 6, 0);
    b[off + 8] = (byte) REQUIRED_TTL;
    b[off + 9] = (byte) IP_PROTO_VRRP;
    put16(b, off + 10, 0);
    put32(b, off + 12, source);
    put32(b, off + 16, destination);
    put16(b, off + 10, IpPacket.ipv4Checksum(b, off, IPV4_HEADER));

    int v = off + IPV4_HEADER;
    int vlen = VRRP_HEADER + 4 * addressCount;
    b[v + OFF_VER_TYPE] = (byte) (VERSION << 4 | TYPE_ADVERTISEMENT);
    b[v + OFF_VRID] = (byte) vrid;
    b[v + OFF_PRIO] = (byte) priority;
    b[v + OFF_COUNT] = (byte) addressCount;
    put16(b, v + OFF_INTERVAL, intervalCentis);
    put16(b, v + OFF_CHECKSUM, 0);
    for (int i = 0; i < addressCount; i++) {
      put32(b, v + OFF_ADDRS + 4 * i, addresses[i]);
    }
    put16(b, v + OFF_CHECKSUM, IpPacket.pseudoHeaderChecksum(b, off, 4, IP_PROTO_VRRP, v, vlen));
    return total;
  }

  /** The total length {@link #encodeIpv6} writes for {@code addressCount} addresses. */
  public static int ipv6Length(int addressCount) {
    return IPV6_HEADER + VRRP_HEADER + 16 * addressCount;
  }

  /**
   * Writes a whole IPv6 packet carrying one advert at {@code off} (traffic class 0xc0, hop limit
   * 255, flow label 0); returns its length. {@code source} and {@code destination} are 16 bytes;
   * {@code addresses} holds {@code addressCount} 16-byte addresses back to back. The socket sends
   * what follows the 40-byte header; the header is what the checksum covers.
   *
   * @throws IllegalArgumentException for values that do not fit their fields
   * @throws IndexOutOfBoundsException if {@code b} is too small
   */
  public static int encodeIpv6(byte[] b, int off, byte[] source, byte[] destination, int vrid,
      int priority, int intervalCentis, byte[] addresses, int addressCount) {
    checkFields(vrid, priority, intervalCentis, addressCount);
    if (source.length != 16 || destination.length != 16 || addresses.length < 16 * addressCount) {
      throw new IllegalArgumentException("IPv6 addresses are 16 bytes each");
    }
    int total = ipv6Length(addressCount);
    if (off < 0 || off + total > b.length) {
      throw new IndexOutOfBoundsException("need " + total + " bytes at " + off + " of " + b.length);
    }
    int vlen = VRRP_HEADER + 16 * addressCount;
    b[off] = (byte) (0x60 | TOS_NETWORK_CONTROL >>> 4);
    b[off + 1] = (byte) ((TOS_NETWORK_CONTROL & 0x0f) << 4);
    b[off + 2] = 0;
    b[off + 3] = 0;
    put16(b, off + 4, vlen);
    b[off + 6] = (byte) IP_PROTO_VRRP;
    b[off + 7] = (byte) REQUIRED_TTL;
    System.arraycopy(source, 0, b, off + 8, 16);
    System.arraycopy(destination, 0, b, off + 24, 16);
    int v = off + IPV6_HEADER;
    b[v + OFF_VER_TYPE] = (byte) (VERSION << 4 | TYPE_ADVERTISEMENT);
    b[v + OFF_VRID] = (byte) vrid;
    b[v + OFF_PRIO] = (byte) priority;
    b[v + OFF_COUNT] = (byte) addressCount;
    put16(b, v + OFF_INTERVAL, intervalCentis);
    put16(b, v + OFF_CHECKSUM, 0);
    System.arraycopy(addresses, 0, b, v + OFF_ADDRS, 16 * addressCount);
    put16(b, v + OFF_CHECKSUM, IpPacket.pseudoHeaderChecksum(b, off, 6, IP_PROTO_VRRP, v, vlen));
    return total;
  }

  private static void checkFields(int vrid, int priority, int intervalCentis, int addressCount) {
    if (vrid < 1 || vrid > 255) {
      throw new IllegalArgumentException("VRID must be 1..255: " + vrid);
    }
    if (priority < 0 || priority > 255) {
      throw new IllegalArgumentException("priority must be 0..255: " + priority);
    }
    if (intervalCentis < 1 || intervalCentis > MAX_INTERVAL_CENTIS) {
      throw new IllegalArgumentException("advert interval must be 1..4095 cs: " + intervalCentis);
    }
    if (addressCount < 1 || addressCount > VrrpAdvert.MAX_ADDRESSES) {
      throw new IllegalArgumentException("address count must be 1..255: " + addressCount);
    }
  }

  static int u16(byte[] b, int i) {
    return (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
  }

  static int i32(byte[] b, int i) {
    return (b[i] & 0xff) << 24 | (b[i + 1] & 0xff) << 16 | (b[i + 2] & 0xff) << 8 | (b[i + 3] & 0xff);
  }

  static void put16(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 8);
    b[i + 1] = (byte) v;
  }

  static void put32(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 24);
    b[i + 1] = (byte) (v >>> 16);
    b[i + 2] = (byte) (v >>> 8);
    b[i + 3] = (byte) v;
  }
}
