package io.dctun.ha;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.packet.IpPacket;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import io.dctun.firewall.Action;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Packets;
import io.dctun.firewall.Rule;
import io.dctun.firewall.RuleSet;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import org.junit.jupiter.api.Test;

/**
 * The master's established flows reach the backup's firewall over the (loopback) sync channel,
 * authenticated with the key both derive from their shared static key; forged, replayed and
 * malformed datagrams change nothing.
 */
class StateSyncTest {
  static final PublicKey PROD = PrivateKey.generate().publicKey();
  static final long DEADLINE_NANOS = 5_000_000_000L;

  static Firewall firewall() throws Exception {
    return new Firewall(RuleSet.builder().peer("prod", PROD)
        .rule(Rule.named("pg").inbound().peer("prod").destination("198.18.20.10").protocol("tcp")
            .destinationPort("5432").action(Action.ACCEPT))
        .build());
  }

  static int in(Firewall fw, byte[] pkt, long now) {
    byte[] b = new byte[16 + pkt.length + 64];
    System.arraycopy(pkt, 0, b, 16, pkt.length);
    return fw.filterInbound(PROD, b, 16, pkt.length, now);
  }

  static int out(Firewall fw, byte[] pkt, long now) {
    byte[] b = new byte[16 + pkt.length + 64];
    System.arraycopy(pkt, 0, b, 16, pkt.length);
    return fw.filterOutbound(PROD, b, 16, pkt.length, now);
  }

  static byte[] tcp(boolean fromClient, int flags) {
    return fromClient
        ? Packets.tcp("198.18.10.10", 40000, "198.18.20.10", 5432, flags)
        : Packets.tcp("198.18.20.10", 5432, "198.18.10.10", 40000, flags);
  }

  @Test
  void aBugOnOneDatagramIsCountedAndTheReceiverTakesTheNext() throws Exception {
    byte[] key = PrivateKey.generate().deriveSecret("dctun ha state sync v1");
    InetAddress lo = InetAddress.getLoopbackAddress();
    java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean(true);
    // The backup's clock throws once on its receiving thread: a bug while applying one datagram.
    java.util.function.LongSupplier clock = () -> {
      if (Thread.currentThread().getName().equals("dctun-sync-rx") && broken.getAndSet(false)) {
        throw new IllegalStateException("a bug while applying one datagram");
      }
      return System.nanoTime();
    };
    try (StateSync bs = StateSync.start(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, 9), key, null,
            100_000, clock);
        StateSync ms = StateSync.start(new InetSocketAddress(lo, 0), bs.localAddress(), key, null, 100_000,
            System::nanoTime)) {
      ms.setHealthSource(() -> new TunnelHealth(1, 2, false));
      ms.setSending(true); // health once a second
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      while ((bs.receiveErrors() == 0 || bs.healthReceived() == 0) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(bs.receiveErrors()).as("the bug is counted").isEqualTo(1);
      assertThat(bs.healthReceived()).as("and the receiving thread goes on to the next datagram").isPositive();
    }
  }

  @Test
  void establishedFlowReachesTheBackupAndForgeriesDoNot() throws Exception {
    PrivateKey shared = PrivateKey.generate();
    byte[] key = shared.deriveSecret("dctun ha state sync v1");
    Firewall master = firewall();
    Firewall backup = firewall();
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (StateSync bs = StateSync.start(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, 9), key, backup,
            100_000, System::nanoTime);
        StateSync ms = StateSync.start(new InetSocketAddress(lo, 0), bs.localAddress(), key, master, 100_000,
            System::nanoTime)) {
      long now = System.nanoTime();
      assertThat(in(master, tcp(true, IpPacket.TCP_SYN), now)).isEqualTo(ACCEPT);
      assertThat(out(master, tcp(false, IpPacket.TCP_SYN | IpPacket.TCP_ACK), now)).isEqualTo(ACCEPT);
      assertThat(in(master, tcp(true, IpPacket.TCP_ACK), now)).isEqualTo(ACCEPT);

      ms.setSending(true);
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      // the sender counts after send() returns, so the receiver may count first: wait for both
      while ((bs.flowsReceived() == 0 || ms.flowsSent() == 0) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(bs.flowsReceived()).isEqualTo(1);
      assertThat(ms.flowsSent()).isEqualTo(1);
      // Failover: the backup passes the established flow mid-stream, both ways.
      long later = System.nanoTime();
      assertThat(in(backup, tcp(true, IpPacket.TCP_ACK), later)).isEqualTo(ACCEPT);
      assertThat(out(backup, tcp(false, IpPacket.TCP_ACK), later)).isEqualTo(ACCEPT);

      // A datagram under another key, a replay and garbage are refused and counted.
      try (DatagramChannel attacker = DatagramChannel.open()) {
        attacker.send(ByteBuffer.wrap(new byte[] {'D', 'C', 'S', '1', 0}), bs.localAddress());
        byte[] forged = validLooking(PrivateKey.generate().deriveSecret("dctun ha state sync v1"), 1);
        attacker.send(ByteBuffer.wrap(forged), bs.localAddress());
        long stop = System.nanoTime() + DEADLINE_NANOS;
        while ((bs.malformed() < 1 || bs.badMac() < 1) && System.nanoTime() < stop) {
          Thread.sleep(20);
        }
      }
      assertThat(bs.malformed()).isEqualTo(1);
      assertThat(bs.badMac()).isEqualTo(1);
      byte[] genuine = validLooking(key, 1);
      assertThat(bs.accept(genuine, genuine.length)).as("a fresh epoch with a valid MAC").isTrue();
      assertThat(bs.accept(genuine, genuine.length)).as("the same datagram again").isFalse();
      assertThat(bs.stale()).isEqualTo(1);
    }
  }

  @Test
  void backupLearnsTheMastersHandshakeTimestampsSoALaggingClockIsNotRefused() throws Exception {
    PrivateKey shared = PrivateKey.generate();
    PrivateKey remote = PrivateKey.generate();
    byte[] key = shared.deriveSecret("dctun ha state sync v1");
    io.dctun.core.session.Output nowhere = new io.dctun.core.session.Output() {
      @Override
      public void sendToNetwork(io.dctun.core.transport.Endpoint to, byte[] buf, int off, int len) {}

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    };
    long ahead = 60_000_000_000L; // the master's clock runs a minute ahead of the backup's
    io.dctun.core.Clock masterClock = new io.dctun.core.Clock() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public long wallClockNanos() {
        return io.dctun.core.Clock.SYSTEM.wallClockNanos() + ahead;
      }
    };
    io.dctun.core.session.Device master = new io.dctun.core.session.Device(shared, 1420, nowhere, masterClock);
    io.dctun.core.session.Device backup = new io.dctun.core.session.Device(shared, 1420, nowhere,
        io.dctun.core.Clock.SYSTEM);
    InetSocketAddress ep = new InetSocketAddress("198.18.0.2", 51820);
    master.addPeer(io.dctun.core.session.PeerConfig.of(remote.publicKey(), ep, "198.18.20.0/24"));
    backup.addPeer(io.dctun.core.session.PeerConfig.of(remote.publicKey(), ep, "198.18.20.0/24"));
    master.initiateAll(System.nanoTime());
    byte[] mastersLast = master.peer(remote.publicKey()).handshake().lastTimestampSent();
    assertThat(mastersLast).isNotNull();

    InetAddress lo = InetAddress.getLoopbackAddress();
    try (StateSync bs = StateSync.start(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, 9), key, null,
            backup, 100_000, System::nanoTime);
        StateSync ms = StateSync.start(new InetSocketAddress(lo, 0), bs.localAddress(), key, null, master,
            100_000, System::nanoTime)) {
      ms.setSending(true);
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      while (bs.timestampsReceived() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(bs.timestampsReceived()).isGreaterThanOrEqualTo(1);
    }
    // Taking over with a clock a minute behind, the backup still initiates with a later timestamp.
    backup.initiateAll(System.nanoTime());
    byte[] backupsFirst = backup.peer(remote.publicKey()).handshake().lastTimestampSent();
    assertThat(io.dctun.crypto.Tai64n.isAfter(backupsFirst, mastersLast)).isTrue();
  }

  @Test
  void backupHearsTheMastersTunnelHealthAndMalformedReportsAreRefused() throws Exception {
    byte[] key = PrivateKey.generate().deriveSecret("dctun ha state sync v1");
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (StateSync bs = StateSync.start(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, 9), key, null,
            null, 100_000, System::nanoTime);
        StateSync ms = StateSync.start(new InetSocketAddress(lo, 0), bs.localAddress(), key, null, null,
            100_000, System::nanoTime)) {
      assertThat(bs.twinHealth()).isNull();
      ms.setHealthSource(() -> new TunnelHealth(1_700_000_000_000_000_000L, 250_000_000_000L, true));
      ms.setSending(true);
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      while (bs.twinHealth() == null && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      SyncSession.TwinReport r = bs.twinHealth();
      assertThat(r).isNotNull();
      assertThat(r.health()).isEqualTo(new TunnelHealth(1_700_000_000_000_000_000L, 250_000_000_000L, true));
      assertThat(r.receivedAtNanos()).isLessThanOrEqualTo(System.nanoTime());
      assertThat(bs.healthReceived()).isPositive();
      assertThat(bs.badMac()).isZero();
      assertThat(bs.malformed()).isZero();
    }
    // a report with two records, or a flag that is neither 0 nor 1, is malformed and changes nothing
    try (StateSync bs = StateSync.start(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, 9), key, null,
        null, 100_000, System::nanoTime)) {
      byte[] two = health(key, 1, 2, (byte) 0);
      assertThat(bs.accept(two, two.length)).isFalse();
      byte[] flag = health(key, 2, 1, (byte) 7);
      assertThat(bs.accept(flag, flag.length)).isFalse();
      assertThat(bs.malformed()).isEqualTo(2);
      assertThat(bs.twinHealth()).isNull();
      byte[] ok = health(key, 3, 1, (byte) 0);
      assertThat(bs.accept(ok, ok.length)).isTrue();
      assertThat(bs.twinHealth().health().failing()).isFalse();
    }
  }

  private static byte[] health(byte[] key, long seq, int count, byte failing) {
    int len = SyncCodec.HEADER + count * SyncCodec.HEALTH_RECORD;
    ByteBuffer b = ByteBuffer.allocate(len + SyncCodec.MAC).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'D', 'C', 'H', '1'}).putLong(43).putLong(seq).putLong(System.currentTimeMillis())
        .putShort((short) count);
    for (int i = 0; i < count; i++) {
      b.putLong(5).putLong(6).put(failing);
    }
    io.dctun.crypto.Blake2s.mac(key, b.array(), 0, len, b.array(), len);
    return b.array();
  }

  /** A well-formed datagram with no records, MAC'd under {@code key}. */
  private static byte[] validLooking(byte[] key, long seq) {
    ByteBuffer b = ByteBuffer.allocate(SyncCodec.HEADER + SyncCodec.MAC).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'D', 'C', 'S', '1'}).putLong(42).putLong(seq).putLong(System.currentTimeMillis()).putShort((short) 0);
    io.dctun.crypto.Blake2s.mac(key, b.array(), 0, SyncCodec.HEADER, b.array(), SyncCodec.HEADER);
    return b.array();
  }
}
