package io.dctun.core.packet;

/**
 * Writes and parses IPv4 ICMP echo request and reply packets (RFC 792), for tests, the
 * in-memory device and liveness probes.
 *
 * <pre>
 *   0        IPv4 header, 20 bytes, no options (TTL 64, DF, protocol 1)
 *  20  +--------+--------+-----------------+
 *      |  Type  |  Code  |    Checksum     |  ICMP_TYPE, ICMP_CODE, ICMP_CHECKSUM
 *  24  +--------+--------+-----------------+
 *      |   Identifier    | Sequence Number |  ICMP_ID, ICMP_SEQUENCE
 *  28  +-----------------+-----------------+
 *      |  Payload ...                         ICMP_PAYLOAD
 * </pre>
 *
 * <p>Offsets are relative to the start of the ICMP message. Thread-safety: stateless; the caller
 * owns the buffer.
 */
public final class IcmpEcho {

  public static final int TYPE_ECHO_REPLY = 0;
  public static final int TYPE_ECHO_REQUEST = 8;

  public static final int ICMP_TYPE = 0;
  public static final int ICMP_CODE = 1;
  public static final int ICMP_CHECKSUM = 2;
  public static final int ICMP_ID = 4;
  public static final int ICMP_SEQUENCE = 6;
  public static final int ICMP_PAYLOAD = 8;
  /** IPv4 header (no options) plus ICMP echo header. */
  public static final int V4_OVERHEAD = IpPacket.V4_MIN_HEADER + ICMP_PAYLOAD;
  public static final int DEFAULT_TTL = 64;

  private IcmpEcho() {}

  /**
   * Writes an IPv4 echo request with valid IP and ICMP checksums at {@code buf[off..]}.
   *
   * @param src source address, big-endian int
   * @param dst destination address, big-endian int
   * @param id identifier (low 16 bits used)
   * @param seq sequence number (low 16 bits used)
   * @param payload echo data, may be empty
   * @return the packet length, or -1 if it does not fit in {@code buf} or exceeds 65535
   */
  public static int writeV4Request(byte[] buf, int off, int src, int dst, int id, int seq,
      byte[] payload) {
    return writeV4(buf, off, TYPE_ECHO_REQUEST, src, dst, id, seq, payload);
  }

  /** Writes an IPv4 echo reply; as {@link #writeV4Request}. */
  public static int writeV4Reply(byte[] buf, int off, int src, int dst, int id, int seq,
      byte[] payload) {
    return writeV4(buf, off, TYPE_ECHO_REPLY, src, dst, id, seq, payload);
  }

  private static int writeV4(byte[] buf, int off, int type, int src, int dst, int id, int seq,
      byte[] payload) {
    int total = V4_OVERHEAD + payload.length;
    if (total > 0xFFFF || off < 0 || off > buf.length - total) {
      return -1;
    }
    buf[off] = 0x45;
    buf[off + IpPacket.V4_TOS] = 0;
    put16(buf, off + IpPacket.V4_TOTAL_LENGTH, total);
    put16(buf, off + IpPacket.V4_IDENTIFICATION, 0);
    put16(buf, off + IpPacket.V4_FLAGS_FRAGMENT, IpPacket.V4_FLAG_DF);
    buf[off + IpPacket.V4_TTL] = DEFAULT_TTL;
    buf[off + IpPacket.V4_PROTOCOL] = IpPacket.PROTO_ICMP;
    put32(buf, off + IpPacket.V4_SOURCE, src);
    put32(buf, off + IpPacket.V4_DESTINATION, dst);
    put16(buf, off + IpPacket.V4_CHECKSUM, IpPacket.ipv4Checksum(buf, off, IpPacket.V4_MIN_HEADER));

    int icmp = off + IpPacket.V4_MIN_HEADER;
    buf[icmp + ICMP_TYPE] = (byte) type;
    buf[icmp + ICMP_CODE] = 0;
    put16(buf, icmp + ICMP_CHECKSUM, 0);
    put16(buf, icmp + ICMP_ID, id);
    put16(buf, icmp + ICMP_SEQUENCE, seq);
    System.arraycopy(payload, 0, buf, icmp + ICMP_PAYLOAD, payload.length);
    put16(buf, icmp + ICMP_CHECKSUM,
        IpPacket.internetChecksum(buf, icmp, ICMP_PAYLOAD + payload.length));
    return total;
  }

  /**
   * Parses an IPv4 echo: the IP header must be valid with a correct checksum, not a fragment,
   * protocol ICMP, code 0, and the ICMP checksum must verify.
   *
   * @return {@link #TYPE_ECHO_REQUEST} or {@link #TYPE_ECHO_REPLY}, or -1 for anything else
   */
  public static int parseV4(byte[] buf, int off, int len) {
    if (IpPacket.version(buf, off, len) != 4
        || !IpPacket.ipv4ChecksumValid(buf, off, len)
        || IpPacket.isV4Fragment(buf, off, len)
        || IpPacket.protocol(buf, off, len) != IpPacket.PROTO_ICMP) {
      return -1;
    }
    int l4 = IpPacket.l4Offset(buf, off, len);
    int icmpLen = IpPacket.totalLength(buf, off, len) - l4;
    if (icmpLen < ICMP_PAYLOAD) {
      return -1;
    }
    int icmp = off + l4;
    int type = buf[icmp + ICMP_TYPE] & 0xFF;
    if ((type != TYPE_ECHO_REQUEST && type != TYPE_ECHO_REPLY) || buf[icmp + ICMP_CODE] != 0) {
      return -1;
    }
    if (IpPacket.onesComplementSum(buf, icmp, icmpLen, 0) != 0xFFFF) {
      return -1;
    }
    return type;
  }

  /** Identifier of an echo that {@link #parseV4} accepted, or -1. */
  public static int id(byte[] buf, int off, int len) {
    int icmp = icmpStart(buf, off, len);
    return icmp < 0 ? -1 : get16(buf, icmp + ICMP_ID);
  }

  /** Sequence number of an echo that {@link #parseV4} accepted, or -1. */
  public static int sequence(byte[] buf, int off, int len) {
    int icmp = icmpStart(buf, off, len);
    return icmp < 0 ? -1 : get16(buf, icmp + ICMP_SEQUENCE);
  }

  /** Absolute index of the echo payload in {@code buf}, or -1. */
  public static int payloadOffset(byte[] buf, int off, int len) {
    int icmp = icmpStart(buf, off, len);
    return icmp < 0 ? -1 : icmp + ICMP_PAYLOAD;
  }

  /** Length of the echo payload, or -1. */
  public static int payloadLength(byte[] buf, int off, int len) {
    int icmp = icmpStart(buf, off, len);
    return icmp < 0 ? -1 : off + IpPacket.totalLength(buf, off, len) - icmp - ICMP_PAYLOAD;
  }

  /**
   * Turns a valid echo request into its reply in place: swaps the addresses, sets type 0 and
   * recomputes both checksums. The in-memory device uses this to answer pings.
   *
   * @return the packet length, or -1 if the input is not a valid echo request (left unchanged)
   */
  public static int toReplyInPlace(byte[] buf, int off, int len) {
    if (parseV4(buf, off, len) != TYPE_ECHO_REQUEST) {
      return -1;
    }
    int total = IpPacket.totalLength(buf, off, len);
    int src = IpPacket.sourceV4(buf, off, len);
    int dst = IpPacket.destinationV4(buf, off, len);
    put32(buf, off + IpPacket.V4_SOURCE, dst);
    put32(buf, off + IpPacket.V4_DESTINATION, src);
    buf[off + IpPacket.V4_TTL] = DEFAULT_TTL;
    IpPacket.writeIpv4Checksum(buf, off, len);
    int icmp = icmpStart(buf, off, len);
    buf[icmp + ICMP_TYPE] = TYPE_ECHO_REPLY;
    put16(buf, icmp + ICMP_CHECKSUM, 0);
    put16(buf, icmp + ICMP_CHECKSUM, IpPacket.internetChecksum(buf, icmp, off + total - icmp));
    return total;
  }

  private static int icmpStart(byte[] buf, int off, int len) {
    if (parseV4(buf, off, len) < 0) {
      return -1;
    }
    return off + IpPacket.l4Offset(buf, off, len);
  }

  private static int get16(byte[] buf, int i) {
    return ((buf[i] & 0xFF) << 8) | (buf[i + 1] & 0xFF);
  }

  private static void put16(byte[] buf, int i, int v) {
    buf[i] = (byte) (v >>> 8);
    buf[i + 1] = (byte) v;
  }

  private static void put32(byte[] buf, int i, int v) {
    buf[i] = (byte) (v >>> 24);
    buf[i + 1] = (byte) (v >>> 16);
    buf[i + 2] = (byte) (v >>> 8);
    buf[i + 3] = (byte) v;
  }
}
