package io.dctun.ha;

import io.dctun.crypto.Blake2s;
import io.dctun.crypto.ConstantTime;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.FlowSink;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams firewall connection state from the master of an HA pair to its backup over the
 * private segment, continuously, so that it is already in place when the backup takes the VIPs
 * (the failure this avoids: keepalived with conntrackd brings the VIP up before the state is
 * loaded, and established connections are reset).
 *
 * <pre>
 * datagram:  "DCS1" | epoch(8) | seq(8) | wall-clock ms(8) | count(2) | count x record(52) | mac(16)
 *            0        4          12       20                 28         30
 * record:    k0 k1 k2 k3 meta (5 x 8) | state(4) | remaining ns(8)          (little-endian)
 * mac:       BLAKE2s-MAC(key, everything before it)
 *
 * timestamps, once a second: "DCT1" | same header | count x (peer public key(32) | TAI64N(12)) | mac
 * health, once a second:     "DCH1" | same header (count 1) | newest handshake, wall ns(8) |
 *                            master for ns(8) | failing(1) | mac
 * </pre>
 *
 * <p>The second kind carries, for every peer, the TAI64N timestamp of the master's last
 * handshake initiation (DESIGN decision 6): the twins share one static key, and a remote peer
 * refuses an initiation whose timestamp is not newer than the last it saw from that key. The
 * backup raises each peer's floor to what the master reported, so if it takes over with a clock
 * that lags, its first initiation is still accepted at once instead of after 15 s.
 *
 * <p>The third kind is the master's view of its own tunnel ({@link TunnelHealth}), which the
 * backup keeps ({@link #twinHealth()}): handshake tracking needs it to tell "my path is broken"
 * (the twin handshakes fine) from "the remote site is down" (the twin fails too).
 *
 * <ul>
 *   <li>Authenticated: the key is derived from the static key both boxes share
 *       ({@code PrivateKey.deriveSecret}); datagrams with a bad MAC are counted and dropped.
 *   <li>Fresh: a datagram must carry a sequence number above the last one of its sender's epoch
 *       and a wall-clock time within 30 s of ours.
 *   <li>Bounded: at most {@code bytesPerSecond}, spread over 20 sends a second; only established
 *       flows that changed since they were last sent go out (see
 *       {@link Firewall#exportChangedFlows}). A new master resends everything once.
 * </ul>
 *
 * Threads: one sender ("dctun-sync-tx", active only while {@linkplain #setSending sending}) and
 * one receiver ("dctun-sync-rx"). Both boxes run both; only the master's sender sends.
 */
public final class StateSync implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StateSync.class);
  static final int HEADER = 30;
  static final int RECORD = 52;
  static final int MAC = 16;
  static final int MAX_DATAGRAM = 1400;
  static final int RECORDS_PER_DATAGRAM = (MAX_DATAGRAM - HEADER - MAC) / RECORD;
  static final long TICK_MS = 50;
  static final long MAX_CLOCK_SKEW_MS = 30_000;
  private static final byte[] MAGIC = {'D', 'C', 'S', '1'};

  private final DatagramChannel channel;
  private final InetSocketAddress twin;
  private final byte[] key;
  private final Firewall firewall;
  private final io.dctun.core.session.Device device;
  private final long bytesPerSecond;
  private final LongSupplier nanoTime;
  private final long epoch = new SecureRandom().nextLong();
  private long seq;
  private volatile boolean sending;
  private volatile boolean resendAll;
  private volatile boolean running = true;
  private final Thread tx;
  private final Thread rx;

  /**
   * The master's own tunnel, as it reports it once a second.
   *
   * @param newestHandshakeWallNanos wall-clock time (ns since the epoch) of the newest completed
   *     handshake with any peer, 0 if none
   * @param masterForNanos how long the sender has been master
   * @param failing whether the sender judges its tunnel broken (no handshake within the tracked
   *     time, past its grace period)
   */
  public record TunnelHealth(long newestHandshakeWallNanos, long masterForNanos, boolean failing) {}

  /** The twin's last {@link TunnelHealth} and when it arrived (this side's nanoTime). */
  public record TwinReport(TunnelHealth health, long receivedAtNanos) {}

  static final int HEALTH_RECORD = 17;
  private volatile java.util.function.Supplier<TunnelHealth> healthSource;
  private volatile TwinReport twinHealth;
  private final AtomicLong healthReceived = new AtomicLong();

  private long peerEpoch;
  private long peerSeq = -1;

  private final AtomicLong flowsSent = new AtomicLong();
  private final AtomicLong flowsReceived = new AtomicLong();
  private final AtomicLong flowsRefused = new AtomicLong();
  private final AtomicLong badMac = new AtomicLong();
  private final AtomicLong stale = new AtomicLong();
  private final AtomicLong malformed = new AtomicLong();

  private StateSync(DatagramChannel channel, InetSocketAddress twin, byte[] key, Firewall firewall,
      io.dctun.core.session.Device device, long bytesPerSecond, LongSupplier nanoTime) {
    this.channel = channel;
    this.twin = twin;
    this.key = key.clone();
    this.firewall = firewall;
    this.device = device;
    this.bytesPerSecond = bytesPerSecond;
    this.nanoTime = nanoTime;
    this.tx = new Thread(this::sendLoop, "dctun-sync-tx");
    this.rx = new Thread(this::receiveLoop, "dctun-sync-rx");
    tx.setDaemon(true);
    rx.setDaemon(true);
  }

  /**
   * Binds {@code local} (an address on the private segment: nothing listens on a public
   * address) and starts receiving; sending starts with {@link #setSending(boolean)}.
   *
   * @param key32 the shared sync key, e.g. {@code privateKey.deriveSecret("dctun ha state sync v1")}
   */
  public static StateSync start(InetSocketAddress local, InetSocketAddress twin, byte[] key32, Firewall firewall,
      long bytesPerSecond, LongSupplier nanoTime) throws IOException {
    return start(local, twin, key32, firewall, null, bytesPerSecond, nanoTime);
  }

  /**
   * As above, also streaming handshake timestamps of {@code device}'s peers (either of
   * {@code firewall} and {@code device} may be null).
   */
  public static StateSync start(InetSocketAddress local, InetSocketAddress twin, byte[] key32, Firewall firewall,
      io.dctun.core.session.Device device, long bytesPerSecond, LongSupplier nanoTime) throws IOException {
    if (key32.length != 32) {
      throw new IllegalArgumentException("state sync key must be 32 bytes, got " + key32.length);
    }
    if (bytesPerSecond < 10_000) {
      throw new IllegalArgumentException("state sync bandwidth must be at least 10000 bytes/s, got " + bytesPerSecond);
    }
    DatagramChannel ch = local.getAddress() instanceof java.net.Inet6Address
        ? DatagramChannel.open(StandardProtocolFamily.INET6)
        : DatagramChannel.open(StandardProtocolFamily.INET);
    try {
      ch.bind(local);
    } catch (IOException e) {
      ch.close();
      throw new IOException("state sync: cannot bind " + local + ": " + e.getMessage(), e);
    }
    StateSync s = new StateSync(ch, twin, key32, firewall, device, bytesPerSecond, nanoTime);
    s.rx.start();
    s.tx.start();
    return s;
  }

  /** What the master reports of its own tunnel once a second (null: nothing). */
  public void setHealthSource(java.util.function.Supplier<TunnelHealth> source) {
    this.healthSource = source;
  }

  /** The twin's last health report, or null if none has arrived. */
  public TwinReport twinHealth() {
    return twinHealth;
  }

  public long healthReceived() {
    return healthReceived.get();
  }

  /** Master: stream state to the twin. Turning it on resends the whole table once. */
  public void setSending(boolean on) {
    if (on && !sending) {
      resendAll = true;
    }
    sending = on;
  }

  public boolean isSending() {
    return sending;
  }

  public InetSocketAddress localAddress() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
  }

  // ------------------------------------------------------------------ sending

  private void sendLoop() {
    ByteBuffer b = ByteBuffer.allocate(MAX_DATAGRAM).order(ByteOrder.LITTLE_ENDIAN);
    long budgetPerTick = Math.max(RECORD, bytesPerSecond * TICK_MS / 1000);
    int[] count = new int[1];
    FlowSink sink = (k0, k1, k2, k3, m, st, rem) -> {
      b.putLong(k0).putLong(k1).putLong(k2).putLong(k3).putLong(m).putInt(st).putLong(rem);
      count[0]++;
    };
    int tick = 0;
    while (running) {
      try {
        Thread.sleep(TICK_MS);
      } catch (InterruptedException e) {
        return;
      }
      if (!sending) {
        continue;
      }
      if (tick++ % (1000 / TICK_MS) == 0) {
        if (device != null) {
          sendTimestamps();
        }
        sendHealth();
      }
      if (firewall == null) {
        continue;
      }
      if (resendAll) {
        resendAll = false;
        firewall.markAllFlowsChanged();
      }
      long budget = budgetPerTick;
      while (running && budget >= HEADER + RECORD + MAC) {
        int fit = (int) Math.min(RECORDS_PER_DATAGRAM, (budget - HEADER - MAC) / RECORD);
        b.clear();
        b.put(MAGIC).putLong(epoch).putLong(++seq).putLong(System.currentTimeMillis()).putShort((short) 0);
        count[0] = 0;
        firewall.exportChangedFlows(nanoTime.getAsLong(), sink, fit);
        if (count[0] == 0) {
          break;
        }
        b.putShort(28, (short) count[0]);
        int len = b.position();
        Blake2s.mac(key, b.array(), 0, len, b.array(), len);
        b.position(len + MAC).flip();
        try {
          channel.send(b, twin);
          flowsSent.addAndGet(count[0]);
        } catch (ClosedChannelException e) {
          return;
        } catch (IOException e) {
          LOG.debug("state sync send to {} failed: {}", twin, e.getMessage());
        }
        budget -= len + MAC;
      }
    }
  }

  static final int TS_RECORD = 32 + 12;
  static final int TS_PER_DATAGRAM = (MAX_DATAGRAM - HEADER - MAC) / TS_RECORD;

  /** One or more "DCT1" datagrams: every peer whose handshake has sent an initiation. */
  private void sendTimestamps() {
    java.util.List<io.dctun.core.session.Peer> peers = new java.util.ArrayList<>(device.peers());
    ByteBuffer b = ByteBuffer.allocate(MAX_DATAGRAM).order(ByteOrder.LITTLE_ENDIAN);
    int i = 0;
    while (i < peers.size()) {
      b.clear();
      b.put(new byte[] {'D', 'C', 'T', '1'}).putLong(epoch).putLong(++seq).putLong(System.currentTimeMillis())
          .putShort((short) 0);
      int count = 0;
      for (; i < peers.size() && count < TS_PER_DATAGRAM; i++) {
        byte[] ts = peers.get(i).handshake().lastTimestampSent();
        if (ts != null) {
          b.put(peers.get(i).publicKey().toBytes()).put(ts);
          count++;
        }
      }
      if (count == 0) {
        continue;
      }
      b.putShort(28, (short) count);
      int len = b.position();
      Blake2s.mac(key, b.array(), 0, len, b.array(), len);
      b.position(len + MAC).flip();
      try {
        channel.send(b, twin);
        timestampsSent.addAndGet(count);
      } catch (IOException e) {
        LOG.debug("state sync send to {} failed: {}", twin, e.getMessage());
      }
    }
  }

  /** One "DCH1" datagram with the health source's report, if there is a source. */
  private void sendHealth() {
    java.util.function.Supplier<TunnelHealth> src = healthSource;
    TunnelHealth h = src == null ? null : src.get();
    if (h == null) {
      return;
    }
    ByteBuffer b = ByteBuffer.allocate(HEADER + HEALTH_RECORD + MAC).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'D', 'C', 'H', '1'}).putLong(epoch).putLong(++seq).putLong(System.currentTimeMillis())
        .putShort((short) 1);
    b.putLong(h.newestHandshakeWallNanos()).putLong(h.masterForNanos()).put((byte) (h.failing() ? 1 : 0));
    int len = b.position();
    Blake2s.mac(key, b.array(), 0, len, b.array(), len);
    b.position(len + MAC).flip();
    try {
      channel.send(b, twin);
    } catch (IOException e) {
      LOG.debug("state sync send to {} failed: {}", twin, e.getMessage());
    }
  }

  private final AtomicLong timestampsSent = new AtomicLong();
  private final AtomicLong timestampsReceived = new AtomicLong();

  public long timestampsSent() {
    return timestampsSent.get();
  }

  public long timestampsReceived() {
    return timestampsReceived.get();
  }

  // ------------------------------------------------------------------ receiving

  private void receiveLoop() {
    ByteBuffer b = ByteBuffer.allocate(65536).order(ByteOrder.LITTLE_ENDIAN);
    while (running) {
      try {
        b.clear();
        channel.receive(b);
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        LOG.warn("state sync receive failed: {}", e.getMessage());
        continue;
      }
      b.flip();
      accept(b.array(), b.limit());
    }
  }

  /** Verifies and applies one datagram; package-private for tests. */
  boolean accept(byte[] d, int len) {
    if (len < HEADER + MAC || d[0] != 'D' || d[1] != 'C' || (d[2] != 'S' && d[2] != 'T' && d[2] != 'H')
        || d[3] != '1') {
      malformed.incrementAndGet();
      return false;
    }
    boolean timestamps = d[2] == 'T';
    boolean health = d[2] == 'H';
    ByteBuffer b = ByteBuffer.wrap(d, 0, len).order(ByteOrder.LITTLE_ENDIAN);
    int count = b.getShort(28) & 0xffff;
    int record = timestamps ? TS_RECORD : health ? HEALTH_RECORD : RECORD;
    if ((health && count != 1) || len != HEADER + count * record + MAC) {
      malformed.incrementAndGet();
      return false;
    }
    byte[] expect = Blake2s.mac(key, d, 0, len - MAC);
    if (!ConstantTime.equals(expect, 0, d, len - MAC, MAC)) {
      badMac.incrementAndGet();
      return false;
    }
    long ep = b.getLong(4);
    long sq = b.getLong(12);
    long wall = b.getLong(20);
    if (Math.abs(System.currentTimeMillis() - wall) > MAX_CLOCK_SKEW_MS
        || (ep == peerEpoch && sq <= peerSeq)) {
      stale.incrementAndGet();
      return false;
    }
    peerEpoch = ep;
    peerSeq = sq;
    b.position(HEADER);
    if (health) {
      long newest = b.getLong();
      long masterFor = b.getLong();
      byte failing = b.get();
      if (masterFor < 0 || newest < 0 || (failing & ~1) != 0) {
        malformed.incrementAndGet();
        return false;
      }
      twinHealth = new TwinReport(new TunnelHealth(newest, masterFor, failing == 1), nanoTime.getAsLong());
      healthReceived.incrementAndGet();
      return true;
    }
    if (timestamps) {
      byte[] k = new byte[32];
      byte[] ts = new byte[12];
      for (int i = 0; i < count; i++) {
        b.get(k).get(ts);
        io.dctun.core.session.Peer p = device == null ? null : device.peer(io.dctun.crypto.PublicKey.of(k));
        if (p != null) {
          p.handshake().raiseTimestampFloor(ts);
          timestampsReceived.incrementAndGet();
        }
      }
      return true;
    }
    if (firewall == null) {
      return true;
    }
    long now = nanoTime.getAsLong();
    for (int i = 0; i < count; i++) {
      long k0 = b.getLong();
      long k1 = b.getLong();
      long k2 = b.getLong();
      long k3 = b.getLong();
      long m = b.getLong();
      int st = b.getInt();
      long rem = b.getLong();
      if (firewall.importFlow(k0, k1, k2, k3, m, st, rem, now)) {
        flowsReceived.incrementAndGet();
      } else {
        flowsRefused.incrementAndGet();
      }
    }
    return true;
  }

  public long flowsSent() {
    return flowsSent.get();
  }

  public long flowsReceived() {
    return flowsReceived.get();
  }

  /** Flows the twin sent that the local table had no room for (or were already expired). */
  public long flowsRefused() {
    return flowsRefused.get();
  }

  public long badMac() {
    return badMac.get();
  }

  public long stale() {
    return stale.get();
  }

  public long malformed() {
    return malformed.get();
  }

  @Override
  public void close() {
    running = false;
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("closing state sync: {}", e.getMessage());
    }
    tx.interrupt();
    try {
      tx.join(1000);
      rx.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "StateSync[twin=" + twin + ", sending=" + sending + "]";
  }
}
