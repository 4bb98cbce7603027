package io.dctun.firewall.spi;

import io.dctun.firewall.Direction;
import io.dctun.firewall.ConnState;

/**
 * What a {@link PacketMatcher} may read about the packet being classified. The firewall reuses
 * one instance per thread: read it during {@code matches} and never keep it. Accessors do not
 * allocate.
 */
public interface PacketView {
  Direction direction();

  /** Name of the peer the packet comes from or goes to, or null for a peer the rules do not know. */
  String peerName();

  /** 4 or 6. */
  int ipVersion();

  /** IP protocol number after IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  int protocol();

  /** TCP/UDP ports, or -1 (other protocols, non-first fragments). */
  int sourcePort();

  int destinationPort();

  /** ICMP or ICMPv6 type and code, or -1. */
  int icmpType();

  int icmpCode();

  ConnState state();

  /** IPv4 source address as a big-endian int (only meaningful when {@code ipVersion() == 4}). */
  int sourceV4();

  int destinationV4();

  /** IPv6 source address, high and low 64 bits (IPv4: the address in the top 32 bits of hi). */
  long sourceHi();

  long sourceLo();

  /** The whole packet: {@code buffer()[offset() .. offset()+length())}. Do not modify. */
  byte[] buffer();

  int offset();

  int length();

  /** The monotonic time the caller passed in, in nanoseconds. */
  long nanoTime();

  /** Wall-clock nanoseconds since the epoch, from the firewall's clock (for time windows). */
  long wallClockNanos();
}
