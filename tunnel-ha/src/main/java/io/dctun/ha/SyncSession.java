package io.dctun.ha;

import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.crypto.PublicKey;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.FlowSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * One box's end of the state sync, sans I/O: what to send when ({@link #poll}), what to apply
 * of what arrives ({@link #receive}), and a counter for every drop ({@link SyncDrop}). The master
 * streams to its backup, continuously, so the state is in place before the backup takes the
 * VIPs (keepalived with conntrackd brings the VIP up before the state is loaded, and established
 * connections are reset):
 *
 * <ul>
 *   <li>Firewall flows: only established flows that changed since they were last sent (see
 *       {@link Firewall#exportChangedFlows}); a new master resends everything once, and then
 *       every {@link #FULL_RESEND_INTERVAL_NANOS}: the sync is one-way, so a backup that started
 *       (or restarted) after a long-lived connection opened learns of it only so, and the
 *       backup's copy of a quiet flow is refreshed before it would expire. At most {@code
 *       bytesPerSecond}, paced by a bucket of one {@link #TICK_NANOS} worth.
 *   <li>Once a second, each peer's TAI64N of the master's last initiation (DESIGN decision 6):
 *       the twins share one static key and a remote peer refuses an initiation whose timestamp is
 *       not newer than the last it saw from that key, so the backup raises each peer's floor to
 *       the master's and a lagging clock is not refused after a takeover.
 *   <li>Once a second, the master's {@link TunnelHealth}, which the backup keeps ({@link
 *       #twinHealth()}) for {@link PairController}'s handshake rule.
 * </ul>
 *
 * Received datagrams must be at most {@link SyncCodec#MAX_DATAGRAM} long, carry another epoch
 * than this session's own (the twins share the key, so a reflected datagram would verify), a
 * sequence number above the last of the sender's epoch (a restarted sender picks a new random
 * epoch; its old epochs are remembered and refused, and a new epoch must not be older, by its
 * wall clock, than the last datagram taken), a wall-clock time within {@link
 * #MAX_CLOCK_SKEW_MS} of ours, and a valid MAC under the pair's key, checked last because it is
 * the only check that costs anything. So a replay never revives a flow that has closed since.
 * Both boxes run a session; only the master's sends.
 *
 * <p>Thread-safety: {@link #poll} from one thread and {@link #receive} from one thread (they may
 * differ: the driver's sender and receiver); the rest from any thread.
 */
public final class SyncSession {
  /** {@link #poll} is meant to be called this often; the flow budget refills at this grain. */
  public static final long TICK_NANOS = 50_000_000L;
  public static final long CONTROL_INTERVAL_NANOS = 1_000_000_000L;
  /**
   * How often the master resends its whole table (within the same byte budget): the longest a
   * backup started after a connection opened stays without it.
   */
  public static final long FULL_RESEND_INTERVAL_NANOS = 30_000_000_000L;
  public static final long MAX_CLOCK_SKEW_MS = 30_000;
  private static final SyncDrop[] DROPS = SyncDrop.values();

  /** Where {@link #poll}'s datagrams go: send {@code buf[off..off+len)} before returning. */
  @FunctionalInterface
  public interface Sender {
    void send(byte[] buf, int off, int len);
  }

  /** The twin's last {@link TunnelHealth} and when it arrived (the monotonic time given to {@link #receive}). */
  public record TwinReport(TunnelHealth health, long receivedAtNanos) {}

  private final byte[] key;
  private final long epoch;
  private final Firewall firewall;
  private final Device device;
  private final long bytesPerSecond;
  private final long bucketMax;

  // sender side (poll's thread)
  private final byte[] tx = new byte[SyncCodec.MAX_DATAGRAM];
  private int txAt;
  private int txCount;
  private final FlowSink txSink = (k0, k1, k2, k3, m, st, rem) -> {
    txAt = SyncCodec.putFlow(tx, txAt, k0, k1, k2, k3, m, st, rem);
    txCount++;
  };
  private long seq;
  private long budget;
  private long budgetAt = Long.MIN_VALUE;
  private long nextControl = Long.MIN_VALUE;
  private long nextFullResend = Long.MIN_VALUE;
  private volatile boolean sending;
  private volatile boolean resendAll;
  private volatile Supplier<TunnelHealth> healthSource;

  // receiver side (receive's thread)
  private long peerEpoch;
  private long peerSeq = -1;
  /** The newest wall-clock time taken: a new epoch older than this is a capture, not a restart. */
  private long peerWall = Long.MIN_VALUE;
  /** Epochs the twin has left (it restarted), newest last; a datagram of one is a replay. */
  private final long[] retired = new long[16];
  private int retiredNext;
  private int retiredCount;
  private volatile TwinReport twinHealth;

  private final AtomicLongArray drops = new AtomicLongArray(DROPS.length);
  private final AtomicLong flowsSent = new AtomicLong();
  private final AtomicLong flowsReceived = new AtomicLong();
  private final AtomicLong timestampsSent = new AtomicLong();
  private final AtomicLong timestampsReceived = new AtomicLong();
  private final AtomicLong healthSent = new AtomicLong();
  private final AtomicLong healthReceived = new AtomicLong();
  private final AtomicLong receiveErrors = new AtomicLong();
  private final AtomicLong fullResends = new AtomicLong();

  /**
   * @param key32 the pair's sync key, e.g. {@code privateKey.deriveSecret("dctun ha state sync v1")}
   * @param epoch this sender's random epoch (a new one each start)
   * @param firewall flows out and in, or null
   * @param device handshake timestamps of its peers out and in, or null
   */
  public SyncSession(byte[] key32, long epoch, Firewall firewall, Device device, long bytesPerSecond) {
    if (key32.length != 32) {
      throw new IllegalArgumentException("state sync key must be 32 bytes, got " + key32.length);
    }
    if (bytesPerSecond < 10_000) {
      throw new IllegalArgumentException("state sync bandwidth must be at least 10000 bytes/s, got " + bytesPerSecond);
    }
    this.key = key32.clone();
    this.epoch = epoch;
    this.firewall = firewall;
    this.device = device;
    this.bytesPerSecond = bytesPerSecond;
    this.bucketMax = Math.max(SyncCodec.FLOW_RECORD, bytesPerSecond * TICK_NANOS / 1_000_000_000L);
  }

  /** Master: stream state to the twin. Turning it on resends the whole table once, and reports at once. */
  public void setSending(boolean on) {
    if (on && !sending) {
      resendAll = true;
    }
    sending = on;
  }

  public boolean isSending() {
    return sending;
  }

  /** What the master reports of its own tunnel once a second (null, or a null answer: nothing). */
  public void setHealthSource(Supplier<TunnelHealth> source) {
    this.healthSource = source;
  }

  // ------------------------------------------------------------------ sending

  /**
   * What is due at {@code now} (monotonic ns; {@code wallMillis} goes into each header): nothing
   * unless sending; else timestamps and health once a second (at once after sending starts),
   * and changed flows within the budget. Call every {@link #TICK_NANOS}.
   */
  public void poll(long now, long wallMillis, Sender out) {
    if (!sending) {
      budgetAt = Long.MIN_VALUE;
      nextControl = Long.MIN_VALUE;
      nextFullResend = Long.MIN_VALUE;
      return;
    }
    if (nextControl == Long.MIN_VALUE || now - nextControl >= 0) {
      nextControl = now + CONTROL_INTERVAL_NANOS;
      if (device != null) {
        sendTimestamps(wallMillis, out);
      }
      sendHealth(wallMillis, out);
    }
    if (firewall == null) {
      return;
    }
    if (nextFullResend == Long.MIN_VALUE) {
      nextFullResend = now + FULL_RESEND_INTERVAL_NANOS; // the first resend is setSending's
    } else if (now - nextFullResend >= 0) {
      nextFullResend = now + FULL_RESEND_INTERVAL_NANOS;
      resendAll = true;
      fullResends.incrementAndGet();
    }
    if (resendAll) {
      resendAll = false;
      firewall.markAllFlowsChanged();
    }
    refill(now);
    while (budget >= SyncCodec.HEADER + SyncCodec.FLOW_RECORD + SyncCodec.MAC) {
      int fit = (int) Math.min(SyncCodec.FLOWS_PER_DATAGRAM,
          (budget - SyncCodec.HEADER - SyncCodec.MAC) / SyncCodec.FLOW_RECORD);
      txAt = SyncCodec.begin(tx, SyncCodec.Kind.FLOWS, epoch, seq + 1, wallMillis);
      txCount = 0;
      firewall.exportChangedFlows(now, txSink, fit);
      if (txCount == 0) {
        break;
      }
      seq++;
      int len = SyncCodec.finish(tx, txCount, txAt, key);
      out.send(tx, 0, len);
      flowsSent.addAndGet(txCount);
      budget -= len;
    }
  }

  /** The bucket holds at most one tick's worth: a send loop that stalled does not burst. */
  private void refill(long now) {
    if (budgetAt == Long.MIN_VALUE) {
      budget = bucketMax;
    } else {
      long elapsed = Math.max(0, now - budgetAt);
      budget = Math.min(bucketMax, budget + (elapsed >= 1_000_000_000L ? bucketMax
          : bytesPerSecond * elapsed / 1_000_000_000L));
    }
    budgetAt = now;
  }

  /** One or more TIMESTAMPS datagrams: every peer whose handshake has sent an initiation. */
  private void sendTimestamps(long wallMillis, Sender out) {
    List<Peer> peers = new ArrayList<>(device.peers());
    int i = 0;
    while (i < peers.size()) {
      int at = SyncCodec.begin(tx, SyncCodec.Kind.TIMESTAMPS, epoch, seq + 1, wallMillis);
      int count = 0;
      for (; i < peers.size() && count < SyncCodec.TIMESTAMPS_PER_DATAGRAM; i++) {
        byte[] ts = peers.get(i).handshake().lastTimestampSent();
        if (ts != null) {
          at = SyncCodec.putTimestamp(tx, at, peers.get(i).publicKey().toBytes(), ts);
          count++;
        }
      }
      if (count == 0) {
        continue;
      }
      seq++;
      out.send(tx, 0, SyncCodec.finish(tx, count, at, key));
      timestampsSent.addAndGet(count);
    }
  }

  /** One HEALTH datagram with the source's report, if there is one. */
  private void sendHealth(long wallMillis, Sender out) {
    Supplier<TunnelHealth> src = healthSource;
    TunnelHealth h = src == null ? null : src.get();
    if (h == null) {
      return;
    }
    int at = SyncCodec.begin(tx, SyncCodec.Kind.HEALTH, epoch, ++seq, wallMillis);
    at = SyncCodec.putHealth(tx, at, h);
    out.send(tx, 0, SyncCodec.finish(tx, 1, at, key));
    healthSent.incrementAndGet();
  }

  // ------------------------------------------------------------------ receiving

  /**
   * Verifies one datagram and applies it: flows to the firewall, timestamps to the device's
   * peers, health kept as {@link #twinHealth()} (stamped {@code now}). Returns whether it was
   * authentic and fresh; every refusal is counted under its {@link SyncDrop}.
   */
  public boolean receive(byte[] d, int len, long now, long wallMillis) {
    // Refusals that cost nothing come first, before the MAC: an attacker on the segment gets no
    // BLAKE2s for a datagram that could never be taken.
    SyncCodec.Check c = SyncCodec.structure(d, len);
    if (c != SyncCodec.Check.OK) {
      drop(c == SyncCodec.Check.OVERSIZED ? SyncDrop.OVERSIZED : SyncDrop.MALFORMED, 1);
      return false;
    }
    long ep = SyncCodec.epoch(d);
    long sq = SyncCodec.seq(d);
    long wall = SyncCodec.wallMillis(d);
    if (ep == epoch) {
      // the twins share the key, so a datagram of ours sent back verifies: only the epoch tells
      drop(SyncDrop.REFLECTED, 1);
      return false;
    }
    if ((ep == peerEpoch && sq <= peerSeq) || isRetired(ep)
        || (ep != peerEpoch && peerSeq >= 0 && wall - peerWall < 0)) {
      drop(SyncDrop.REPLAYED, 1);
      return false;
    }
    if (Math.abs(wallMillis - wall) > MAX_CLOCK_SKEW_MS) {
      drop(SyncDrop.CLOCK_SKEW, 1);
      return false;
    }
    c = SyncCodec.authenticate(d, len, key);
    if (c != SyncCodec.Check.OK) {
      drop(c == SyncCodec.Check.BAD_MAC ? SyncDrop.BAD_MAC : SyncDrop.MALFORMED, 1);
      return false;
    }
    if (ep != peerEpoch && peerSeq >= 0) {
      retired[retiredNext] = peerEpoch; // the twin restarted: its old epoch is never taken again
      retiredNext = (retiredNext + 1) % retired.length;
      retiredCount = Math.min(retiredCount + 1, retired.length);
    }
    peerEpoch = ep;
    peerSeq = sq;
    peerWall = Math.max(peerWall, wall);
    switch (SyncCodec.kind(d)) {
      case HEALTH -> {
        twinHealth = new TwinReport(SyncCodec.readHealth(d), now);
        healthReceived.incrementAndGet();
      }
      case TIMESTAMPS -> {
        if (device == null) {
          drop(SyncDrop.NOT_KEPT, 1);
          break;
        }
        for (int i = 0, n = SyncCodec.count(d); i < n; i++) {
          Peer p = device.peer(PublicKey.of(SyncCodec.timestampKey(d, i)));
          if (p == null) {
            drop(SyncDrop.UNKNOWN_PEER, 1);
          } else {
            p.handshake().raiseTimestampFloor(SyncCodec.timestamp(d, i));
            timestampsReceived.incrementAndGet();
          }
        }
      }
      case FLOWS -> {
        if (firewall == null) {
          drop(SyncDrop.NOT_KEPT, 1);
          break;
        }
        SyncCodec.readFlows(d, (k0, k1, k2, k3, m, st, rem) -> {
          if (firewall.importFlow(k0, k1, k2, k3, m, st, rem, now)) {
            flowsReceived.incrementAndGet();
          } else {
            drop(SyncDrop.FLOW_REFUSED, 1);
          }
        });
      }
    }
    return true;
  }

  private boolean isRetired(long ep) {
    for (int i = 0; i < retiredCount; i++) {
      if (retired[i] == ep) {
        return true;
      }
    }
    return false;
  }

  private void drop(SyncDrop r, long n) {
    drops.addAndGet(r.ordinal(), n);
  }

  // ------------------------------------------------------------------ counters

  /** Counts a failure of the driver's receiving thread (a socket error, or a datagram it could not apply). */
  public void countReceiveError() {
    receiveErrors.incrementAndGet();
  }

  /** Receive failures the driver counted ({@link #countReceiveError}). */
  public long receiveErrors() {
    return receiveErrors.get();
  }

  /** The twin's last health report, or null if none has arrived. */
  public TwinReport twinHealth() {
    return twinHealth;
  }

  public long drops(SyncDrop r) {
    return drops.get(r.ordinal());
  }

  public long flowsSent() {
    return flowsSent.get();
  }

  /** Periodic whole-table resends started ({@link #FULL_RESEND_INTERVAL_NANOS}). */
  public long fullResends() {
    return fullResends.get();
  }

  public long flowsReceived() {
    return flowsReceived.get();
  }

  public long timestampsSent() {
    return timestampsSent.get();
  }

  public long timestampsReceived() {
    return timestampsReceived.get();
  }

  public long healthSent() {
    return healthSent.get();
  }

  public long healthReceived() {
    return healthReceived.get();
  }

  public long epoch() {
    return epoch;
  }
}
