package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.firewall.Firewall;

/**
 * Fuzz target for the state-sync receiver, as the twin (or anyone on the private segment) reaches
 * it: a sequence of datagrams, each either raw bytes or sealed with the pair's key (so the fuzzer
 * also reaches what lies behind the MAC: flow records of any value into the firewall, health
 * reports). Nothing throws, every refusal is counted, every flow record of an accepted datagram is
 * either installed or counted as refused, and the firewall's table never passes its bound.
 */
class SyncSessionFuzzTest {
  private static final long MS = 1_000_000L;
  private static final long WALL_MS = 1_800_000_000_000L;
  private static final long OWN_EPOCH = 1;

  private static Firewall firewall;

  /** One firewall for every input (its table is large to build); flows from earlier inputs stay. */
  private static synchronized Firewall firewall() throws Exception {
    if (firewall == null) {
      firewall = StateSyncTest.firewall();
    }
    return firewall;
  }

  @FuzzTest(maxDuration = "5s")
  void everyDatagramIsCountedAndNothingThrows(FuzzedDataProvider in) throws Exception {
    Firewall fw = firewall();
    SyncSession s = new SyncSession(SyncSessionTest.KEY, OWN_EPOCH, fw, null, 100_000);
    long now = 10_000 * MS;
    int datagrams = in.consumeInt(1, 8);
    for (int i = 0; i < datagrams && in.remainingBytes() > 0; i++) {
      now += in.consumeLong(0, 2_000) * MS;
      long wall = WALL_MS + now / MS;
      byte[] d;
      int len;
      if (in.consumeBoolean()) {
        d = in.consumeBytes(in.consumeInt(0, SyncCodec.MAX_DATAGRAM + 40));
        len = d.length;
      } else {
        d = new byte[SyncCodec.MAX_DATAGRAM + 64];
        SyncCodec.Kind kind = SyncCodec.Kind.values()[in.consumeInt(0, 2)];
        long epoch = in.consumeLong(0, 3); // 1 is our own: reflected
        long seq = in.consumeLong(-1, 6);
        long sentWall = wall + in.consumeLong(-40_000, 40_000);
        int at = SyncCodec.begin(d, kind, epoch, seq, sentWall);
        int count = kind == SyncCodec.Kind.HEALTH ? 1 : in.consumeInt(0, 3);
        byte[] records = in.consumeBytes(count * kindRecord(kind));
        System.arraycopy(records, 0, d, at, records.length);
        at += records.length;
        len = SyncCodec.finish(d, in.consumeBoolean() ? count : in.consumeInt(0, 0xFFFF), at, SyncSessionTest.KEY);
      }
      long dropsBefore = drops(s);
      long flowsBefore = s.flowsReceived() + s.drops(SyncDrop.FLOW_REFUSED);
      boolean taken = s.receive(d, len, now, wall);
      if (!taken) {
        assertThat(drops(s)).as("a refused datagram is counted").isGreaterThan(dropsBefore);
      } else if (SyncCodec.kind(d) == SyncCodec.Kind.FLOWS) {
        assertThat(s.flowsReceived() + s.drops(SyncDrop.FLOW_REFUSED) - flowsBefore)
            .as("every flow record is installed or counted").isEqualTo(SyncCodec.count(d));
      }
      assertThat(fw.flowCount()).isBetween(0, fw.maxFlows());
    }
  }

  private static int kindRecord(SyncCodec.Kind k) {
    return switch (k) {
      case FLOWS -> SyncCodec.FLOW_RECORD;
      case TIMESTAMPS -> SyncCodec.TIMESTAMP_RECORD;
      case HEALTH -> SyncCodec.HEALTH_RECORD;
    };
  }

  private static long drops(SyncSession s) {
    long n = 0;
    for (SyncDrop r : SyncDrop.values()) {
      n += s.drops(r);
    }
    return n;
  }
}
