package io.dctun.ha;

/**
 * Why the state sync did not apply something it received. {@link SyncSession#drops} counts each;
 * tests assert the reason, not just "refused". All but FLOW_REFUSED, UNKNOWN_PEER and NOT_KEPT are
 * whole datagrams refused before anything in them is applied; OVERSIZED, MALFORMED, REFLECTED,
 * REPLAYED and CLOCK_SKEW are refused before the MAC is even computed.
 */
public enum SyncDrop {
  /** Longer than {@link SyncCodec#MAX_DATAGRAM}: no twin sends one. */
  OVERSIZED,
  /** This box's own datagram sent back to it (its own epoch): applying it would undo its own state. */
  REFLECTED,
  /** Not ours, truncated, a length that does not match the count, or an impossible value. */
  MALFORMED,
  /** The MAC does not verify under the pair's key: another key, or tampered with. */
  BAD_MAC,
  /**
   * A sequence number not above the last one of the sender's epoch (a replay or a reordering),
   * an epoch the sender has already left (a capture from before a restart), or a new epoch whose
   * clock is behind the last datagram taken.
   */
  REPLAYED,
  /** A wall-clock time more than {@link SyncSession#MAX_CLOCK_SKEW_MS} from ours: an old capture, or a broken clock. */
  CLOCK_SKEW,
  /** A flow the local table refused (full, or the flow already expired). */
  FLOW_REFUSED,
  /** A handshake timestamp for a peer this box does not have (the twins' peer lists differ). */
  UNKNOWN_PEER,
  /** A datagram of a kind this side does not keep (flows without a firewall, timestamps without a device). */
  NOT_KEPT
}
