package io.dctun.core.session;

/** Why a packet was dropped. Every drop has one, and a counter per reason. */
public enum DropReason {
  /** A UDP datagram too short to carry a message type, or a type we do not know. */
  UNKNOWN_MESSAGE_TYPE,
  /** A known message type with the wrong length for it. */
  BAD_MESSAGE_LENGTH,
  /** A handshake message whose mac1 is wrong (not meant for us, or forged). */
  BAD_MAC1,
  /** Under load, a handshake message without a valid cookie (mac2); a cookie reply was sent. */
  COOKIE_REQUIRED,
  /**
   * Under load, a handshake message with a valid cookie from a source address (IPv4, or IPv6 /64)
   * that sent more than its share: 20 a second, 5 at once, or one per 5 s once an initiation
   * from it decrypted to no peer of ours ({@link HandshakeRateLimiter}).
   */
  HANDSHAKE_RATE_LIMITED,
  /** An initiation that does not decrypt, or from a static key we have no peer for. */
  UNKNOWN_PEER,
  /** An initiation whose timestamp is not newer than the last one from that peer. */
  REPLAYED_TIMESTAMP,
  /** An initiation arriving faster than one per 20 ms from one peer. */
  INITIATION_FLOOD,
  /** A response or cookie reply that matches no handshake we have in flight, or fails to decrypt. */
  UNEXPECTED_HANDSHAKE,
  /** A transport message for a receiver index we do not know (old session or spoofed). */
  UNKNOWN_RECEIVER_INDEX,
  /** A transport message whose authentication tag does not verify. */
  DECRYPT_FAILED,
  /** A transport counter already seen, or too old for the replay window. */
  REPLAYED_COUNTER,
  /** A transport message on a keypair past its reject-after time or message limit. */
  KEYPAIR_EXPIRED,
  /** A decrypted packet that is not a well-formed IPv4 or IPv6 packet. */
  INVALID_INNER_PACKET,
  /** A decrypted packet whose source address is not in the sending peer's allowed IPs. */
  SOURCE_NOT_ALLOWED,
  /** An outbound packet whose destination matches no peer's allowed IPs. */
  NO_ROUTE,
  /** An outbound packet for a peer without a known endpoint (it has not dialled in yet). */
  NO_ENDPOINT,
  /** An outbound packet queued for a handshake that had no room left, or that gave up. */
  QUEUE_OVERFLOW,
  /** An outbound packet larger than the MTU. */
  TOO_BIG,
  /** Refused by the packet filter. */
  FILTERED,
  /** A control message from a peer not configured as dctun (it is no IP packet either). */
  CONTROL_UNEXPECTED,
  /** A control message with a bad version, or a length past the end of the plaintext. */
  CONTROL_MALFORMED,
  /** A control message of a type no handler is registered for. */
  CONTROL_UNHANDLED,
  /** A control message whose handler threw. */
  CONTROL_HANDLER_FAILED,
  /** A packet from one dctun gateway for another: between gateways a packet is forwarded at most once. */
  FORWARD_LOOP,
  /** A packet to forward whose TTL or hop limit ran out. */
  TTL_EXCEEDED,
  /**
   * One peer's work threw (a bug, or a state no check foresaw): that packet or that peer's timer
   * step is dropped, and every other peer's packets and timers go on as before.
   */
  PEER_FAILED;

  private static final DropReason[] VALUES = values();

  public static DropReason of(int ordinal) {
    return VALUES[ordinal];
  }
}
