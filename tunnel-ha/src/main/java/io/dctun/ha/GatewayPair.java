package io.dctun.ha;

import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.WarmUp;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.firewall.Firewall;
import io.dctun.tun.NettyUdpTransport;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Joins a tunnel {@link Device} to its gateway pair: the driver of a {@link PairController}.
 * It feeds the controller VRRP's state changes, the device's handshakes, the twin's reports and
 * the time, and carries out what the controller returns on the {@link OutputGate}, the device,
 * VRRP and the {@link SyncSession}.
 *
 * <pre>
 *  VRRP I/O thread:  VrrpListener.stateChanged -> controller -> actions (after VRRP moved the VIPs)
 *  "dctun-ha-track": every 100 ms: tracked links -> controller; tick(): peers' handshakes and the
 *                    twin's last report -> controller.tick(now, wall) -> actions
 *  sync sender:      once a second asks health() for the report to the twin
 * </pre>
 *
 * Two ways to run it. {@link #start} is the whole box: state sync socket, VRRP with raw
 * sockets, the tracking thread (root, real interfaces). Or construct one, give it a {@link Vrrp}
 * with {@link #useVrrp}, call {@link #listener()} with VRRP's state changes and {@link #tick()}
 * from a timer of your own (no root, no thread: tests, and embedders with their own VRRP).
 *
 * <p>Thread-safety: any thread; the controller runs under this object's lock, one event at a time.
 */
public final class GatewayPair implements AutoCloseable, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayPair.class);
  private final io.dctun.core.LogLimiter trackLog = new io.dctun.core.LogLimiter();
  /** The tracking thread's period. */
  public static final long TRACK_NANOS = 100_000_000L;

  /** What the pair needs of VRRP: {@link VrrpInstance} has both. */
  public interface Vrrp {
    /** A tracked condition ({@link PairConfig#HANDSHAKE_CONDITION}, {@code link:IF}). */
    void setCondition(String condition, boolean healthy);

    /** Gratuitous ARP / unsolicited NA once more for every member that is MASTER. */
    void announce();
  }

  /** The embedder's hook for pair state changes ("master", "backup", "fault"); keep it short. */
  @FunctionalInterface
  public interface Hook {
    void run(String event, String instance, String interfaceName);
  }

  private final PairController controller;
  private final Device device;
  private final OutputGate gate;
  private final SyncSession sync;
  private final Hook hook;
  private volatile Vrrp vrrp;
  private SyncSession.TwinReport lastTwin;
  // set by start(): what it opened, closed by close()
  private volatile VrrpInstance vrrpInstance;
  private volatile StateSync stateSync;
  private volatile Thread tracker;
  private volatile boolean running = true;

  /**
   * A pair driver that opens nothing.
   *
   * @param gate the gate {@code device} sends through (closed: this box is not master yet)
   * @param sync the state sync session (sending follows the pair's state; health reports feed
   *     the handshake rule), or null
   * @param hook run on each pair state change, or null
   */
  public GatewayPair(PairConfig config, Device device, OutputGate gate, SyncSession sync, Hook hook) {
    this.controller = new PairController(config);
    this.device = Objects.requireNonNull(device, "device");
    this.gate = Objects.requireNonNull(gate, "gate");
    this.sync = sync;
    this.hook = hook;
    if (sync != null) {
      sync.setHealthSource(this::health);
    }
  }

  /**
   * The whole box: warms the handshake and UDP send paths (a backup never handshakes until it
   * takes over, and paid 120-140 ms of class loading in the middle of a failover otherwise), binds
   * the state sync socket if configured (receiving starts before VRRP: a backup must hold the
   * state before it could take over), starts VRRP for the sync group and the tracking thread.
   *
   * @param firewall whose flows are streamed, or null
   * @param syncKey the pair's 32-byte state sync key (both boxes derive it from the static key
   *     they share, e.g. {@code privateKey.deriveSecret("dctun ha state sync v1")}); unused without
   *     {@link PairConfig#stateSync()}
   */
  public static GatewayPair start(PairConfig config, Device device, OutputGate gate, Firewall firewall,
      byte[] syncKey, Hook hook) throws IOException {
    long warm = System.nanoTime();
    WarmUp.handshake(device.aeadImpl());
    boolean udp = NettyUdpTransport.warmUp();
    LOG.debug("HA: handshake{} warmed up in {} ms", udp ? " and UDP send path" : "",
        (System.nanoTime() - warm) / 1_000_000);
    PairConfig.Sync spec = config.stateSync();
    StateSync st = spec == null ? null : StateSync.start(spec.local(), spec.peer(), syncKey, firewall, device,
        spec.bytesPerSecond(), device.clock()::nanoTime);
    GatewayPair p = new GatewayPair(config, device, gate, st == null ? null : st.session(), hook);
    p.stateSync = st;
    try {
      VrrpInstance v = VrrpInstance.start(config.syncGroup(), p.listener());
      p.vrrpInstance = v;
      p.useVrrp(new Vrrp() {
        @Override
        public void setCondition(String condition, boolean healthy) {
          v.setCondition(condition, healthy);
        }

        @Override
        public void announce() {
          v.announce();
        }
      });
      Thread t = new Thread(p::track, "dctun-ha-track");
      t.setDaemon(true);
      p.tracker = t;
      t.start();
      return p;
    } catch (IOException | RuntimeException e) {
      p.close();
      throw e;
    }
  }

  /** Where conditions and announcements go (null: nowhere). */
  public void useVrrp(Vrrp v) {
    this.vrrp = v;
  }

  /** Give this to VRRP: the public instance's state changes move the pair. */
  public VrrpListener listener() {
    return new VrrpListener() {
      @Override
      public void stateChanged(String instance, VrrpState from, VrrpState to, String why) {
        onStateChange(instance, from, to);
      }
    };
  }

  private synchronized void onStateChange(String instance, VrrpState from, VrrpState to) {
    long t0 = System.nanoTime();
    long now = device.clock().nanoTime();
    observePeers();
    List<PairAction> actions = controller.vrrpStateChanged(instance, from, to, now);
    if (actions.isEmpty()) {
      return;
    }
    apply(actions, now);
    if (to == VrrpState.MASTER) {
      LOG.info("HA: MASTER; tunnel sends, handshake started with {} peer(s) (takeover {} us)", device.peers().size(),
          (System.nanoTime() - t0) / 1000);
    } else if (actions.contains(new PairAction.CloseGate())) {
      LOG.info("HA: {}; tunnel muted", to);
    }
  }

  /** One step: the device's handshakes and the twin's last report in, due actions out. */
  public synchronized void tick() {
    long now = device.clock().nanoTime();
    long wall = device.clock().wallClockNanos();
    observePeers();
    SyncSession.TwinReport r = sync == null ? null : sync.twinHealth();
    if (r != null && r != lastTwin) {
      lastTwin = r;
      controller.twinHealth(r.health(), r.receivedAtNanos());
    }
    apply(controller.tick(now, wall), now);
  }

  /** Reports the link of each tracked interface (the tracking thread does this every 100 ms). */
  public synchronized void linkState(String ifname, boolean up) {
    apply(controller.linkState(ifname, up), device.clock().nanoTime());
  }

  private void observePeers() {
    List<PairController.PeerHandshake> view = new ArrayList<>();
    for (Peer p : device.peers()) {
      view.add(new PairController.PeerHandshake(p.publicKey(), p.endpoint() != null, p.lastHandshakeNanos(),
          p.lastHandshakeWallNanos()));
    }
    controller.observeAll(view);
  }

  /** What this box reports to its twin (the sync session asks once a second). */
  public synchronized TunnelHealth health() {
    observePeers();
    return controller.health(device.clock().nanoTime(), device.clock().wallClockNanos());
  }

  private void apply(List<PairAction> actions, long now) {
    for (PairAction a : actions) {
      try {
        carryOut(a, now);
      } catch (RuntimeException e) {
        LOG.warn("HA: {} failed", a, e); // the rest of the batch still runs
      }
    }
  }

  private void carryOut(PairAction a, long now) {
    Vrrp v = vrrp;
    if (a instanceof PairAction.OpenGate) {
      gate.open();
    } else if (a instanceof PairAction.CloseGate) {
      gate.close();
    } else if (a instanceof PairAction.InitiateAll) {
      device.initiateAll(now);
    } else if (a instanceof PairAction.Initiate i) {
      Peer p = device.peer(i.peer());
      LOG.info("HA: no handshake with {} yet; initiating again", p == null ? i.peer() : p.name());
      device.initiateNow(i.peer(), now);
    } else if (a instanceof PairAction.Announce) {
      if (v != null) {
        v.announce();
      }
    } else if (a instanceof PairAction.SetCondition c) {
      LOG.info("HA: condition {} {}: {}", c.condition(), c.healthy() ? "healthy" : "unhealthy", c.why());
      if (v != null) {
        v.setCondition(c.condition(), c.healthy());
      }
    } else if (a instanceof PairAction.StreamState s) {
      if (sync != null) {
        sync.setSending(s.on());
      }
    } else if (a instanceof PairAction.RunHook h) {
      if (hook != null) {
        hook.run(h.event(), h.instance(), h.interfaceName());
      }
    }
  }

  private void track() {
    List<String> links = controller.config().trackInterfaces();
    while (running) {
      try {
        for (String i : links) {
          linkState(i, Links.isRunning(i));
        }
        tick();
        Thread.sleep(TRACK_NANOS / 1_000_000);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        if (trackLog.allow()) { // a bug that repeats every 100 ms must not flood the log
          LOG.warn("HA tracking: {}", e.toString());
        }
      }
    }
  }

  // ------------------------------------------------------------------ status

  public PairConfig config() {
    return controller.config();
  }

  public OutputGate gate() {
    return gate;
  }

  /** The running VRRP instance ({@link #start} only; null otherwise). */
  public VrrpInstance vrrpInstance() {
    return vrrpInstance;
  }

  /** The state sync session, or null. */
  public SyncSession syncSession() {
    return sync;
  }

  public synchronized boolean isMaster() {
    return controller.isMaster();
  }

  public synchronized boolean failedAsMaster() {
    return controller.failedAsMaster();
  }

  public synchronized boolean twinSeenFailing() {
    return controller.twinSeenFailing();
  }

  public synchronized long takeovers() {
    return controller.takeovers();
  }

  public synchronized long releases() {
    return controller.releases();
  }

  /**
   * The pair's state under {@code ha.}: per VRRP instance its state, VRID, VIP and counters; the
   * output gate; the handshake-health rule; takeovers and releases; the state sync's counters.
   */
  @Override
  public void report(StatusSink out) {
    StatusSink s = out.section("ha");
    VrrpInstance v = vrrpInstance;
    for (PairConfig.Side side : List.of(config().publicSide(), config().privateSide())) {
      for (String i : side.instances()) {
        StatusSink n = s.section(i);
        n.text("state", v == null ? "INITIALIZE" : v.state(i).toString());
        n.gauge("vrid", side.vrid());
        n.text("vip", String.valueOf(i.equals(side.name()) ? side.vip() : side.vip6()));
        if (v == null) {
          n.text("counters", "");
        } else {
          VrrpCounters c = v.counters(i);
          n.text("counters", c.toString());
          for (VrrpCounters.Event e : VrrpCounters.Event.values()) {
            n.counter("event." + e.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'), c.get(e));
          }
          n.counter("drops", c.totalDrops());
          for (DropReason r : DropReason.values()) {
            if (r != DropReason.NONE) {
              n.counter("drop." + r.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'), c.drops(r));
            }
          }
        }
      }
    }
    s.text("tunnel", gate.isOpen() ? "sending" : "muted");
    if (config().handshakeWithinSeconds() > 0) {
      s.text("handshake.failed-as-master", failedAsMaster() ? "yes" : "no");
      s.text("handshake.twin-seen-failing", twinSeenFailing() ? "yes" : "no");
    }
    s.counter("muted-sends", gate.mutedSends());
    s.counter("takeovers", takeovers());
    s.counter("releases", releases());
    if (sync != null) {
      StatusSink y = s.section("sync");
      y.counter("flows-sent", sync.flowsSent());
      y.counter("full-resends", sync.fullResends());
      y.counter("flows-received", sync.flowsReceived());
      y.counter("flows-refused", sync.drops(SyncDrop.FLOW_REFUSED));
      y.counter("timestamps-sent", sync.timestampsSent());
      y.counter("timestamps-received", sync.timestampsReceived());
      y.counter("bad-mac", sync.drops(SyncDrop.BAD_MAC));
      y.counter("stale", sync.drops(SyncDrop.REPLAYED) + sync.drops(SyncDrop.CLOCK_SKEW));
      y.counter("receive-errors", sync.receiveErrors());
      StatusSink d = y.section("drop");
      for (SyncDrop r : SyncDrop.values()) {
        d.counter(r.name(), sync.drops(r));
      }
    }
    if (v != null && v.failure() != null) {
      s.text("failure", v.failure().toString());
    }
  }

  /**
   * Leaves the pair: VRRP sends priority 0 (the backup takes over at once) and removes the VIPs;
   * the tunnel is muted and the state sync closed. Not under the lock: VRRP's last state change
   * comes back through {@link #listener()} while close waits for its thread.
   */
  @Override
  public void close() {
    running = false;
    Thread t = tracker;
    if (t != null) {
      t.interrupt();
    }
    VrrpInstance v = vrrpInstance;
    if (v != null) {
      v.close();
    }
    synchronized (this) {
      apply(controller.shutdown(), device.clock().nanoTime());
    }
    StateSync st = stateSync;
    if (st != null) {
      st.close();
    }
  }
}
