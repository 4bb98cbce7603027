package io.dctun.ha;

/**
 * Why a received packet was not taken as an advert for this router. Each has a counter
 * ({@link VrrpCounters#drops(DropReason)}); tests assert the reason, not just "dropped".
 * {@link #NONE} is the codec's "accepted" status.
 */
public enum DropReason {
  /** Not dropped: the packet is a well-formed VRRPv3 advert. */
  NONE,
  /**
   * Shorter than an IP header, or the IP header (version, IHL, total or payload length) is
   * inconsistent.
   */
  BAD_IP_HEADER,
  /** IP protocol (IPv6: next header) is not 112. */
  NOT_VRRP,
  /** IP TTL (IPv6: hop limit) is not 255: the packet may have crossed a router (RFC 5798 7.1). */
  TTL_NOT_255,
  /** VRRP version is not 3 (a VRRPv2 router on the segment, for instance). */
  WRONG_VERSION,
  /** VRRP type is not 1 (ADVERTISEMENT). */
  WRONG_TYPE,
  /** The VRRP length does not match the address count, or is too short. */
  BAD_LENGTH,
  /** The address count is zero. */
  BAD_ADDRESS_COUNT,
  /** The checksum over the pseudo-header and the VRRP message does not verify. */
  BAD_CHECKSUM,
  /** Max advert interval is zero. */
  BAD_INTERVAL,
  /** A valid advert over the other IP version than this instance's (IPv4 vs IPv6). */
  WRONG_FAMILY,
  /** A valid advert, but for another virtual router on the segment: ignored. */
  WRONG_VRID,
  /** Our own advert looped back. */
  OWN_ADVERT,
  /** Unicast mode: the sender is not one of the configured peers. */
  UNKNOWN_PEER,
  /** The router is in INITIALIZE or FAULT and takes no part in elections. */
  NOT_RUNNING
}
