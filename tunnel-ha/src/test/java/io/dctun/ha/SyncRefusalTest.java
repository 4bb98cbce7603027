package io.dctun.ha;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.packet.IpPacket;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Packets;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the state sync refuses before doing any work, and how each refusal is counted:
 * reflected datagrams (the twins share the key, so the master's own would verify), replays
 * across a restart of the sender (a new epoch), and datagrams longer than any sender writes.
 * Each of these was taken before the fix. The refusals come before the MAC: a datagram refused
 * for any of these reasons is counted under it even when its MAC is wrong.
 */
class SyncRefusalTest {
  static final long MS = 1_000_000L;
  static final long WALL_MS = 1_800_000_000_000L;
  static final byte[] KEY = SyncSessionTest.KEY;

  long now = 10_000 * MS;
  final List<byte[]> wire = new ArrayList<>();
  final SyncSession.Sender toWire = (buf, off, len) -> wire.add(Arrays.copyOfRange(buf, off, off + len));

  long wall() {
    return WALL_MS + now / MS;
  }

  boolean rx(SyncSession s, byte[] d) {
    return s.receive(d, d.length, now, wall());
  }

  byte[] take() {
    assertThat(wire).isNotEmpty();
    return wire.remove(0);
  }

  @Test
  void theMastersOwnDatagramSentBackToItIsRefusedAsReflected() {
    SyncSession m = new SyncSession(KEY, 7, null, null, 100_000);
    m.setHealthSource(() -> new TunnelHealth(1, 1, true));
    m.setSending(true);
    m.poll(now, wall(), toWire);
    byte[] own = take();
    assertThat(rx(m, own)).isFalse();
    assertThat(m.drops(SyncDrop.REFLECTED)).isEqualTo(1);
    assertThat(m.twinHealth()).as("its own report must not pass for its twin's").isNull();
    byte[] badMac = own.clone();
    badMac[own.length - 1] ^= 1;
    assertThat(rx(m, badMac)).isFalse();
    assertThat(m.drops(SyncDrop.REFLECTED)).as("refused before the MAC").isEqualTo(2);
    assertThat(m.drops(SyncDrop.BAD_MAC)).isZero();
  }

  @Test
  void aReflectedFlowDoesNotReviveWhatTheMasterClosed() throws Exception {
    Firewall fw = StateSyncTest.firewall();
    assertThat(SyncSessionTest.establish(fw, 40000, now)).isEqualTo(ACCEPT);
    SyncSession m = new SyncSession(KEY, 7, fw, null, 100_000);
    m.setSending(true);
    m.poll(now, wall(), toWire);
    byte[] established = take();
    assertThat(SyncCodec.kind(established)).isEqualTo(SyncCodec.Kind.FLOWS);
    rst(fw);
    now += 11_000 * MS;
    fw.expire(now);
    assertThat(fw.flowCount()).isZero();
    assertThat(rx(m, established)).isFalse();
    assertThat(fw.flowCount()).isZero();
  }

  @Test
  void aReplayFromBeforeTheSendersRestartDoesNotReviveAClosedFlow() throws Exception {
    Firewall master = StateSyncTest.firewall();
    Firewall backup = StateSyncTest.firewall();
    assertThat(SyncSessionTest.establish(master, 40000, now)).isEqualTo(ACCEPT);
    SyncSession m = new SyncSession(KEY, 1, master, null, 100_000);
    SyncSession b = new SyncSession(KEY, 2, backup, null, 100_000);
    m.setSending(true);
    m.poll(now, wall(), toWire);
    byte[] established = take(); // an attacker on the private segment records this
    assertThat(rx(b, established)).isTrue();
    assertThat(backup.flowCount()).isEqualTo(1);

    // the connection closes: the master streams the CLOSE state, the backup lets it expire
    rst(master);
    now += 50 * MS;
    m.poll(now, wall(), toWire);
    assertThat(rx(b, take())).isTrue();
    now += 11_000 * MS;
    backup.expire(now);
    assertThat(backup.flowCount()).isZero();

    // the master restarts (a new epoch) and speaks; then the capture comes back
    SyncSession m2 = new SyncSession(KEY, 3, null, null, 100_000);
    m2.setHealthSource(() -> new TunnelHealth(1, 1, false));
    m2.setSending(true);
    m2.poll(now, wall(), toWire);
    assertThat(rx(b, take())).isTrue();
    assertThat(rx(b, established)).as("a capture of the old epoch").isFalse();
    assertThat(b.drops(SyncDrop.REPLAYED)).isEqualTo(1);
    assertThat(backup.flowCount()).as("the closed flow stays closed").isZero();

    // a capture of an epoch never seen, older by its clock than what was taken: also a replay
    byte[] d = new byte[SyncCodec.MAX_DATAGRAM];
    int at = SyncCodec.begin(d, SyncCodec.Kind.HEALTH, 99, 1, wall() - 5_000);
    at = SyncCodec.putHealth(d, at, new TunnelHealth(1, 1, true));
    int len = SyncCodec.finish(d, 1, at, KEY);
    assertThat(b.receive(d, len, now, wall())).isFalse();
    assertThat(b.drops(SyncDrop.REPLAYED)).isEqualTo(2);
    assertThat(b.twinHealth().health().failing()).isFalse();

    // and the new epoch goes on being taken
    now += 1000 * MS;
    m2.poll(now, wall(), toWire);
    assertThat(rx(b, take())).isTrue();
  }

  @Test
  void aReplayIsRefusedBeforeTheMac() {
    SyncSession m = new SyncSession(KEY, 1, null, null, 100_000);
    SyncSession b = new SyncSession(KEY, 2, null, null, 100_000);
    m.setHealthSource(() -> new TunnelHealth(1, 1, false));
    m.setSending(true);
    m.poll(now, wall(), toWire);
    byte[] d = take();
    assertThat(rx(b, d)).isTrue();
    byte[] tampered = d.clone();
    tampered[d.length - 1] ^= 1;
    assertThat(rx(b, tampered)).isFalse();
    assertThat(b.drops(SyncDrop.REPLAYED)).isEqualTo(1);
    assertThat(b.drops(SyncDrop.BAD_MAC)).isZero();
  }

  @Test
  void aDatagramLongerThanAnySenderWritesIsRefusedBeforeTheMac() throws Exception {
    Firewall backup = StateSyncTest.firewall();
    SyncSession b = new SyncSession(KEY, 2, backup, null, 100_000);
    int n = SyncCodec.FLOWS_PER_DATAGRAM + 10;
    byte[] d = new byte[SyncCodec.HEADER + n * SyncCodec.FLOW_RECORD + SyncCodec.MAC];
    int at = SyncCodec.begin(d, SyncCodec.Kind.FLOWS, 1, 1, wall());
    for (int i = 0; i < n; i++) {
      at = SyncCodec.putFlow(d, at, i, 2, 3, 4, 0, 3, 60_000 * MS);
    }
    int len = SyncCodec.finish(d, n, at, KEY);
    assertThat(len).isGreaterThan(SyncCodec.MAX_DATAGRAM);
    assertThat(SyncCodec.check(d, len, KEY)).isEqualTo(SyncCodec.Check.OVERSIZED);
    assertThat(b.receive(d, len, now, wall())).as("well formed and authentic, but too long").isFalse();
    assertThat(b.drops(SyncDrop.OVERSIZED)).isEqualTo(1);
    assertThat(b.flowsReceived()).isZero();
    assertThat(backup.flowCount()).isZero();
    d[len - 1] ^= 1;
    assertThat(b.receive(d, len, now, wall())).isFalse();
    assertThat(b.drops(SyncDrop.OVERSIZED)).isEqualTo(2);
    assertThat(b.drops(SyncDrop.BAD_MAC)).isZero();
    byte[] huge = new byte[65_000];
    assertThat(b.receive(huge, huge.length, now, wall())).isFalse();
    assertThat(b.drops(SyncDrop.OVERSIZED)).isEqualTo(3);
  }

  /** Over a real socket: the receive buffer is one byte over the limit, so a longer datagram is seen and refused. */
  @Test
  void theDriverCountsOversizedAndReflectedDatagramsFromTheWire() throws Exception {
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (DatagramChannel twin = DatagramChannel.open().bind(new InetSocketAddress(lo, 0));
        StateSync s = StateSync.start(new InetSocketAddress(lo, 0), (InetSocketAddress) twin.getLocalAddress(),
            KEY, null, 100_000, System::nanoTime)) {
      s.setHealthSource(() -> new TunnelHealth(1, 1, false));
      s.setSending(true);
      ByteBuffer in = ByteBuffer.allocate(2048);
      twin.configureBlocking(false);
      long until = System.nanoTime() + StateSyncTest.DEADLINE_NANOS;
      while (twin.receive(in) == null && System.nanoTime() - until < 0) { // the first health report
        java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
      }
      in.flip();
      assertThat(in.remaining()).as("the master's first report within 5 s").isPositive();
      try (DatagramChannel attacker = DatagramChannel.open()) {
        attacker.send(in.duplicate(), s.localAddress()); // reflected
        attacker.send(ByteBuffer.allocate(9000), s.localAddress()); // oversized
        long deadline = System.nanoTime() + StateSyncTest.DEADLINE_NANOS;
        while ((s.reflected() < 1 || s.oversized() < 1) && System.nanoTime() - deadline < 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
      }
      assertThat(s.reflected()).isEqualTo(1);
      assertThat(s.oversized()).isEqualTo(1);
      assertThat(s.twinHealth()).isNull();
    }
  }

  void rst(Firewall fw) {
    StateSyncTest.in(fw, Packets.tcp("198.18.10.10", 40000, "198.18.20.10", 5432,
        IpPacket.TCP_RST | IpPacket.TCP_ACK), now);
  }
}
