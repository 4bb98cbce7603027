package io.dctun.core.transport;

/**
 * WireGuard messages on a byte stream (TCP, TLS): each message is preceded by its length as two
 * bytes, big-endian, as in RFC 1035's DNS over TCP. The messages and keys are WireGuard's,
 * unchanged; the prefix only delimits them. A length of 0 or above {@link #MAX_MESSAGE} cannot be
 * a WireGuard message and ends the stream (the peer is not speaking this framing).
 *
 * <p>The decoder is sans-I/O: feed it whatever bytes a read returned, in any split; it hands
 * out each whole message once, from its own buffer, without allocating.
 *
 * <p>Thread-safety: one decoder per connection, confined to the thread that reads it.
 */
public final class StreamFraming {
  /** The largest message: a 64 KiB super-packet plus WireGuard's 32 bytes of header and tag. */
  public static final int MAX_MESSAGE = 65_535;
  /** Bytes of length prefix before each message. */
  public static final int PREFIX = 2;

  /** Where whole messages go. */
  @FunctionalInterface
  public interface Sink {
    /** {@code buf[off..off+len)} is one message; valid only during the call. */
    void message(byte[] buf, int off, int len);
  }

  /** The stream is not this framing: a zero or oversized length. */
  public static final class FramingException extends Exception {
    FramingException(String message) {
      super(message, null, false, false);
    }
  }

  private final byte[] buf = new byte[PREFIX + MAX_MESSAGE];
  private int have;

  /**
   * Consumes {@code in[off..off+len)}, calling {@code sink} for every message it completes.
   *
   * @throws FramingException on a length of 0 (the stream must then be closed)
   */
  public void feed(byte[] in, int off, int len, Sink sink) throws FramingException {
    int end = off + len;
    while (off < end) {
      if (have < PREFIX) {
        int take = Math.min(PREFIX - have, end - off);
        System.arraycopy(in, off, buf, have, take);
        have += take;
        off += take;
        if (have < PREFIX) {
          return;
        }
        if (expected() == 0) {
          throw new FramingException("a zero-length frame: not a WireGuard message stream");
        }
      }
      int need = PREFIX + expected() - have;
      // A whole message sitting in the input: hand it out in place, no copy.
      if (have == PREFIX && end - off >= need) {
        sink.message(in, off, need);
        off += need;
        have = 0;
        continue;
      }
      int take = Math.min(need, end - off);
      System.arraycopy(in, off, buf, have, take);
      have += take;
      off += take;
      if (have == PREFIX + expected()) {
        sink.message(buf, PREFIX, expected());
        have = 0;
      }
    }
  }

  private int expected() {
    return (buf[0] & 0xff) << 8 | buf[1] & 0xff;
  }

  /** Bytes of an incomplete message held (for tests and status). */
  public int buffered() {
    return have;
  }

  /**
   * Writes the prefix for a {@code len}-byte message at {@code out[off]}.
   *
   * @throws IllegalArgumentException if {@code len} is 0 or above {@link #MAX_MESSAGE}
   */
  public static void writePrefix(byte[] out, int off, int len) {
    if (len <= 0 || len > MAX_MESSAGE) {
      throw new IllegalArgumentException("a framed message is 1.." + MAX_MESSAGE + " bytes, got " + len);
    }
    out[off] = (byte) (len >>> 8);
    out[off + 1] = (byte) len;
  }
}
