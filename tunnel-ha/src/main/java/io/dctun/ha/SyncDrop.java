package io.dctun.ha;

/**
 * Why the state sync did not apply something it received. {@link SyncSession#drops} counts each;
 * tests assert the reason, not just "refused". The first four are whole datagrams, the last three
 * single records (or a datagram this side has nowhere to apply).
 */
public enum SyncDrop {
  /** Not ours, truncated, a length that does not match the count, or an impossible value. */
  MALFORMED,
  /** The MAC does not verify under the pair's key: another key, or tampered with. */
  BAD_MAC,
  /** A sequence number not above the last one of the sender's epoch: a replay or a reordering. */
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
