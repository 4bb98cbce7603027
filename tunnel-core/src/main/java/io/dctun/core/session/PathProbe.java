package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.TRANSPORT_HEADER_LENGTH;

import io.dctun.core.control.ControlFrame;

/**
 * The probe that checks one of a dctun peer's endpoints ({@link EndpointSet}): an empty control
 * frame of type {@link #PROBE} sent, sealed under the current session, to that endpoint, and an
 * empty {@link #ANSWER} the peer sends back to the address the probe came from.
 *
 * <p>Why a control message and not a bare keepalive: a keepalive is not answered, so it would
 * prove the path one way only, and the receiver would take its source as our new endpoint
 * (roaming) although we never meant to move there. A probe is answered and moves nobody: neither
 * side changes its endpoint on a probe or an answer, so probing a standby path never steals the
 * traffic of the current one. A stock WireGuard peer never gets one (it has no control channel).
 *
 * <pre>
 *   A                                       B (any dctun peer, with or without a list)
 *   PROBE  --- sealed, to endpoint i  --->  authenticated: not roaming, answer to the source
 *   A: heard(i)  <--- ANSWER, sealed  ---
 * </pre>
 *
 * Pure functions over byte arrays.
 */
final class PathProbe {
  /** Control types 0x10 and 0x11 are dctun's own (below {@link ControlFrame#FIRST_USER_TYPE}). */
  static final int PROBE = 0x10;
  static final int ANSWER = 0x11;
  static final int NONE = -1;

  private PathProbe() {}

  /** {@link #PROBE}, {@link #ANSWER} or {@link #NONE} for the opened plaintext {@code buf[off..off+len)}. */
  static int kind(byte[] buf, int off, int len) {
    if (!ControlFrame.isControl(buf, off, len) || ControlFrame.payloadLength(buf, off, len) == ControlFrame.MALFORMED) {
      return NONE;
    }
    int t = ControlFrame.type(buf, off);
    return t == PROBE || t == ANSWER ? t : NONE;
  }

  /** A buffer with headroom holding a frame of {@code type} at {@link #FRAME_OFFSET}; its length is {@link #FRAME_LENGTH}. */
  static byte[] frame(int type) {
    byte[] buf = new byte[TRANSPORT_HEADER_LENGTH + 16 + 16];
    ControlFrame.writeHeader(buf, FRAME_OFFSET, type, 0);
    return buf;
  }

  static final int FRAME_OFFSET = TRANSPORT_HEADER_LENGTH;
  static final int FRAME_LENGTH = ControlFrame.HEADER_LENGTH;
}
