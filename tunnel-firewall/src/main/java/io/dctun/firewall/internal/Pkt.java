package io.dctun.firewall.internal;

import io.dctun.core.Clock;
import io.dctun.core.packet.IpPacket;
import io.dctun.firewall.ConnState;
import io.dctun.firewall.Direction;
import io.dctun.firewall.spi.PacketView;

import static io.dctun.firewall.internal.Bytes.u16;
import static io.dctun.firewall.internal.Bytes.u64;
import static io.dctun.firewall.internal.Bytes.u8;

/**
 * The fields of one packet that classification and tracking need, parsed once. One instance per
 * thread, reused for every packet; public mutable fields because only the firewall writes them.
 *
 * <p>Addresses are two longs each: IPv6 as high/low 64 bits, IPv4 in the top 32 bits of
 * {@code hi} with {@code lo = 0}. Ports are -1 when absent (not TCP/UDP, non-first fragment).
 * ICMP echo request/reply use the identifier as both ports so they track like UDP.
 *
 * <p>Thread-safety: confined to one thread.
 */
public final class Pkt implements PacketView {
  private static final ConnState[] STATES = ConnState.values();

  public Direction dir;
  public int peer = -1;
  public String peerName;
  public int version;
  public int proto;
  /** Layer-4 header offset relative to {@link #off}. */
  public int l4;
  /**
   * The declared length of the IP packet, headers included (IPv4 total length, IPv6 40 +
   * payload length); for a quoted packet its own claim, which exceeds the bytes quoted.
   */
  public int total;
  public int sport;
  public int dport;
  public int icmpType;
  public int icmpCode;
  public int tcpFlags;
  public boolean nonFirstFragment;
  public long srcHi;
  public long srcLo;
  public long dstHi;
  public long dstLo;
  public int state;
  public byte[] buf;
  public int off;
  public int len;
  public long now;
  public Clock clock = Clock.SYSTEM;
  /** The key of this packet's flow, filled by {@link FlowKey#of} (not by parsing). */
  public final FlowKey key = new FlowKey();

  /**
   * Per-thread peer-index cache, direct-mapped by identity hash: the device passes the same
   * key instance for a peer every time, and equals/hashCode on a key cost ~30 ns.
   */
  public Object peerCacheOwner;
  public final Object[] peerCacheKey = new Object[PEER_CACHE];
  public final int[] peerCacheIndex = new int[PEER_CACHE];
  public static final int PEER_CACHE = 16;

  /** Points at a new packet; the layer-4 fields are unknown (-1) until parsed. */
  private void begin(byte[] b, int off, int len) {
    this.buf = b;
    this.off = off;
    this.len = len;
    sport = -1;
    dport = -1;
    icmpType = -1;
    icmpCode = -1;
    tcpFlags = -1;
  }

  /** IPv4 addresses in the high half of the 128-bit form (the low half zero). */
  private void addresses4(byte[] b, int off) {
    srcHi = u64(b, off + IpPacket.V4_SOURCE - 4) << 32;
    dstHi = u64(b, off + IpPacket.V4_DESTINATION - 4) << 32;
    srcLo = 0;
    dstLo = 0;
  }

  private void addresses6(byte[] b, int off) {
    srcHi = u64(b, off + IpPacket.V6_SOURCE);
    srcLo = u64(b, off + IpPacket.V6_SOURCE + 8);
    dstHi = u64(b, off + IpPacket.V6_DESTINATION);
    dstLo = u64(b, off + IpPacket.V6_DESTINATION + 8);
  }

  /**
   * Parses {@code buf[off..off+len)}. Returns false for anything not a well-formed IPv4/IPv6
   * packet, or a first fragment too short for its TCP (20), UDP (8) or ICMP (8) header.
   */
  public boolean parse(byte[] b, int off, int len) {
    begin(b, off, len);
    state = ConnState.NEW.ordinal();
    if (b == null || off < 0 || len < 20 || off > b.length - len) {
      return false;
    }
    int v = u8(b, off) >>> 4;
    int total;
    if (v == 4) {
      int ihl = (u8(b, off) & 0x0F) << 2;
      total = u16(b, off + IpPacket.V4_TOTAL_LENGTH);
      if (ihl < 20 || total < ihl || total > len) {
        return false;
      }
      version = 4;
      proto = u8(b, off + IpPacket.V4_PROTOCOL);
      l4 = ihl;
      nonFirstFragment =
          (u16(b, off + IpPacket.V4_FLAGS_FRAGMENT) & IpPacket.V4_FRAGMENT_OFFSET_MASK) != 0;
      addresses4(b, off);
    } else if (v == 6 && len >= 40) {
      int p = IpPacket.protocol(b, off, len);
      if (p < 0) {
        return false;
      }
      total = IpPacket.totalLength(b, off, len);
      version = 6;
      proto = p;
      l4 = IpPacket.l4Offset(b, off, len);
      nonFirstFragment = IpPacket.isNonFirstFragment(b, off, len);
      addresses6(b, off);
    } else {
      return false;
    }
    this.total = total;
    if (nonFirstFragment) {
      return true;
    }
    int at = off + l4;
    int avail = total - l4;
    switch (proto) {
      case IpPacket.PROTO_TCP:
        if (avail < 20) {
          return false;
        }
        sport = u16(b, at);
        dport = u16(b, at + 2);
        tcpFlags = u8(b, at + IpPacket.TCP_FLAGS);
        return true;
      case IpPacket.PROTO_UDP:
        if (avail < 8) {
          return false;
        }
        sport = u16(b, at);
        dport = u16(b, at + 2);
        return true;
      case IpPacket.PROTO_ICMP:
      case IpPacket.PROTO_ICMPV6:
        if ((proto == IpPacket.PROTO_ICMP) != (version == 4)) {
          return true; // ICMP in IPv6 or ICMPv6 in IPv4: just a protocol number
        }
        if (avail < 8) {
          return false;
        }
        icmpType = u8(b, at);
        icmpCode = u8(b, at + 1);
        return true;
      default:
        return true;
    }
  }

  /**
   * Parses the packet quoted inside an ICMP error: its declared length exceeds the bytes quoted,
   * and only the first 8 bytes of its layer-4 header are there (ports and echo id, no TCP flags).
   * IPv6 quotes are understood without extension headers only.
   */
  public boolean parseQuoted(byte[] b, int off, int len) {
    begin(b, off, len);
    nonFirstFragment = false;
    if (b == null || off < 0 || len < 28 || off > b.length - len) {
      return false;
    }
    int v = u8(b, off) >>> 4;
    if (v == 4) {
      int ihl = (u8(b, off) & 0x0F) << 2;
      if (ihl < 20 || ihl + 8 > len) {
        return false;
      }
      version = 4;
      proto = u8(b, off + IpPacket.V4_PROTOCOL);
      l4 = ihl;
      total = u16(b, off + IpPacket.V4_TOTAL_LENGTH);
      addresses4(b, off);
    } else if (v == 6 && len >= 48) {
      version = 6;
      proto = u8(b, off + IpPacket.V6_NEXT_HEADER);
      l4 = 40;
      total = IpPacket.V6_HEADER + u16(b, off + IpPacket.V6_PAYLOAD_LENGTH);
      addresses6(b, off);
    } else {
      return false;
    }
    int at = off + l4;
    if (proto == IpPacket.PROTO_TCP || proto == IpPacket.PROTO_UDP) {
      sport = u16(b, at);
      dport = u16(b, at + 2);
    } else if (proto == (version == 4 ? IpPacket.PROTO_ICMP : IpPacket.PROTO_ICMPV6)) {
      icmpType = u8(b, at);
      icmpCode = u8(b, at + 1);
    }
    return true;
  }

  /** Whether this is an ICMP or ICMPv6 echo request or reply. */
  public boolean isEcho() {
    if (version == 4) {
      return proto == IpPacket.PROTO_ICMP && (icmpType == 8 || icmpType == 0);
    }
    return proto == IpPacket.PROTO_ICMPV6 && (icmpType == 128 || icmpType == 129);
  }

  public boolean isEchoRequest() {
    return version == 4 ? icmpType == 8 : icmpType == 128;
  }

  /** Whether this is an ICMP error that quotes a packet (unreachable, time exceeded, ...). */
  public boolean isIcmpError() {
    if (version == 4) {
      return proto == IpPacket.PROTO_ICMP
          && (icmpType == 3 || icmpType == 4 || icmpType == 5 || icmpType == 11 || icmpType == 12);
    }
    return proto == IpPacket.PROTO_ICMPV6 && icmpType >= 1 && icmpType <= 4;
  }

  /** The ICMP echo identifier (valid when {@link #isEcho()}). */
  public int echoId() {
    return u16(buf, off + l4 + 4);
  }

  /** Swaps source and destination (addresses and ports) and the direction: the reply's view. */
  public void swap() {
    long t = srcHi;
    srcHi = dstHi;
    dstHi = t;
    t = srcLo;
    srcLo = dstLo;
    dstLo = t;
    int p = sport;
    sport = dport;
    dport = p;
    dir = dir.reverse();
  }

  /** Copies the fields (not the buffer contents) of {@code o}. */
  public void copyFrom(Pkt o) {
    dir = o.dir;
    peer = o.peer;
    peerName = o.peerName;
    version = o.version;
    proto = o.proto;
    l4 = o.l4;
    total = o.total;
    sport = o.sport;
    dport = o.dport;
    icmpType = o.icmpType;
    icmpCode = o.icmpCode;
    tcpFlags = o.tcpFlags;
    nonFirstFragment = o.nonFirstFragment;
    srcHi = o.srcHi;
    srcLo = o.srcLo;
    dstHi = o.dstHi;
    dstLo = o.dstLo;
    state = o.state;
    buf = o.buf;
    off = o.off;
    len = o.len;
    now = o.now;
    clock = o.clock;
  }

  @Override
  public Direction direction() {
    return dir;
  }

  @Override
  public String peerName() {
    return peerName;
  }

  @Override
  public int ipVersion() {
    return version;
  }

  @Override
  public int protocol() {
    return proto;
  }

  @Override
  public int sourcePort() {
    return sport;
  }

  @Override
  public int destinationPort() {
    return dport;
  }

  @Override
  public int icmpType() {
    return icmpType;
  }

  @Override
  public int icmpCode() {
    return icmpCode;
  }

  @Override
  public ConnState state() {
    return STATES[state];
  }

  @Override
  public int sourceV4() {
    return (int) (srcHi >>> 32);
  }

  @Override
  public int destinationV4() {
    return (int) (dstHi >>> 32);
  }

  @Override
  public long sourceHi() {
    return srcHi;
  }

  @Override
  public long sourceLo() {
    return srcLo;
  }

  @Override
  public byte[] buffer() {
    return buf;
  }

  @Override
  public int offset() {
    return off;
  }

  @Override
  public int length() {
    return len;
  }

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public long wallClockNanos() {
    return clock.wallClockNanos();
  }
}
