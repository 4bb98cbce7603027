package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The sync datagrams byte for byte: a known answer pinned in hex, each kind against a reference
 * built the way the wire format was first written (ByteBuffer, little-endian, so a gateway on
 * this code and one on the previous release understand each other), round trips, and bad,
 * truncated and tampered input, which must never check OK.
 */
class SyncCodecTest {
  static final byte[] KEY = new byte[32];
  static final long EPOCH = 0x0102030405060708L;
  static final long WALL_MS = 1_700_000_000_123L;

  static {
    for (int i = 0; i < 32; i++) {
      KEY[i] = (byte) i;
    }
  }

  static byte[] health(TunnelHealth h, long seq) {
    byte[] b = new byte[SyncCodec.MAX_DATAGRAM];
    int at = SyncCodec.begin(b, SyncCodec.Kind.HEALTH, EPOCH, seq, WALL_MS);
    at = SyncCodec.putHealth(b, at, h);
    return Arrays.copyOf(b, SyncCodec.finish(b, 1, at, KEY));
  }

  @Test
  void aHealthReportIsTheseBytes() {
    byte[] d = health(new TunnelHealth(0x0a0b0c0d0e0f1011L, 250_000_000_000L, true), 9);
    String hex = HexFormat.of().formatHex(d);
    assertThat(hex.substring(0, 2 * (SyncCodec.HEADER + SyncCodec.HEALTH_RECORD))).isEqualTo(
        "44434831"                     // "DCH1"
        + "0807060504030201"           // epoch, little-endian
        + "0900000000000000"           // seq 9
        + "7b68e5cf8b010000"           // 1700000000123 ms
        + "0100"                       // one record
        + "11100f0e0d0c0b0a"           // newest handshake, wall ns
        + "004429353a000000"           // master for 250 s
        + "01");                       // failing
    assertThat(hex.substring(2 * (SyncCodec.HEADER + SyncCodec.HEALTH_RECORD)))
        .as("BLAKE2s-MAC-128 under 00 01 .. 1f").isEqualTo(MAC_OF_HEALTH);
    assertThat(d).hasSize(SyncCodec.HEADER + SyncCodec.HEALTH_RECORD + SyncCodec.MAC);
  }

  /** Computed independently: Python hashlib.blake2s(datagram, key=00..1f, digest_size=16). */
  static final String MAC_OF_HEALTH = "cd3353a066ee26aaeb0e159ee55df190";

  /** As the first StateSync wrote datagrams: a little-endian ByteBuffer, then the MAC. */
  static ByteBuffer reference(char letter, long seq, int count) {
    ByteBuffer b = ByteBuffer.allocate(SyncCodec.MAX_DATAGRAM).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'D', 'C', (byte) letter, '1'}).putLong(EPOCH).putLong(seq).putLong(WALL_MS)
        .putShort((short) count);
    return b;
  }

  static byte[] seal(ByteBuffer b) {
    int len = b.position();
    io.dctun.crypto.Blake2s.mac(KEY, b.array(), 0, len, b.array(), len);
    return Arrays.copyOf(b.array(), len + SyncCodec.MAC);
  }

  @Test
  void eachKindIsWhatTheFirstImplementationSent() {
    ByteBuffer r = reference('H', 3, 1);
    r.putLong(5).putLong(6).put((byte) 0);
    assertThat(health(new TunnelHealth(5, 6, false), 3)).isEqualTo(seal(r));

    byte[] b = new byte[SyncCodec.MAX_DATAGRAM];
    int at = SyncCodec.begin(b, SyncCodec.Kind.FLOWS, EPOCH, 4, WALL_MS);
    r = reference('S', 4, 2);
    for (int i = 0; i < 2; i++) {
      at = SyncCodec.putFlow(b, at, 1 + i, -2, Long.MAX_VALUE, Long.MIN_VALUE, 0x55aa, 0x80000001, 30_000_000_000L);
      r.putLong(1 + i).putLong(-2).putLong(Long.MAX_VALUE).putLong(Long.MIN_VALUE).putLong(0x55aa).putInt(0x80000001)
          .putLong(30_000_000_000L);
    }
    assertThat(Arrays.copyOf(b, SyncCodec.finish(b, 2, at, KEY))).isEqualTo(seal(r));

    byte[] key = new byte[32];
    Arrays.fill(key, (byte) 0x42);
    byte[] tai = new byte[12];
    Arrays.fill(tai, (byte) 0x17);
    at = SyncCodec.begin(b, SyncCodec.Kind.TIMESTAMPS, EPOCH, 5, WALL_MS);
    at = SyncCodec.putTimestamp(b, at, key, tai);
    r = reference('T', 5, 1);
    r.put(key).put(tai);
    assertThat(Arrays.copyOf(b, SyncCodec.finish(b, 1, at, KEY))).isEqualTo(seal(r));
  }

  @Test
  void flowsAndTimestampsRoundTrip() {
    byte[] b = new byte[SyncCodec.MAX_DATAGRAM];
    int at = SyncCodec.begin(b, SyncCodec.Kind.FLOWS, EPOCH, 7, WALL_MS);
    for (int i = 0; i < SyncCodec.FLOWS_PER_DATAGRAM; i++) {
      at = SyncCodec.putFlow(b, at, i, i * 3L, -i, 1L << i, 99, i, 1000L + i);
    }
    int len = SyncCodec.finish(b, SyncCodec.FLOWS_PER_DATAGRAM, at, KEY);
    assertThat(len).isLessThanOrEqualTo(SyncCodec.MAX_DATAGRAM);
    assertThat(SyncCodec.check(b, len, KEY)).isEqualTo(SyncCodec.Check.OK);
    assertThat(SyncCodec.kind(b)).isEqualTo(SyncCodec.Kind.FLOWS);
    assertThat(SyncCodec.epoch(b)).isEqualTo(EPOCH);
    assertThat(SyncCodec.seq(b)).isEqualTo(7);
    assertThat(SyncCodec.wallMillis(b)).isEqualTo(WALL_MS);
    List<long[]> got = new ArrayList<>();
    SyncCodec.readFlows(b, (k0, k1, k2, k3, m, st, rem) -> got.add(new long[] {k0, k1, k2, k3, m, st, rem}));
    assertThat(got).hasSize(SyncCodec.FLOWS_PER_DATAGRAM);
    for (int i = 0; i < got.size(); i++) {
      assertThat(got.get(i)).containsExactly(i, i * 3L, -i, 1L << i, 99, i, 1000L + i);
    }

    byte[] key = new byte[32];
    byte[] tai = new byte[12];
    at = SyncCodec.begin(b, SyncCodec.Kind.TIMESTAMPS, EPOCH, 8, WALL_MS);
    for (int i = 0; i < SyncCodec.TIMESTAMPS_PER_DATAGRAM; i++) {
      key[0] = (byte) i;
      tai[11] = (byte) i;
      at = SyncCodec.putTimestamp(b, at, key, tai);
    }
    len = SyncCodec.finish(b, SyncCodec.TIMESTAMPS_PER_DATAGRAM, at, KEY);
    assertThat(SyncCodec.check(b, len, KEY)).isEqualTo(SyncCodec.Check.OK);
    assertThat(SyncCodec.timestampKey(b, 5)[0]).isEqualTo((byte) 5);
    assertThat(SyncCodec.timestamp(b, 7)[11]).isEqualTo((byte) 7);
    assertThat(SyncCodec.count(b)).isEqualTo(SyncCodec.TIMESTAMPS_PER_DATAGRAM);
  }

  @Test
  void aHealthReportRoundTrips() {
    TunnelHealth h = new TunnelHealth(1_700_000_000_000_000_000L, 0, false);
    byte[] d = health(h, 1);
    assertThat(SyncCodec.check(d, d.length, KEY)).isEqualTo(SyncCodec.Check.OK);
    assertThat(SyncCodec.readHealth(d)).isEqualTo(h);
  }

  @Test
  void truncatedDatagramsAreMalformed() {
    byte[] d = health(new TunnelHealth(1, 2, true), 1);
    for (int len = 0; len < d.length; len++) {
      assertThat(SyncCodec.check(Arrays.copyOf(d, len), len, KEY)).as("first %d bytes", len)
          .isEqualTo(SyncCodec.Check.MALFORMED);
    }
    byte[] longer = Arrays.copyOf(d, d.length + 1);
    assertThat(SyncCodec.check(longer, longer.length, KEY)).as("a trailing byte").isEqualTo(SyncCodec.Check.MALFORMED);
  }

  @Test
  void wrongMagicCountOrValuesAreMalformedAndOnlyAfterTheMacForValues() {
    byte[] d = health(new TunnelHealth(1, 2, true), 1);
    for (int i : new int[] {0, 1, 2, 3}) {
      byte[] x = d.clone();
      x[i] = 'X';
      assertThat(SyncCodec.check(x, x.length, KEY)).as("magic byte %d", i).isEqualTo(SyncCodec.Check.MALFORMED);
    }
    ByteBuffer two = reference('H', 1, 2);
    two.putLong(5).putLong(6).put((byte) 0).putLong(5).putLong(6).put((byte) 0);
    byte[] t = seal(two);
    assertThat(SyncCodec.check(t, t.length, KEY)).as("a health report of two records").isEqualTo(SyncCodec.Check.MALFORMED);
    ByteBuffer flag = reference('H', 1, 1);
    flag.putLong(5).putLong(6).put((byte) 7);
    byte[] f = seal(flag);
    assertThat(SyncCodec.check(f, f.length, KEY)).as("failing flag 7").isEqualTo(SyncCodec.Check.MALFORMED);
    ByteBuffer negative = reference('H', 1, 1);
    negative.putLong(-5).putLong(6).put((byte) 0);
    byte[] n = seal(negative);
    assertThat(SyncCodec.check(n, n.length, KEY)).as("a negative time").isEqualTo(SyncCodec.Check.MALFORMED);
    byte[] other = new byte[32];
    assertThat(SyncCodec.check(f, f.length, other)).as("under another key, the values are not looked at")
        .isEqualTo(SyncCodec.Check.BAD_MAC);
    ByteBuffer flows = reference('S', 1, 1);
    flows.putLong(1);
    byte[] s = seal(flows);
    assertThat(SyncCodec.check(s, s.length, KEY)).as("count 1, 8 bytes of record").isEqualTo(SyncCodec.Check.MALFORMED);
  }

  @Test
  void noSingleBitFlipChecksOk() {
    byte[] d = health(new TunnelHealth(123, 456, false), 1);
    for (int bit = 0; bit < d.length * 8; bit++) {
      byte[] x = d.clone();
      x[bit / 8] ^= (byte) (1 << (bit % 8));
      assertThat(SyncCodec.check(x, x.length, KEY)).as("bit %d", bit).isNotEqualTo(SyncCodec.Check.OK);
    }
  }

  @Test
  void randomBytesNeverCheckOk() {
    Random rnd = new Random(42);
    byte[] b = new byte[SyncCodec.MAX_DATAGRAM];
    for (int i = 0; i < 5000; i++) {
      int len = rnd.nextInt(b.length + 1);
      rnd.nextBytes(b);
      if (i % 2 == 0 && len >= 4) {
        b[0] = 'D';
        b[1] = 'C';
        b[2] = (byte) "STH".charAt(i % 3);
        b[3] = '1';
      }
      assertThat(SyncCodec.check(b, len, KEY)).isNotEqualTo(SyncCodec.Check.OK);
    }
  }

  @Test
  void aTimestampRecordIsAKeyAndATai64n() {
    byte[] b = new byte[SyncCodec.MAX_DATAGRAM];
    assertThatThrownBy(() -> SyncCodec.putTimestamp(b, SyncCodec.HEADER, new byte[31], new byte[12]))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("31");
  }
}
