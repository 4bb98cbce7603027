package io.dctun.core.control;

/**
 * The frame of a dctun control message, carried as the plaintext of an ordinary WireGuard
 * transport message between two dctun peers: authenticated, encrypted, replay-protected and
 * counted exactly as data is, and never mistaken for data.
 *
 * <pre>
 *   0      1        2       4        6
 *   +------+--------+-------+--------+----------------+---------------+
 *   | 0x0D | ver 1  | type  | length | payload        | zero padding  |
 *   +------+--------+-------+--------+----------------+---------------+
 *            (u16 big-endian type and payload length)    (to 16 bytes, as any inner packet)
 * </pre>
 *
 * <p>Why 0x0D: an inner IP packet's first nibble is its version (4 or 6). A first nibble of 0 is
 * no IP packet at all, so a receiver tells control from data with one byte, and a stock
 * WireGuard peer that were sent one anyway would drop it as an invalid packet rather than route
 * it. dctun still never sends one to a peer not configured as dctun (see {@code
 * PeerConfig#dctun()}): this is a configured capability, not a probe.
 *
 * <p>Pure functions over byte arrays: no allocation, no state.
 */
public final class ControlFrame {
  public static final int MAGIC = 0x0D;
  public static final int VERSION = 1;
  public static final int HEADER_LENGTH = 6;
  /** Types 0..255 are dctun's own; embedders register theirs from {@link #FIRST_USER_TYPE}. */
  public static final int FIRST_USER_TYPE = 0x8000;

  /** Parse result: malformed (shorter than its header, wrong version, or a length past the end). */
  public static final int MALFORMED = -1;

  private ControlFrame() {}

  /** Whether decrypted plaintext starting at {@code buf[off]} is a control frame rather than an IP packet. */
  public static boolean isControl(byte[] buf, int off, int len) {
    return len > 0 && (buf[off] & 0xFF) == MAGIC;
  }

  /**
   * Checks the frame at {@code buf[off..off+len)} and returns its payload length, or {@link
   * #MALFORMED}. Bytes after the payload are padding and ignored.
   */
  public static int payloadLength(byte[] buf, int off, int len) {
    if (len < HEADER_LENGTH || (buf[off] & 0xFF) != MAGIC || (buf[off + 1] & 0xFF) != VERSION) {
      return MALFORMED;
    }
    int n = u16(buf, off + 4);
    return n <= len - HEADER_LENGTH ? n : MALFORMED;
  }

  public static int type(byte[] buf, int off) {
    return u16(buf, off + 2);
  }

  /** Writes a header for {@code type} and {@code payloadLength} at {@code buf[off]}; returns the frame length. */
  public static int writeHeader(byte[] buf, int off, int type, int payloadLength) {
    if (type < 0 || type > 0xFFFF) {
      throw new IllegalArgumentException("control type must be 0..65535, got " + type);
    }
    if (payloadLength < 0 || payloadLength > 0xFFFF) {
      throw new IllegalArgumentException("control payload must be 0..65535 bytes, got " + payloadLength);
    }
    buf[off] = (byte) MAGIC;
    buf[off + 1] = (byte) VERSION;
    buf[off + 2] = (byte) (type >>> 8);
    buf[off + 3] = (byte) type;
    buf[off + 4] = (byte) (payloadLength >>> 8);
    buf[off + 5] = (byte) payloadLength;
    return HEADER_LENGTH + payloadLength;
  }

  private static int u16(byte[] b, int at) {
    return (b[at] & 0xFF) << 8 | (b[at + 1] & 0xFF);
  }
}
