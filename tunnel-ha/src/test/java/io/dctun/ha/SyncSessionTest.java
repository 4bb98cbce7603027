package io.dctun.ha;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Packets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two sync sessions joined by a list of datagrams, on a clock the test moves: what the master
 * sends when, what the backup applies, and the counter each refusal lands in. No socket, no
 * thread.
 */
class SyncSessionTest {
  static final long MS = 1_000_000L;
  static final long WALL_MS = 1_800_000_000_000L;
  static final byte[] KEY = PrivateKey.generate().deriveSecret("dctun ha state sync v1");

  long now = 10_000 * MS;
  final List<byte[]> wire = new ArrayList<>();
  final SyncSession.Sender toWire = (buf, off, len) -> wire.add(Arrays.copyOfRange(buf, off, off + len));

  void poll(SyncSession s) {
    s.poll(now, WALL_MS + now / MS, toWire);
  }

  /** Delivers everything on the wire to {@code to}; returns how many it took as authentic and fresh. */
  int deliver(SyncSession to) {
    int ok = 0;
    for (byte[] d : wire) {
      if (to.receive(d, d.length, now, WALL_MS + now / MS)) {
        ok++;
      }
    }
    wire.clear();
    return ok;
  }

  static int establish(Firewall fw, int clientPort, long now) {
    int r = StateSyncTest.in(fw, Packets.tcp("198.18.10.10", clientPort, "198.18.20.10", 5432, IpPacket.TCP_SYN), now);
    r |= StateSyncTest.out(fw, Packets.tcp("198.18.20.10", 5432, "198.18.10.10", clientPort,
        IpPacket.TCP_SYN | IpPacket.TCP_ACK), now);
    r |= StateSyncTest.in(fw, Packets.tcp("198.18.10.10", clientPort, "198.18.20.10", 5432, IpPacket.TCP_ACK), now);
    return r;
  }

  @Test
  void nothingGoesOutUntilSendingThenTheHealthReportAtOnceAndOnceASecond() {
    SyncSession m = new SyncSession(KEY, 1, null, null, 100_000);
    m.setHealthSource(() -> new TunnelHealth(7, 8, false));
    poll(m);
    assertThat(wire).isEmpty();
    m.setSending(true);
    poll(m);
    assertThat(wire).hasSize(1);
    now += 999 * MS;
    poll(m);
    assertThat(wire).hasSize(1);
    now += MS;
    poll(m);
    assertThat(wire).hasSize(2);
    assertThat(m.healthSent()).isEqualTo(2);

    SyncSession b = new SyncSession(KEY, 2, null, null, 100_000);
    assertThat(deliver(b)).isEqualTo(2);
    assertThat(b.twinHealth()).isEqualTo(new SyncSession.TwinReport(new TunnelHealth(7, 8, false), now));
  }

  @Test
  void flowsGoOutWithinTheBudgetAndTheBackupPassesThemAfterTakingOver() throws Exception {
    Firewall master = StateSyncTest.firewall();
    Firewall backup = StateSyncTest.firewall();
    for (int i = 0; i < 20; i++) {
      assertThat(establish(master, 40000 + i, now)).isEqualTo(ACCEPT);
    }
    // 10 000 bytes/s: 500 bytes per 50 ms tick, 8 flows of 52 bytes after header and MAC.
    SyncSession m = new SyncSession(KEY, 1, master, null, 10_000);
    SyncSession b = new SyncSession(KEY, 2, backup, null, 10_000);
    m.setSending(true);
    poll(m);
    assertThat(m.flowsSent()).isEqualTo(8);
    poll(m);
    assertThat(m.flowsSent()).as("no time passed: no budget").isEqualTo(8);
    now += 25 * MS;
    poll(m);
    assertThat(m.flowsSent()).as("half a tick: 250 bytes, 4 flows").isEqualTo(12);
    now += 10_000 * MS;
    poll(m);
    assertThat(m.flowsSent()).as("a stall does not burst: one tick's worth at most").isEqualTo(20);
    deliver(b);
    assertThat(b.flowsReceived()).isEqualTo(20);
    for (int i = 0; i < 20; i++) {
      assertThat(StateSyncTest.in(backup, Packets.tcp("198.18.10.10", 40000 + i, "198.18.20.10", 5432,
          IpPacket.TCP_ACK), now)).as("flow %d mid-stream at the backup", i).isEqualTo(ACCEPT);
    }
    now += 50 * MS;
    poll(m);
    assertThat(m.flowsSent()).as("nothing changed since").isEqualTo(20);
    m.setSending(false);
    m.setSending(true);
    now += 50 * MS;
    poll(m);
    assertThat(m.flowsSent()).as("a new master resends everything").isEqualTo(28);
  }

  /**
   * The sync is one-way: a backup that starts after the master sent a flow never hears of it
   * from a change. The master resends its whole table every 30 s, so such a backup has every
   * established flow within that, and a quiet flow's copy is refreshed before it expires.
   */
  @Test
  void aBackupStartedLateGetsTheWholeTableWithinTheFullResendInterval() throws Exception {
    Firewall master = StateSyncTest.firewall();
    for (int i = 0; i < 5; i++) {
      assertThat(establish(master, 41000 + i, now)).isEqualTo(ACCEPT);
    }
    SyncSession m = new SyncSession(KEY, 1, master, null, 100_000);
    m.setSending(true);
    poll(m);
    assertThat(m.flowsSent()).isEqualTo(5);
    wire.clear(); // sent while no backup listened: lost
    Firewall late = StateSyncTest.firewall();
    SyncSession b = new SyncSession(KEY, 2, late, null, 100_000);
    for (long t = 0; t < SyncSession.FULL_RESEND_INTERVAL_NANOS - SyncSession.TICK_NANOS; t += SyncSession.TICK_NANOS) {
      now += SyncSession.TICK_NANOS;
      poll(m);
    }
    deliver(b);
    assertThat(b.flowsReceived()).as("nothing changed: nothing resent before the interval").isZero();
    assertThat(m.fullResends()).isZero();
    now += SyncSession.TICK_NANOS;
    poll(m);
    deliver(b);
    assertThat(m.fullResends()).isEqualTo(1);
    assertThat(b.flowsReceived()).as("the whole table, once the interval is up").isEqualTo(5);
    for (int i = 0; i < 5; i++) {
      assertThat(StateSyncTest.in(late, Packets.tcp("198.18.10.10", 41000 + i, "198.18.20.10", 5432,
          IpPacket.TCP_ACK), now)).as("flow %d mid-stream at the late backup", i).isEqualTo(ACCEPT);
    }
    m.setSending(false);
    now += 2 * SyncSession.FULL_RESEND_INTERVAL_NANOS;
    poll(m);
    assertThat(m.fullResends()).as("a backup sends nothing").isEqualTo(1);
  }

  @Test
  void everyRefusalIsCountedUnderItsReason() throws Exception {
    SyncSession b = new SyncSession(KEY, 2, StateSyncTest.firewall(), null, 100_000);
    SyncSession m = new SyncSession(KEY, 1, null, null, 100_000);
    m.setHealthSource(() -> new TunnelHealth(1, 1, false));
    m.setSending(true);
    poll(m);
    byte[] genuine = wire.get(0);
    assertThat(deliver(b)).isEqualTo(1);

    assertThat(b.receive(genuine, genuine.length, now, WALL_MS + now / MS)).as("the same again").isFalse();
    assertThat(b.drops(SyncDrop.REPLAYED)).isEqualTo(1);

    now += 1000 * MS;
    poll(m);
    byte[] next = wire.remove(0);
    assertThat(b.receive(next, next.length, now, WALL_MS + now / MS + SyncSession.MAX_CLOCK_SKEW_MS + 1))
        .as("our clock 30 s past the sender's").isFalse();
    assertThat(b.drops(SyncDrop.CLOCK_SKEW)).isEqualTo(1);

    byte[] forged = next.clone();
    forged[SyncCodec.HEADER] ^= 1;
    assertThat(b.receive(forged, forged.length, now, WALL_MS + now / MS)).isFalse();
    assertThat(b.drops(SyncDrop.BAD_MAC)).isEqualTo(1);
    assertThat(b.receive(new byte[] {'D', 'C', 'S', '1', 0}, 5, now, WALL_MS)).isFalse();
    assertThat(b.drops(SyncDrop.MALFORMED)).isEqualTo(1);

    // A restarted sender has a new epoch and starts its sequence again: accepted.
    SyncSession restarted = new SyncSession(KEY, 3, null, null, 100_000);
    restarted.setHealthSource(() -> new TunnelHealth(2, 2, true));
    restarted.setSending(true);
    poll(restarted);
    assertThat(deliver(b)).isEqualTo(1);
    assertThat(b.twinHealth().health().failing()).isTrue();

    // Records: a flow the table refuses (already expired), and a datagram of a kind not kept.
    byte[] d = new byte[SyncCodec.MAX_DATAGRAM];
    int at = SyncCodec.begin(d, SyncCodec.Kind.FLOWS, 3, 100, WALL_MS + now / MS);
    at = SyncCodec.putFlow(d, at, 1, 2, 3, 4, 0, 1, 0);
    int len = SyncCodec.finish(d, 1, at, KEY);
    assertThat(b.receive(d, len, now, WALL_MS + now / MS)).isTrue();
    assertThat(b.drops(SyncDrop.FLOW_REFUSED)).isEqualTo(1);
    at = SyncCodec.begin(d, SyncCodec.Kind.TIMESTAMPS, 3, 101, WALL_MS + now / MS);
    at = SyncCodec.putTimestamp(d, at, new byte[32], new byte[12]);
    len = SyncCodec.finish(d, 1, at, KEY);
    assertThat(b.receive(d, len, now, WALL_MS + now / MS)).as("authentic, nowhere to apply").isTrue();
    assertThat(b.drops(SyncDrop.NOT_KEPT)).isEqualTo(1);
    assertThat(b.drops(SyncDrop.UNKNOWN_PEER)).isZero();
  }

  @Test
  void timestampsRaiseTheBackupsFloorAndUnknownPeersAreCounted() {
    PrivateKey shared = PrivateKey.generate();
    PrivateKey remote = PrivateKey.generate();
    PrivateKey elsewhere = PrivateKey.generate();
    Output nowhere = new Output() {
      @Override
      public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {}

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    };
    io.dctun.core.Clock ahead = new io.dctun.core.Clock() {
      @Override
      public long nanoTime() {
        return now;
      }

      @Override
      public long wallClockNanos() {
        return (WALL_MS + 60_000) * MS + now; // a minute ahead of the backup's
      }
    };
    io.dctun.core.Clock behind = new io.dctun.core.Clock() {
      @Override
      public long nanoTime() {
        return now;
      }

      @Override
      public long wallClockNanos() {
        return WALL_MS * MS + now;
      }
    };
    UdpEndpoint ep = UdpEndpoint.of("198.18.0.2", 51820);
    Device master = new Device(shared, 1420, nowhere, ahead);
    Device backup = new Device(shared, 1420, nowhere, behind);
    master.addPeer(PeerConfig.of(remote.publicKey(), ep, "198.18.20.0/24"));
    master.addPeer(PeerConfig.of(elsewhere.publicKey(), ep, "198.18.30.0/24")); // the backup lacks this one
    backup.addPeer(PeerConfig.of(remote.publicKey(), ep, "198.18.20.0/24"));
    master.initiateAll(now);
    byte[] mastersLast = master.peer(remote.publicKey()).handshake().lastTimestampSent();

    SyncSession m = new SyncSession(KEY, 1, null, master, 100_000);
    SyncSession b = new SyncSession(KEY, 2, null, backup, 100_000);
    m.setSending(true);
    poll(m);
    assertThat(m.timestampsSent()).isEqualTo(2);
    deliver(b);
    assertThat(b.timestampsReceived()).isEqualTo(1);
    assertThat(b.drops(SyncDrop.UNKNOWN_PEER)).isEqualTo(1);
    backup.initiateAll(now);
    byte[] backupsFirst = backup.peer(remote.publicKey()).handshake().lastTimestampSent();
    assertThat(io.dctun.crypto.Tai64n.isAfter(backupsFirst, mastersLast))
        .as("a clock a minute behind still initiates after the master's last").isTrue();
  }
}
