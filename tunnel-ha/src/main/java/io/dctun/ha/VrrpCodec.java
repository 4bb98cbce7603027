package io.dctun.ha;

/**
 * VRRPv3 (RFC 5798) advertisements over IPv4: decoding with validation, and encoding of the
 * whole IP packet (the raw socket sends with {@code IP_HDRINCL}, so TTL 255, TOS and the source
 * address are ours, and the checksum's pseudo-header is the header actually sent).
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
 * length) and the VRRP message.
 *
 * <p>Thread-safety: stateless; safe from any thread.
 */
public final class VrrpCodec {
  public static final int IP_PROTO_VRRP = 112;
  public static final int VRRP_MULTICAST = 0xe0000012; // 224.0.0.18
  public static final int VERSION = 3;
  public static final int TYPE_ADVERTISEMENT = 1;
  public static final int REQUIRED_TTL = 255;
  public static final int IPV4_HEADER = 20;
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

  /**
   * Decodes and validates one IPv4 packet (starting at its IP header) into {@code out}.
   * Returns {@link DropReason#NONE} if it is a well-formed VRRPv3 advert; otherwise the first
   * reason it fails, in wire order. Does not check the VRID: that is the router's business.
   * Never throws on bad input, never allocates.
   */
  public static DropReason decodeIpv4(byte[] b, int off, int len, VrrpAdvert out) {
    if (len < IPV4_HEADER || (b[off] & 0xf0) != 0x40) {
      return DropReason.BAD_IP_HEADER;
    }
    int ihl = (b[off] & 0x0f) * 4;
    int total = u16(b, off + 2);
    if (ihl < IPV4_HEADER || total < ihl || total > len) {
      return DropReason.BAD_IP_HEADER;
    }
    out.ttl = b[off + 8] & 0xff;
    out.source = i32(b, off + 12);
    out.destination = i32(b, off + 16);
    if ((b[off + 9] & 0xff) != IP_PROTO_VRRP) {
      return DropReason.NOT_VRRP;
    }
    if (out.ttl != REQUIRED_TTL) {
      return DropReason.TTL_NOT_255;
    }
    int v = off + ihl;
    int vlen = total - ihl;
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
    if (vlen != VRRP_HEADER + 4 * out.addressCount) {
      return DropReason.BAD_LENGTH;
    }
    if (checksum(b, v, vlen, out.source, out.destination) != 0) {
      return DropReason.BAD_CHECKSUM;
    }
    if (out.intervalCentis == 0) {
      return DropReason.BAD_INTERVAL;
    }
    for (int i = 0; i < out.addressCount; i++) {
      out.addresses[i] = i32(b, v + OFF_ADDRS + 4 * i);
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
    put16(b, off + 10, ~fold(sum(b, off, IPV4_HEADER, 0)) & 0xffff);

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
    put16(b, v + OFF_CHECKSUM, checksum(b, v, vlen, source, destination));
    return total;
  }

  /**
   * The Internet checksum of the pseudo-header and {@code len} bytes of VRRP message at
   * {@code off}: 0 when a received message's checksum field is right; the value to store when
   * the field is zero.
   */
  public static int checksum(byte[] b, int off, int len, int source, int destination) {
    long s = (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff)
        + IP_PROTO_VRRP + len;
    return ~fold(sum(b, off, len, s)) & 0xffff;
  }

  private static long sum(byte[] b, int off, int len, long s) {
    int i = 0;
    for (; i + 1 < len; i += 2) {
      s += u16(b, off + i);
    }
    if (i < len) {
      s += (b[off + i] & 0xff) << 8;
    }
    return s;
  }

  private static int fold(long s) {
    while ((s >>> 16) != 0) {
      s = (s & 0xffff) + (s >>> 16);
    }
    return (int) s;
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
