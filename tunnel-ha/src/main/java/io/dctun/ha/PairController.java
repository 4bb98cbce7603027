package io.dctun.ha;

import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One box of a gateway pair, sans I/O: it is told what VRRP decided, what the tunnel's peers
 * last did, what the twin reports and what time it is, and returns the {@link PairAction}s that
 * make the tunnel follow the pair. It opens no socket, starts no thread and reads no clock.
 *
 * <pre>
 *  in:  vrrpStateChanged(public instance, from, to, now)   (after VRRP added the VIPs and sent ARP)
 *       observe(peer handshake)  linkState(ifname, up)  twinHealth(report, now)
 *       tick(now, wall)                                   (every 100 ms or so)
 *  out: RunHook, OpenGate/CloseGate, InitiateAll, StreamState   (at the state change)
 *       Announce at +1.1 s and +5 s, Initiate(peer) at +1.3 s   (from tick, while still master)
 *       SetCondition(link:IF | peer-handshake)                   (on a change only)
 * </pre>
 *
 * <p><b>Takeover.</b> The pair's state is the public instance's (the sync group moves the others
 * with it). On MASTER the hook runs, the output gate opens, every peer gets a handshake at once
 * and the state stream to the twin starts. Gratuitous ARP is repeated after the neighbours'
 * locktime (1 s) and at keepalived's 5 s: an old master that lost only its process still answers
 * ARP for the VIPs it left behind. A peer whose handshake has not completed 1.3 s after the
 * takeover gets another initiation then rather than at the 5 s retransmit: its first answer may
 * have gone to the old master. Leaving MASTER closes the gate and stops the stream; a backup
 * sends nothing (the twins share one identity and one VIP), and no key ever leaves the box.
 *
 * <p><b>The handshake-health rule</b> ({@code peer-handshake}, with {@code within} N s): is this
 * box's path to the remote sites to be trusted?
 *
 * <ul>
 *   <li>MASTER: healthy during the first N s (grace) and while some peer completed a handshake
 *       within the last N s. Otherwise failing; then unhealthy (priority minus weight, the other
 *       box takes over) unless the other box, when it was master, was seen failing too and no
 *       handshake has completed here since: then the remote side is down, not this box's path,
 *       and moving the VIPs would only flap them.
 *   <li>BACKUP: a backup cannot handshake (the pair shares one identity), so it judges itself by
 *       what it last knew. A box that failed as master stays unhealthy, so it does not preempt
 *       straight back onto a broken path, until the master reports that it fails too; any other
 *       backup is healthy. A report older than {@link #TWIN_REPORT_FRESH_NANOS} proves nothing.
 * </ul>
 *
 * Without state sync nothing is heard of the other box: a box that failed stays lowered until it
 * is master again. Handshake ages are wall-clock (as the device stamps them), grace periods
 * monotonic; both come in as arguments, from the clock the tunnel's handshakes are stamped with.
 *
 * <p>Thread-safety: none. One thread at a time drives it (the driver serialises).
 */
public final class PairController {
  /** A twin report older than this is not "the master now". */
  public static final long TWIN_REPORT_FRESH_NANOS = 3_000_000_000L;
  /** Gratuitous ARP again after these delays from the takeover: past the 1 s locktime, and keepalived's 5 s. */
  public static final long[] ANNOUNCE_AGAIN_NANOS = {1_100_000_000L, 5_000_000_000L};
  /** A peer without a handshake this long after the takeover is initiated again. */
  public static final long REINITIATE_AFTER_NANOS = 1_300_000_000L;
  /** How often the handshake rule is evaluated. */
  public static final long HANDSHAKE_CHECK_NANOS = 1_000_000_000L;
  private static final long NEVER = Long.MAX_VALUE;

  /**
   * What the driver saw of one peer.
   *
   * @param reachable whether the peer has an endpoint (one without cannot be initiated to)
   * @param lastNanos monotonic time of its last completed handshake, {@link Long#MIN_VALUE}: never
   * @param lastWallNanos wall-clock time of the same, 0: never
   */
  public record PeerHandshake(PublicKey peer, boolean reachable, long lastNanos, long lastWallNanos) {
    public PeerHandshake {
      Objects.requireNonNull(peer, "peer");
    }
  }

  private final PairConfig config;
  private final long limitNanos;
  private final Map<PublicKey, PeerHandshake> peers = new LinkedHashMap<>();
  private final Map<String, Boolean> reported = new HashMap<>();

  private boolean master;
  private long masterSinceNanos;
  /** This box failed the handshake check as master; it stays lowered as backup (see the rule). */
  private boolean failedAsMaster;
  /** Wall time at which, as backup, this box last heard the master report failing; 0: not since. */
  private long twinSeenFailingWall;
  private TunnelHealth twinReport;
  private long twinReportAt;
  private final long[] announceAt = {NEVER, NEVER};
  private long reinitiateAt = NEVER;
  private long nextHandshakeCheck = NEVER;
  private String why = "";
  private long takeovers;
  private long releases;

  public PairController(PairConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    this.limitNanos = config.handshakeWithinNanos();
  }

  public PairConfig config() {
    return config;
  }

  // ------------------------------------------------------------------ events in

  /**
   * A VRRP instance of the sync group changed state (after VRRP carried out that change's
   * actions: VIPs added and announced, or removed). Only the public instance moves the pair.
   */
  public List<PairAction> vrrpStateChanged(String instance, VrrpState from, VrrpState to, long now) {
    List<PairAction> out = new ArrayList<>(4);
    if (!instance.equals(config.publicInstance())) {
      return out;
    }
    String ifname = config.publicSide().interfaceName();
    switch (to) {
      case MASTER -> out.add(new PairAction.RunHook("master", instance, ifname));
      case BACKUP -> out.add(new PairAction.RunHook("backup", instance, ifname));
      case FAULT -> out.add(new PairAction.RunHook("fault", instance, ifname));
      default -> { }
    }
    if (to == VrrpState.MASTER) {
      takeOver(now, out);
    } else if (from == VrrpState.MASTER || master) {
      release(out);
      releases++;
    }
    return out;
  }

  private void takeOver(long now, List<PairAction> out) {
    master = true;
    masterSinceNanos = now;
    failedAsMaster = false; // it gets its chance again: the other box is gone, or was worse
    takeovers++;
    out.add(new PairAction.OpenGate());
    out.add(new PairAction.InitiateAll());
    out.add(new PairAction.StreamState(true)); // to the old master, now backup: whole table first
    for (int i = 0; i < announceAt.length; i++) {
      announceAt[i] = now + ANNOUNCE_AGAIN_NANOS[i];
    }
    reinitiateAt = now + REINITIATE_AFTER_NANOS;
  }

  private void release(List<PairAction> out) {
    master = false;
    announceAt[0] = announceAt[1] = reinitiateAt = NEVER;
    out.add(new PairAction.CloseGate());
    out.add(new PairAction.StreamState(false));
  }

  /** What the driver last saw of a peer (replaces what was known of it). */
  public void observe(PeerHandshake h) {
    peers.put(h.peer(), h);
  }

  /** The driver's whole view of the peers: peers not in it are forgotten. */
  public void observeAll(Collection<PeerHandshake> all) {
    peers.clear();
    for (PeerHandshake h : all) {
      observe(h);
    }
  }

  /** A further tracked interface's link: down (or gone) forces FAULT. */
  public List<PairAction> linkState(String ifname, boolean up) {
    List<PairAction> out = new ArrayList<>(1);
    report(PairConfig.LINK_CONDITION_PREFIX + ifname, up, up ? "link up" : "link down or interface gone", out);
    return out;
  }

  /** The twin's tunnel health as the state sync delivered it, received at {@code now} (monotonic). */
  public void twinHealth(TunnelHealth report, long now) {
    twinReport = Objects.requireNonNull(report, "report");
    twinReportAt = now;
  }

  /**
   * The passage of time: repeated announcements and initiations after a takeover, and once a
   * second the handshake rule (reported to VRRP when its verdict changes). {@code now} is
   * monotonic, {@code wall} the wall clock, both in ns and from the tunnel's clock.
   */
  public List<PairAction> tick(long now, long wall) {
    List<PairAction> out = new ArrayList<>(2);
    for (int i = 0; i < announceAt.length; i++) {
      if (announceAt[i] != NEVER && now - announceAt[i] >= 0) {
        announceAt[i] = NEVER;
        out.add(new PairAction.Announce());
      }
    }
    if (reinitiateAt != NEVER && now - reinitiateAt >= 0) {
      reinitiateAt = NEVER;
      long since = masterSinceNanos;
      for (PeerHandshake p : peers.values()) {
        if (p.reachable() && (p.lastNanos() == Long.MIN_VALUE || p.lastNanos() - since < 0)) {
          out.add(new PairAction.Initiate(p.peer()));
        }
      }
    }
    if (limitNanos > 0 && (nextHandshakeCheck == NEVER || now - nextHandshakeCheck >= 0)) {
      nextHandshakeCheck = now + HANDSHAKE_CHECK_NANOS;
      boolean healthy = handshakeHealthy(now, wall);
      report(PairConfig.HANDSHAKE_CONDITION, healthy, why, out);
    }
    return out;
  }

  /** Leaving the pair (the driver stops VRRP, which sends priority 0): mute and stop streaming. */
  public List<PairAction> shutdown() {
    List<PairAction> out = new ArrayList<>(2);
    release(out);
    return out;
  }

  // ------------------------------------------------------------------ the rule

  /** Evaluates the handshake rule now (as {@link #tick} does once a second); see the class comment. */
  boolean handshakeHealthy(long now, long wall) {
    if (!master) {
      TunnelHealth r = twinReport;
      boolean fresh = r != null && now - twinReportAt < TWIN_REPORT_FRESH_NANOS;
      if (fresh && r.failing()) {
        twinSeenFailingWall = wall;
        if (failedAsMaster) {
          failedAsMaster = false;
          why = "the master's tunnel fails too: the remote side is down, not this box's path; priority restored";
          return true;
        }
      } else if (fresh && r.newestHandshakeWallNanos() > twinSeenFailingWall) {
        twinSeenFailingWall = 0; // the master has handshaken since: that outage is over
      }
      why = failedAsMaster ? "failed as master and the master is not known to fail too: stays lowered"
          : "backup: a backup cannot handshake";
      return !failedAsMaster;
    }
    if (!masterFailing(now, wall)) {
      why = now - masterSinceNanos < limitNanos ? "master within its grace" : "a handshake within the limit";
      return true;
    }
    long seen = twinSeenFailingWall;
    if (seen > 0 && newestHandshakeWall() < seen) {
      why = "no handshake, but the other box failed in this same outage: the remote side is down";
      return true;
    }
    failedAsMaster = true;
    why = "no handshake with any peer for " + config.handshakeWithinSeconds() + " s as master; lowering priority by "
        + config.handshakeWeight() + " so the other box takes over";
    return false;
  }

  /** MASTER past its grace with no handshake completed within the last N s. */
  private boolean masterFailing(long now, long wall) {
    if (!master || now - masterSinceNanos < limitNanos) {
      return false;
    }
    long newest = newestHandshakeWall();
    return !(newest > 0 && wall - newest < limitNanos);
  }

  private long newestHandshakeWall() {
    long newest = 0;
    for (PeerHandshake p : peers.values()) {
      newest = Math.max(newest, p.lastWallNanos());
    }
    return newest;
  }

  private void report(String condition, boolean healthy, String reason, List<PairAction> out) {
    Boolean before = reported.put(condition, healthy);
    if (before == null || before != healthy) {
      out.add(new PairAction.SetCondition(condition, healthy, reason));
    }
  }

  // ------------------------------------------------------------------ queries

  /** What this box tells its twin once a second (the state sync's health report). */
  public TunnelHealth health(long now, long wall) {
    return new TunnelHealth(newestHandshakeWall(), master ? Math.max(0, now - masterSinceNanos) : 0,
        limitNanos > 0 && masterFailing(now, wall));
  }

  /** Whether the pair is MASTER here: the gate is open. */
  public boolean isMaster() {
    return master;
  }

  /** Whether this box failed the handshake check as master and is still lowered for it. */
  public boolean failedAsMaster() {
    return failedAsMaster;
  }

  /** Whether, as backup, it heard the master fail and the master has not handshaken since. */
  public boolean twinSeenFailing() {
    return twinSeenFailingWall > 0;
  }

  public long takeovers() {
    return takeovers;
  }

  public long releases() {
    return releases;
  }
}
