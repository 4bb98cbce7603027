package io.dctun.ha;

import io.dctun.crypto.Blake2s;
import io.dctun.crypto.ConstantTime;
import io.dctun.firewall.FlowSink;

/**
 * The state sync's datagrams, encoded and checked; no socket, no clock, no state. Three kinds
 * share one header and one MAC (all integers little-endian):
 *
 * <pre>
 *  header:      magic(4) | epoch(8) | seq(8) | wall-clock ms(8) | count(2) | count x record | mac(16)
 *               0          4          12       20                 28         30
 *  "DCS1" flow:      k0 k1 k2 k3 meta (5 x 8) | state(4) | remaining ns(8)          record 52 bytes
 *  "DCT1" timestamp: peer public key(32) | TAI64N of the last initiation sent(12)    record 44 bytes
 *  "DCH1" health:    newest handshake, wall ns(8) | master for ns(8) | failing 0/1(1) record 17, count 1
 *  mac:         BLAKE2s-MAC(key, every byte before it), 16 bytes
 * </pre>
 *
 * A sender writes a header ({@link #begin}), records ({@link #putFlow}, {@link #putTimestamp},
 * {@link #putHealth}) and closes with {@link #finish}, which writes the count and the MAC. A
 * receiver calls {@link #structure} (size and shape, free) and then {@link #authenticate} (MAC,
 * then values) before trusting any field; {@link #check} is both.
 * The layout is what two gateways of a pair speak to each other: a change is a new magic.
 *
 * <p>Thread-safety: stateless; buffers belong to the caller.
 */
public final class SyncCodec {
  public static final int HEADER = 30;
  public static final int MAC = 16;
  public static final int FLOW_RECORD = 52;
  public static final int TIMESTAMP_RECORD = 32 + 12;
  public static final int HEALTH_RECORD = 17;
  /** Fits one Ethernet frame with IPv6 and UDP headers. */
  public static final int MAX_DATAGRAM = 1400;
  public static final int FLOWS_PER_DATAGRAM = (MAX_DATAGRAM - HEADER - MAC) / FLOW_RECORD;
  public static final int TIMESTAMPS_PER_DATAGRAM = (MAX_DATAGRAM - HEADER - MAC) / TIMESTAMP_RECORD;
  static final int EPOCH = 4;
  static final int SEQ = 12;
  static final int WALL = 20;
  static final int COUNT = 28;

  /** The three messages, by the third byte of their magic. */
  public enum Kind {
    FLOWS('S', FLOW_RECORD), TIMESTAMPS('T', TIMESTAMP_RECORD), HEALTH('H', HEALTH_RECORD);

    final byte letter;
    final int record;

    Kind(char letter, int record) {
      this.letter = (byte) letter;
      this.record = record;
    }

    static Kind of(byte letter) {
      for (Kind k : values()) {
        if (k.letter == letter) {
          return k;
        }
      }
      return null;
    }
  }

  private SyncCodec() {}

  // ------------------------------------------------------------------ encoding

  /** Writes the header with a count of 0; returns where the first record goes ({@link #HEADER}). */
  public static int begin(byte[] buf, Kind kind, long epoch, long seq, long wallMillis) {
    buf[0] = 'D';
    buf[1] = 'C';
    buf[2] = kind.letter;
    buf[3] = '1';
    putLong(buf, EPOCH, epoch);
    putLong(buf, SEQ, seq);
    putLong(buf, WALL, wallMillis);
    putShort(buf, COUNT, 0);
    return HEADER;
  }

  /** One flow record at {@code at} (a {@link FlowSink}'s arguments); returns the end. */
  public static int putFlow(byte[] buf, int at, long k0, long k1, long k2, long k3, long meta, int state,
      long remainingNanos) {
    putLong(buf, at, k0);
    putLong(buf, at + 8, k1);
    putLong(buf, at + 16, k2);
    putLong(buf, at + 24, k3);
    putLong(buf, at + 32, meta);
    putInt(buf, at + 40, state);
    putLong(buf, at + 44, remainingNanos);
    return at + FLOW_RECORD;
  }

  /** One timestamp record: a peer's 32-byte public key and a 12-byte TAI64N. */
  public static int putTimestamp(byte[] buf, int at, byte[] publicKey, byte[] tai64n) {
    if (publicKey.length != 32 || tai64n.length != 12) {
      throw new IllegalArgumentException("a timestamp record is a 32-byte key and a 12-byte TAI64N, got "
          + publicKey.length + " and " + tai64n.length);
    }
    System.arraycopy(publicKey, 0, buf, at, 32);
    System.arraycopy(tai64n, 0, buf, at + 32, 12);
    return at + TIMESTAMP_RECORD;
  }

  /** The health record. */
  public static int putHealth(byte[] buf, int at, TunnelHealth h) {
    putLong(buf, at, h.newestHandshakeWallNanos());
    putLong(buf, at + 8, h.masterForNanos());
    buf[at + 16] = (byte) (h.failing() ? 1 : 0);
    return at + HEALTH_RECORD;
  }

  /** Writes {@code count} into the header and the MAC after {@code end}; returns the datagram's length. */
  public static int finish(byte[] buf, int count, int end, byte[] key) {
    putShort(buf, COUNT, count);
    Blake2s.mac(key, buf, 0, end, buf, end);
    return end + MAC;
  }

  // ------------------------------------------------------------------ decoding

  /** What {@link #check} found. */
  public enum Check { OK, MALFORMED, BAD_MAC, OVERSIZED }

  /**
   * Whether {@code d[0..len)} is a datagram of ours: {@link #structure}, then {@link
   * #authenticate}.
   */
  public static Check check(byte[] d, int len, byte[] key) {
    Check c = structure(d, len);
    return c != Check.OK ? c : authenticate(d, len, key);
  }

  /**
   * The checks that cost nothing, made before any other work: longer than {@link #MAX_DATAGRAM}
   * (OVERSIZED: no sender of ours writes one, and a MAC over 64 KiB is work an attacker should
   * not get for free), then magic, a length that matches the count and a health report of
   * exactly one record (MALFORMED). After OK the header fields may be read, not yet trusted.
   */
  public static Check structure(byte[] d, int len) {
    if (len > MAX_DATAGRAM) {
      return Check.OVERSIZED;
    }
    if (len < HEADER + MAC || len > d.length || d[0] != 'D' || d[1] != 'C' || d[3] != '1') {
      return Check.MALFORMED;
    }
    Kind kind = Kind.of(d[2]);
    if (kind == null) {
      return Check.MALFORMED;
    }
    int count = count(d);
    if ((kind == Kind.HEALTH && count != 1) || len != HEADER + count * kind.record + MAC) {
      return Check.MALFORMED;
    }
    return Check.OK;
  }

  /**
   * For a datagram whose {@link #structure} is OK: the MAC (BAD_MAC), then the health report's
   * values (MALFORMED: a negative time, a flag that is not 0 or 1).
   */
  public static Check authenticate(byte[] d, int len, byte[] key) {
    byte[] expect = Blake2s.mac(key, d, 0, len - MAC);
    if (!ConstantTime.equals(expect, 0, d, len - MAC, MAC)) {
      return Check.BAD_MAC;
    }
    if (kind(d) == Kind.HEALTH
        && (getLong(d, HEADER) < 0 || getLong(d, HEADER + 8) < 0 || (d[HEADER + 16] & ~1) != 0)) {
      return Check.MALFORMED;
    }
    return Check.OK;
  }

  /** The kind of a {@linkplain #check checked} datagram. */
  public static Kind kind(byte[] d) {
    return Kind.of(d[2]);
  }

  public static long epoch(byte[] d) {
    return getLong(d, EPOCH);
  }

  public static long seq(byte[] d) {
    return getLong(d, SEQ);
  }

  public static long wallMillis(byte[] d) {
    return getLong(d, WALL);
  }

  public static int count(byte[] d) {
    return (d[COUNT] & 0xff) | (d[COUNT + 1] & 0xff) << 8;
  }

  /** Hands every flow record of a checked FLOWS datagram to {@code sink}, in order. */
  public static void readFlows(byte[] d, FlowSink sink) {
    int n = count(d);
    for (int i = 0, at = HEADER; i < n; i++, at += FLOW_RECORD) {
      sink.flow(getLong(d, at), getLong(d, at + 8), getLong(d, at + 16), getLong(d, at + 24), getLong(d, at + 32),
          getInt(d, at + 40), getLong(d, at + 44));
    }
  }

  /** The peer key of record {@code i} of a checked TIMESTAMPS datagram (32 bytes, a copy). */
  public static byte[] timestampKey(byte[] d, int i) {
    int at = HEADER + i * TIMESTAMP_RECORD;
    return java.util.Arrays.copyOfRange(d, at, at + 32);
  }

  /** The TAI64N of record {@code i} of a checked TIMESTAMPS datagram (12 bytes, a copy). */
  public static byte[] timestamp(byte[] d, int i) {
    int at = HEADER + i * TIMESTAMP_RECORD + 32;
    return java.util.Arrays.copyOfRange(d, at, at + 12);
  }

  /** The report of a checked HEALTH datagram. */
  public static TunnelHealth readHealth(byte[] d) {
    return new TunnelHealth(getLong(d, HEADER), getLong(d, HEADER + 8), d[HEADER + 16] == 1);
  }

  // ------------------------------------------------------------------ little-endian

  static void putShort(byte[] b, int at, int v) {
    b[at] = (byte) v;
    b[at + 1] = (byte) (v >>> 8);
  }

  static void putInt(byte[] b, int at, int v) {
    for (int i = 0; i < 4; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  static void putLong(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  static int getInt(byte[] b, int at) {
    int v = 0;
    for (int i = 3; i >= 0; i--) {
      v = v << 8 | (b[at + i] & 0xff);
    }
    return v;
  }

  static long getLong(byte[] b, int at) {
    long v = 0;
    for (int i = 7; i >= 0; i--) {
      v = v << 8 | (b[at + i] & 0xff);
    }
    return v;
  }
}
