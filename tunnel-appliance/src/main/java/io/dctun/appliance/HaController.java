package io.dctun.appliance;

import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.HaSection;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.Peer;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpTransport;
import io.dctun.ha.VrrpConfig;
import io.dctun.ha.VrrpInstance;
import io.dctun.ha.VrrpListener;
import io.dctun.ha.VrrpState;
import io.dctun.ha.internal.NetIf;
import io.dctun.tun.NativeIoException;
import io.dctun.tun.NettyUdpTransport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Joins a gateway to its HA pair (the {@code ha:} section): runs the public and private VRRP
 * instances as one sync group and makes the tunnel follow the pair's state.
 *
 * <ul>
 *   <li>The UDP socket is bound to {@code public.vip:listen-port} with {@code IP_FREEBIND}, on both
 *       boxes, from the start: the backup's socket exists before the address does, receives once
 *       VRRP adds the VIP, and every datagram the master sends leaves from the VIP (the remote peer
 *       never sees a box's own address, so its endpoint never roams to one box).
 *   <li>MASTER (public instance; VIPs already added and gratuitous ARP queued by tunnel-ha): the
 *       tunnel's network output is opened and {@link Device#initiateAll} starts a handshake with
 *       every peer at once, without waiting for either side's timers.
 *   <li>BACKUP, FAULT, shutdown: the network output is muted; the Device keeps running its timers
 *       but nothing it produces is sent. No key material ever leaves the box.
 *   <li>Tracking: further interfaces (link down: FAULT) are polled every 100 ms; "a handshake with
 *       some peer within N s" is evaluated every second (see {@link #handshakeHealthy()}) and
 *       lowers the priority by weight.
 * </ul>
 */
public final class HaController implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HaController.class);

  private final HaSection ha;
  private final Device device;
  private final Gate gate;
  private final AtomicLong takeovers = new AtomicLong();
  private final AtomicLong releases = new AtomicLong();
  private final Map<String, Boolean> reported = new HashMap<>();
  private final Thread tracker;
  private final java.util.concurrent.ScheduledExecutorService later =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dctun-ha-garp");
        t.setDaemon(true);
        return t;
      });
  private volatile VrrpInstance vrrp;
  private volatile io.dctun.ha.StateSync sync;
  private final HaNotify notify;
  private volatile boolean running = true;
  private volatile long masterSinceNanos;
  /** This box failed the handshake check as master; it stays lowered as backup (see handshakeHealthy). */
  private volatile boolean failedAsMaster;
  /** Wall time at which, as backup, this box last heard the master report its tunnel failing; 0: not since. */
  private volatile long twinSeenFailingWall;
  /** Where the twin's health reports come from (the state sync; tests substitute). */
  private volatile java.util.function.Supplier<io.dctun.ha.SyncSession.TwinReport> twinReports = () -> {
    io.dctun.ha.StateSync st = sync;
    return st == null ? null : st.twinHealth();
  };
  /** A twin report older than this is not "the master now". */
  static final long TWIN_REPORT_FRESH_NANOS = 3_000_000_000L;
  /** Where tracked conditions go: the running VRRP instance (a unit test passes its own router). */
  private final ConditionSink conditions;

  /** Receives tracked conditions, as {@link VrrpInstance#setCondition}. */
  @FunctionalInterface
  interface ConditionSink {
    void setCondition(String condition, boolean healthy);
  }

  /** The tunnel's output with a switch in front of the network side. */
  public static final class Gate implements Output {
    private final Output inner;
    private volatile boolean open;
    private final AtomicLong muted = new AtomicLong();

    Gate(Output inner) {
      this.inner = inner;
    }

    @Override
    public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {
      if (open) {
        inner.sendToNetwork(endpoint, buf, off, len);
      } else {
        muted.incrementAndGet();
      }
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      inner.deliverToDevice(buf, off, len);
    }

    public boolean isOpen() {
      return open;
    }

    public long mutedSends() {
      return muted.get();
    }
  }

  private HaController(HaSection ha, Device device, Gate gate) {
    this(ha, device, gate, null);
  }

  /**
   * For tests: no VRRP instance, no tracker thread; conditions go to {@code conditions} (null: to
   * the VRRP instance, once started). Time is {@code device.clock()}'s, monotonic and wall.
   */
  HaController(HaSection ha, Device device, Gate gate, ConditionSink conditions) {
    this.ha = ha;
    this.device = device;
    this.gate = gate;
    this.conditions = conditions != null ? conditions : (condition, healthy) -> {
      VrrpInstance v = vrrp;
      if (v != null) {
        v.setCondition(condition, healthy);
      }
    };
    this.notify = new HaNotify(ha.notifyCommands());
    this.tracker = new Thread(this::track, "dctun-ha-track");
    this.tracker.setDaemon(true);
  }

  /**
   * The UDP socket for {@code cfg}: for an HA gateway, {@code public.vip:port} bound with
   * IP_FREEBIND; otherwise {@code fallback} is called.
   */
  static UdpTransport bindUdp(GatewayConfig cfg, int port, UdpBinder fallback) throws IOException {
    HaSection ha = HaSection.of(cfg);
    if (ha == null) {
      return fallback.bind();
    }
    return NettyUdpTransport.bind(ha.publicSide().vip().address(), port, true);
  }

  /** Binds the ordinary (non-HA) socket. */
  @FunctionalInterface
  interface UdpBinder {
    UdpTransport bind() throws IOException;
  }

  /** {@code out} behind a closed gate for an HA gateway (nothing is sent until MASTER); else {@code out}. */
  static Output gate(GatewayConfig cfg, Output out) {
    return HaSection.of(cfg) == null ? out : new Gate(out);
  }

  /**
   * Starts VRRP for an HA gateway ({@code output} must be what {@link #gate} returned); returns
   * null for a gateway without an {@code ha:} section.
   */
  static HaController start(GatewayConfig cfg, Device device, Output output, io.dctun.firewall.Firewall firewall)
      throws IOException {
    HaSection ha = HaSection.of(cfg);
    if (ha == null) {
      return null;
    }
    HaController c = new HaController(ha, device, (Gate) output);
    // A backup never handshakes or sends until it takes over; let it pay the first handshake's
    // and the first send's class and provider loading now, not in the middle of a failover
    // (measured: 120-140 ms between becoming MASTER and the initiation leaving).
    long warm = System.nanoTime();
    io.dctun.core.session.WarmUp.handshake(device.aeadImpl());
    boolean udp = io.dctun.tun.NettyUdpTransport.warmUp();
    LOG.debug("HA: handshake{} warmed up in {} ms", udp ? " and UDP send path" : "",
        (System.nanoTime() - warm) / 1_000_000);
    HaSection.StateSyncSpec spec = ha.stateSync();
    if (spec != null) {
      // Receiving starts now, before VRRP: a backup must hold the state before it could take over.
      c.sync = io.dctun.ha.StateSync.start(spec.local(), spec.peer(),
          cfg.privateKey().deriveSecret("dctun ha state sync v1"), firewall, device, spec.bytesPerSecond(),
          device.clock()::nanoTime);
      c.sync.setHealthSource(c::ownHealth);
      LOG.info("HA: state sync {} -> {}, {} bytes/s: {}{}", spec.local(), spec.peer(), spec.bytesPerSecond(),
          firewall == null ? "" : "firewall flows, ", "handshake timestamps");
    }
    if (spec == null && ha.handshakeWithinSeconds() > 0) {
      LOG.warn("HA: peer-handshake tracking without state-sync cannot hear how the other box fares: a box "
          + "that fails the check as master stays lowered until it is master again");
    }
    List<VrrpConfig> group = ha.syncGroup();
    c.vrrp = VrrpInstance.start(group, c.listener());
    c.tracker.start();
    LOG.info("HA: sync group {} (vrid {}, {} on {}) + {} (vrid {}, {} on {}), priority {}, advert {} ms; "
        + "tunnel muted until MASTER", ha.publicSide().name(), ha.publicSide().vrid(), ha.publicSide().vip(),
        ha.publicSide().interfaceName(), ha.privateSide().name(), ha.privateSide().vrid(), ha.privateSide().vip(),
        ha.privateSide().interfaceName(), ha.priority(), ha.advertIntervalMillis());
    if (ha.privateSide().vip6() != null) {
      LOG.info("HA: sync group also {} (vrid {}, {} on {}, IPv6)", ha.privateSide().name6(), ha.privateSide().vrid(),
          ha.privateSide().vip6(), ha.privateSide().interfaceName());
    }
    return c;
  }

  VrrpListener listener() {
    String pub = ha.publicSide().name();
    return new VrrpListener() {
      @Override
      public void stateChanged(String instance, VrrpState from, VrrpState to, String why) {
        if (!instance.equals(pub)) {
          return;
        }
        // The pair's state is the public instance's (the sync group moves both together).
        String ifname = ha.publicSide().interfaceName();
        if (to == VrrpState.MASTER) {
          notify.fire("master", instance, ifname);
        } else if (to == VrrpState.BACKUP) {
          notify.fire("backup", instance, ifname);
        } else if (to == VrrpState.FAULT) {
          notify.fire("fault", instance, ifname);
        }
        if (to == VrrpState.MASTER) {
          takeOver();
        } else if (from == VrrpState.MASTER || gate.open) {
          release(to);
        }
      }
    };
  }

  /** On the VRRP thread, after the VIPs were added: send from now on, re-handshake everyone now. */
  private void takeOver() {
    long t0 = System.nanoTime();
    long now = device.clock().nanoTime();
    masterSinceNanos = now;
    failedAsMaster = false; // it gets its chance again: the other box is gone, or was worse
    gate.open = true;
    takeovers.incrementAndGet();
    device.initiateAll(now);
    long initiated = System.nanoTime();
    io.dctun.ha.StateSync st = sync;
    if (st != null) {
      st.setSending(true); // the new master streams to the old one (now backup), whole table first
    }
    // Repeat gratuitous ARP after the neighbours' locktime (1 s) and at keepalived's 5 s: an
    // old master that lost only its process still answers ARP for the VIPs it left behind.
    for (long ms : new long[] {1100, 5000}) {
      later.schedule(() -> {
        VrrpInstance v = vrrp;
        if (v != null && gate.open) {
          v.announce();
        }
      }, ms, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    // A peer whose handshake has not completed 1.3 s after the takeover gets another initiation
    // now rather than at the 5 s retransmit (its first reply may have gone to the old master).
    later.schedule(() -> {
      long t = device.clock().nanoTime();
      for (Peer p : device.peers()) {
        long h = p.lastHandshakeNanos(); // Long.MIN_VALUE: never
        if (gate.open && p.endpoint() != null && (h == Long.MIN_VALUE || h - now < 0)) {
          LOG.info("HA: no handshake with {} yet; initiating again", p.name());
          device.initiateNow(p.publicKey(), t);
        }
      }
    }, 1300, java.util.concurrent.TimeUnit.MILLISECONDS);
    LOG.info("HA: MASTER; tunnel sends from {}, handshake started with {} peer(s) in {} us (takeover {} us)",
        ha.publicSide().vip().address().getHostAddress(), device.peers().size(), (initiated - t0) / 1000,
        (System.nanoTime() - t0) / 1000);
  }

  private void release(VrrpState to) {
    gate.open = false;
    io.dctun.ha.StateSync st = sync;
    if (st != null) {
      st.setSending(false);
    }
    releases.incrementAndGet();
    LOG.info("HA: {}; tunnel muted", to);
  }

  /** Feeds the tracked conditions: extra links every 100 ms, peer handshakes every second. */
  private void track() {
    long lastHandshakeCheck = 0;
    while (running) {
      try {
        for (String i : ha.trackInterfaces()) {
          boolean up;
          try {
            up = NetIf.isRunning(i);
          } catch (NativeIoException e) {
            up = false; // no such interface (any more)
          }
          report("link:" + i, up);
        }
        long now = System.nanoTime();
        if (ha.handshakeWithinSeconds() > 0 && now - lastHandshakeCheck >= 1_000_000_000L) {
          lastHandshakeCheck = now;
          checkHandshakes();
        }
        Thread.sleep(100);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("HA tracking: {}", e.toString());
      }
    }
  }

  /** Reports {@link #handshakeHealthy()} as the peer-handshake condition (on a change only). */
  void checkHandshakes() {
    report(HaSection.HANDSHAKE_CONDITION, handshakeHealthy());
  }

  /**
   * The peer-handshake rule: is this box's path to the remote sites to be trusted?
   *
   * <ul>
   *   <li>MASTER: healthy during the first N s (grace) and while some peer completed a handshake
   *       within the last N s. Otherwise failing; then unhealthy (priority minus weight, the other
   *       box takes over) unless the other box, when it was master, was seen failing too and no
   *       handshake has completed here since: then the remote side is down, not this box's
   *       path, and moving the VIPs would only flap them.
   *   <li>BACKUP: a backup cannot handshake (the pair shares one identity), so it judges itself
   *       by what it last knew. A box that failed as master stays unhealthy, so it does not
   *       preempt straight back onto a broken path, until the master reports (state sync) that
   *       it fails too; any other backup is healthy.
   * </ul>
   *
   * Without state sync nothing is heard of the other box: a box that failed stays lowered until
   * it is master again. Times come from {@code device.clock()}, the clock handshakes are stamped with.
   */
  boolean handshakeHealthy() {
    long now = device.clock().nanoTime();
    long wall = device.clock().wallClockNanos();
    long limitNanos = ha.handshakeWithinSeconds() * 1_000_000_000L;
    if (!gate.open) {
      io.dctun.ha.SyncSession.TwinReport r = twinReports.get();
      boolean fresh = r != null && now - r.receivedAtNanos() < TWIN_REPORT_FRESH_NANOS;
      if (fresh && r.health().failing()) {
        twinSeenFailingWall = wall;
        if (failedAsMaster) {
          failedAsMaster = false;
          LOG.info("HA: the master's tunnel fails too: the remote side is down, not this box's path; "
              + "priority restored");
        }
      } else if (fresh && r.health().newestHandshakeWallNanos() > twinSeenFailingWall) {
        twinSeenFailingWall = 0; // the master has handshaken since: that outage is over
      }
      return !failedAsMaster;
    }
    if (!masterFailing(now, wall, limitNanos)) {
      return true;
    }
    long seen = twinSeenFailingWall;
    if (seen > 0 && newestHandshakeWall() < seen) {
      return true; // the twin failed in this same outage: not this box's fault
    }
    if (!failedAsMaster) {
      LOG.warn("HA: no handshake with any peer for {} s as master; lowering priority by {} so the other box "
          + "takes over", ha.handshakeWithinSeconds(), ha.handshakeWeight());
    }
    failedAsMaster = true;
    return false;
  }

  /** MASTER past its grace with no handshake completed within the last N s. */
  private boolean masterFailing(long now, long wall, long limitNanos) {
    if (!gate.open || now - masterSinceNanos < limitNanos) {
      return false;
    }
    long newest = newestHandshakeWall();
    return !(newest > 0 && wall - newest < limitNanos);
  }

  private long newestHandshakeWall() {
    long newest = 0;
    for (Peer p : device.peers()) {
      newest = Math.max(newest, p.lastHandshakeWallNanos());
    }
    return newest;
  }

  /** What the master tells its twin once a second (state sync). */
  io.dctun.ha.TunnelHealth ownHealth() {
    long now = device.clock().nanoTime();
    long wall = device.clock().wallClockNanos();
    long limit = ha.handshakeWithinSeconds() * 1_000_000_000L;
    return new io.dctun.ha.TunnelHealth(newestHandshakeWall(),
        gate.open ? Math.max(0, now - masterSinceNanos) : 0, limit > 0 && masterFailing(now, wall, limit));
  }

  /** For tests: where the twin's reports come from. */
  void twinReports(java.util.function.Supplier<io.dctun.ha.SyncSession.TwinReport> source) {
    this.twinReports = source;
  }

  /** Whether this box failed the handshake check as master and is still lowered for it. */
  boolean failedAsMaster() {
    return failedAsMaster;
  }

  private void report(String condition, boolean healthy) {
    Boolean before = reported.put(condition, healthy);
    if (before == null || before != healthy) {
      if (before != null) {
        LOG.info("HA: condition {} is now {}", condition, healthy ? "healthy" : "unhealthy");
      }
      conditions.setCondition(condition, healthy);
    }
  }

  public boolean isMaster() {
    return gate.open;
  }

  /** {@code key value} status lines: state and counters per instance, the gate, takeovers. */
  public String status() {
    StringBuilder b = new StringBuilder();
    VrrpInstance v = vrrp;
    for (HaSection.Side s : List.of(ha.publicSide(), ha.privateSide())) {
      for (String i : s.instances()) {
        String n = "ha." + i;
        b.append(n).append(".state ").append(v == null ? "INITIALIZE" : v.state(i)).append('\n');
        b.append(n).append(".vrid ").append(s.vrid()).append('\n');
        b.append(n).append(".vip ").append(i.equals(s.name()) ? s.vip() : s.vip6()).append('\n');
        b.append(n).append(".counters ").append(v == null ? "" : v.counters(i)).append('\n');
      }
    }
    b.append("ha.tunnel ").append(gate.open ? "sending" : "muted").append('\n');
    if (ha.handshakeWithinSeconds() > 0) {
      b.append("ha.handshake.failed-as-master ").append(failedAsMaster ? "yes" : "no").append('\n');
      b.append("ha.handshake.twin-seen-failing ").append(twinSeenFailingWall > 0 ? "yes" : "no").append('\n');
    }
    b.append("ha.muted-sends ").append(gate.mutedSends()).append('\n');
    b.append("ha.takeovers ").append(takeovers.get()).append('\n');
    b.append("ha.releases ").append(releases.get()).append('\n');
    io.dctun.ha.StateSync st = sync;
    if (st != null) {
      b.append("ha.sync.flows-sent ").append(st.flowsSent()).append('\n');
      b.append("ha.sync.flows-received ").append(st.flowsReceived()).append('\n');
      b.append("ha.sync.flows-refused ").append(st.flowsRefused()).append('\n');
      b.append("ha.sync.timestamps-sent ").append(st.timestampsSent()).append('\n');
      b.append("ha.sync.timestamps-received ").append(st.timestampsReceived()).append('\n');
      b.append("ha.sync.bad-mac ").append(st.badMac()).append('\n');
      b.append("ha.sync.stale ").append(st.stale()).append('\n');
    }
    if (v != null && v.failure() != null) {
      b.append("ha.failure ").append(v.failure().toString().replace('\n', ' ')).append('\n');
    }
    return b.toString();
  }

  /** Leaves the pair: priority-0 advert (the backup takes over at once), VIPs removed, tunnel muted. */
  @Override
  public void close() {
    running = false;
    tracker.interrupt();
    later.shutdownNow();
    VrrpInstance v = vrrp;
    if (v != null) {
      v.close();
    }
    gate.open = false;
    io.dctun.ha.StateSync st = sync;
    if (st != null) {
      st.close();
    }
    notify.close();
  }
}
