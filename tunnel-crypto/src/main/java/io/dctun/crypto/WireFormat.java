package io.dctun.crypto;

/**
 * Byte layout of the four WireGuard messages (whitepaper section 5.4, wireguard-go
 * {@code device/noise-protocol.go}). All integers are little-endian. The first four bytes are
 * the type (one byte) and three reserved zero bytes, read together as one uint32.
 *
 * <pre>
 * initiation (148):  type=1 | sender(4) | ephemeral(32) | static(32+16) | timestamp(12+16) | mac1(16) | mac2(16)
 *                    0        4          8               40              88                 116        132
 * response (92):     type=2 | sender(4) | receiver(4) | ephemeral(32) | empty(0+16) | mac1(16) | mac2(16)
 *                    0        4          8             12              44            60         76
 * cookie reply (64): type=3 | receiver(4) | nonce(24) | cookie(16+16)
 *                    0        4             8           32
 * transport (16+n):  type=4 | receiver(4) | counter(8) | sealed packet (n = padded length + 16)
 *                    0        4             8            16
 * </pre>
 */
public final class WireFormat {
  private WireFormat() {}

  public static final int TYPE_INITIATION = 1;
  public static final int TYPE_RESPONSE = 2;
  public static final int TYPE_COOKIE_REPLY = 3;
  public static final int TYPE_TRANSPORT = 4;

  public static final int INITIATION_LENGTH = 148;
  public static final int INIT_SENDER = 4;
  public static final int INIT_EPHEMERAL = 8;
  public static final int INIT_STATIC = 40;
  public static final int INIT_TIMESTAMP = 88;
  public static final int INIT_MAC1 = 116;
  public static final int INIT_MAC2 = 132;

  public static final int RESPONSE_LENGTH = 92;
  public static final int RESP_SENDER = 4;
  public static final int RESP_RECEIVER = 8;
  public static final int RESP_EPHEMERAL = 12;
  public static final int RESP_EMPTY = 44;
  public static final int RESP_MAC1 = 60;
  public static final int RESP_MAC2 = 76;

  public static final int COOKIE_REPLY_LENGTH = 64;
  public static final int COOKIE_RECEIVER = 4;
  public static final int COOKIE_NONCE = 8;
  public static final int COOKIE_SEALED = 32;

  public static final int TRANSPORT_HEADER_LENGTH = 16;
  public static final int TRANSPORT_RECEIVER = 4;
  public static final int TRANSPORT_COUNTER = 8;
  /** Smallest transport message: the header and an empty (keepalive) payload's tag. */
  public static final int TRANSPORT_MIN_LENGTH = TRANSPORT_HEADER_LENGTH + 16;

  public static int getIntLE(byte[] b, int off) {
    return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
  }

  public static void putIntLE(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
    b[off + 2] = (byte) (v >>> 16);
    b[off + 3] = (byte) (v >>> 24);
  }

  public static long getLongLE(byte[] b, int off) {
    return (getIntLE(b, off) & 0xffffffffL) | ((long) getIntLE(b, off + 4) << 32);
  }

  public static void putLongLE(byte[] b, int off, long v) {
    putIntLE(b, off, (int) v);
    putIntLE(b, off + 4, (int) (v >>> 32));
  }
}
