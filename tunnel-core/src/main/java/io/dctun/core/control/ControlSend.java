package io.dctun.core.control;

/** What became of a control message handed to {@code Device.sendControl}. */
public enum ControlSend {
  /** Sealed and handed to the transport. */
  SENT,
  /** No usable session yet: queued with the peer's data and a handshake started. */
  QUEUED,
  /** No peer has that key. */
  UNKNOWN_PEER,
  /** The peer is not configured as a dctun peer: a stock WireGuard peer never gets control messages. */
  NOT_DCTUN,
  /** The peer has no endpoint to send to (it only dials in, and has not yet). */
  NO_ENDPOINT,
  /** Header plus payload would not fit in one inner packet of the device's MTU. */
  TOO_BIG,
  /** The peer's send threw; counted as the device's {@code PEER_FAILED} drop, and the caller's other sends go on. */
  FAILED
}
