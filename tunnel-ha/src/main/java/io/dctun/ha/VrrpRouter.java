package io.dctun.ha;

import io.dctun.ha.VrrpAction.AddVips;
import io.dctun.ha.VrrpAction.GratuitousArp;
import io.dctun.ha.VrrpAction.RemoveVips;
import io.dctun.ha.VrrpAction.SendAdvert;
import io.dctun.ha.VrrpAction.StateChange;
import io.dctun.ha.VrrpCounters.Event;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The VRRPv3 router state machine of RFC 5798 section 6, sans I/O: it is given the time (any
 * monotonic nanosecond clock, e.g. {@link System#nanoTime()}) and its input, and returns the
 * {@link VrrpAction}s to carry out. It opens no socket, starts no thread, reads no clock.
 *
 * <p>Timers are absolute deadlines. Only three things move them: sending an advert (master),
 * accepting an advert that RFC 5798 says resets Master_Down_Timer (backup), and a state change.
 * A packet that fails any check is counted under its {@link DropReason} and changes nothing
 * else; keepalived 2.2.7 as master let a stream of invalid adverts stretch its own advert gaps
 * from 100 ms to 300-400 ms, which this design rules out.
 *
 * <p>Master adverts are scheduled from the previous deadline, not from the time they were sent,
 * so a late wake-up does not accumulate drift; after a stall longer than one interval the
 * schedule restarts from now rather than bursting.
 *
 * <p>Beyond the RFC, as keepalived: FAULT state (a tracked condition, or the sync group, forbids
 * taking part; a master going to FAULT sends a priority-0 advert first); priority tracking by
 * weight; preempt delay (no preemption for that long after start or leaving FAULT).
 *
 * <p>A master that hears a lower-priority master (its twin took over by mistake, say a backup
 * starved of CPU past Master_Down_Interval) keeps the VIPs, and announces them again
 * {@link #REANNOUNCE_AFTER_CONFLICT_NANOS} later (keepalived's {@code garp_lower_prio_delay}):
 * the other box's gratuitous ARP pointed the neighbours at its MAC, and once it is backup again
 * nothing else would point them back until their entries expire (measured in {@code dctun demo}:
 * 24-42 s of a site's traffic into a muted backup). Not at once: a neighbour ignores an update
 * within {@code locktime} (1 s) of the last one, which was the other box's. One such
 * re-announcement is pending at a time, so a stream of adverts costs at most one burst per
 * 1.1 s, and it moves no advert timer.
 *
 * <p>Thread-safety: none. One thread drives a router (the I/O loop, or a test).
 */
public final class VrrpRouter {
  /** No deadline pending. */
  public static final long NEVER = Long.MAX_VALUE;
  /** A master announces its VIPs again this long after hearing a lower-priority master: past the neighbours' 1 s locktime. */
  public static final long REANNOUNCE_AFTER_CONFLICT_NANOS = 1_100_000_000L;
  static final String GROUP_FAULT = "sync-group";

  private final VrrpConfig config;
  private final String name;
  private final int primary;
  private final byte[] primaryBytes;
  /** 4 (IPv4) or 16 (IPv6): the length of every address this router deals in. */
  private final int alen;
  private final int[] vips;
  private final byte[] vipBytes;
  private final VrrpCounters counters = new VrrpCounters();
  private final VrrpAdvert scratch = new VrrpAdvert();
  private final Map<String, VrrpConfig.Track> tracks = new HashMap<>();
  private final Map<String, Boolean> unhealthy = new HashMap<>();

  private VrrpState state = VrrpState.INITIALIZE;
  private int masterAdverCentis;
  private long adverTimer = NEVER;
  private long masterDownTimer = NEVER;
  /** MASTER: gratuitous ARP due then, after a lower-priority master was heard (NEVER: none pending). */
  private long reannounceTimer = NEVER;
  private long preemptAllowedAt;
  private int failedWeight;
  private int faults;
  /** A member of a sync group of two or more: Master_Down_Timer only says it wants MASTER. */
  private boolean groupMember;
  /** As keepalived's wantstate: this backup's Master_Down_Timer fired, the group has not followed. */
  private boolean wantsMaster;

  /** A router whose config names its primary address. */
  public VrrpRouter(VrrpConfig config) {
    this(config, primaryOf(config));
  }

  /** An IPv4 router with this primary address (big-endian int), e.g. read from the interface. */
  public VrrpRouter(VrrpConfig config, int primaryAddress) {
    this(config, VrrpAdvert.toInet(primaryAddress));
  }

  /**
   * A router with this primary address (of the config's family): for IPv6, the interface's
   * link-local address, which is the source of its adverts.
   */
  public VrrpRouter(VrrpConfig config, InetAddress primaryAddress) {
    this.config = config;
    this.name = config.name();
    this.primaryBytes = primaryAddress.getAddress();
    this.alen = config.family() == 6 ? 16 : 4;
    if (primaryBytes.length != alen) {
      throw new IllegalArgumentException(name + ": primary address " + primaryAddress.getHostAddress()
          + " is not IPv" + config.family());
    }
    this.primary = alen == 4 ? VrrpCodec.i32(primaryBytes, 0) : 0;
    int n = config.vips().size();
    this.vips = new int[alen == 4 ? n : 0];
    this.vipBytes = new byte[n * alen];
    for (int i = 0; i < n; i++) {
      byte[] a = config.vips().get(i).address().getAddress();
      System.arraycopy(a, 0, vipBytes, i * alen, alen);
      if (alen == 4) {
        vips[i] = VrrpCodec.i32(a, 0);
      }
    }
    for (VrrpConfig.Track t : config.tracks()) {
      tracks.put(t.name(), t);
    }
    tracks.put(GROUP_FAULT, VrrpConfig.Track.fault(GROUP_FAULT));
    this.masterAdverCentis = config.advertIntervalCentis();
  }

  private static InetAddress primaryOf(VrrpConfig c) {
    if (c.primaryAddress() == null) {
      throw new IllegalArgumentException(c.name() + ": no primary address configured");
    }
    return c.primaryAddress();
  }

  public VrrpConfig config() { return config; }

  public String name() { return name; }

  public VrrpState state() { return state; }

  /** The IPv4 primary address as a big-endian int (0 for IPv6). */
  public int primaryAddress() { return primary; }

  /** The primary address's 4 or 16 bytes (do not modify). */
  byte[] primaryBytes() { return primaryBytes; }

  /** 4 or 6. */
  public int family() { return alen == 16 ? 6 : 4; }

  /** The IPv4 virtual addresses as big-endian ints, in config order (empty for IPv6; do not modify). */
  int[] vipsRaw() { return vips; }

  /** The virtual addresses' bytes back to back, 4 or 16 each, in config order (do not modify). */
  byte[] vipBytes() { return vipBytes; }

  public VrrpCounters counters() { return counters; }

  /** Master_Adver_Interval: ours as master, the master's as backup. */
  public int masterAdverIntervalCentis() { return masterAdverCentis; }

  /** The priority after tracked conditions: 255 only for an owner with nothing failing. */
  public int effectivePriority() {
    int base = config.priority();
    if (failedWeight == 0) {
      return base;
    }
    return Math.max(1, Math.min(254, base - failedWeight));
  }

  /** Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in nanoseconds. */
  public long skewTimeNanos() {
    return (256L - effectivePriority()) * masterAdverCentis * 10_000_000L / 256;
  }

  /** Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, in nanoseconds. */
  public long masterDownIntervalNanos() {
    return 3L * masterAdverCentis * 10_000_000L + skewTimeNanos();
  }

  /** The earliest time {@link #poll} has something to do, or {@link #NEVER}. */
  public long nextDeadline() {
    return switch (state) {
      case MASTER -> reannounceTimer != NEVER && reannounceTimer - adverTimer < 0 ? reannounceTimer : adverTimer;
      case BACKUP -> masterDownTimer;
      default -> NEVER;
    };
  }

  /** Startup event (RFC 5798 6.4.1). */
  public List<VrrpAction> start(long now) {
    List<VrrpAction> out = new ArrayList<>(4);
    if (state != VrrpState.INITIALIZE) {
      return out;
    }
    preemptAllowedAt = now + config.preemptDelay().toNanos();
    enterRunning(now, out, "start");
    return out;
  }

  /** Shutdown event: a master sends a priority-0 advert and drops the VIPs. */
  public List<VrrpAction> shutdown(long now) {
    List<VrrpAction> out = new ArrayList<>(4);
    if (state == VrrpState.MASTER) {
      sendAdvert(out, 0);
      out.add(new RemoveVips(name));
    }
    transition(out, VrrpState.INITIALIZE, "shutdown");
    adverTimer = NEVER;
    masterDownTimer = NEVER;
    return out;
  }

  /** Timer events due at {@code now}. */
  public List<VrrpAction> poll(long now) {
    List<VrrpAction> out = new ArrayList<>(4);
    if (state == VrrpState.MASTER && reannounceTimer != NEVER && now - reannounceTimer >= 0) {
      reannounceTimer = NEVER;
      out.add(new GratuitousArp(name));
    }
    if (state == VrrpState.MASTER && now - adverTimer >= 0) {
      sendAdvert(out, effectivePriority());
      long interval = config.advertIntervalNanos();
      adverTimer += interval;
      if (now - adverTimer >= 0) {
        adverTimer = now + interval; // stalled for over an interval: restart, do not burst
      }
    } else if (state == VrrpState.BACKUP && now - masterDownTimer >= 0) {
      if (groupMember) {
        // the group goes MASTER only when every member wants to (VrrpSyncGroup); until a master
        // is heard again this member waits without a timer: nothing to do, nothing to repeat
        masterDownTimer = NEVER;
        if (!wantsMaster) {
          wantsMaster = true;
          counters.count(Event.SYNC_GROUP_WAIT);
        }
      } else {
        becomeMaster(now, out, "Master_Down_Timer fired");
      }
    }
    return out;
  }

  /**
   * A received IPv4 or IPv6 packet (from its IP header). Anything that is not a valid advert for
   * this VRID and family is counted under its {@link DropReason} and returns no action. The
   * TTL / hop limit must be 255 unless the config has unicast peers and turns the check off
   * ({@link VrrpConfig#checksTtl()}); in unicast mode the sender must be a configured peer.
   */
  public List<VrrpAction> onPacket(long now, byte[] buf, int off, int len) {
    DropReason r = VrrpCodec.decode(buf, off, len, scratch, config.checksTtl());
    if (r != DropReason.NONE) {
      counters.drop(r);
      return List.of();
    }
    return onAdvert(now, scratch);
  }

  /** A decoded advert (already through {@link VrrpCodec#decode}). */
  public List<VrrpAction> onAdvert(long now, VrrpAdvert a) {
    DropReason r = check(a);
    if (r != DropReason.NONE) {
      counters.drop(r);
      return List.of();
    }
    counters.count(Event.ADVERTS_ACCEPTED);
    if (a.priority == 0) {
      counters.count(Event.PRIORITY_ZERO_RECEIVED);
    }
    if (!sameAddresses(a)) {
      counters.count(Event.ADDRESS_LIST_MISMATCH);
    }
    // VRRPv3 has no authentication: what a forged advert would look like is counted (the
    // pair's two boxes have the same interval, and neither owns the VIPs)
    if (a.priority != 0 && a.intervalCentis != config.advertIntervalCentis()) {
      counters.count(Event.INTERVAL_MISMATCH);
    }
    if (a.priority == VrrpConfig.OWNER_PRIORITY && !ownsAVip(a)) {
      counters.count(Event.OWNER_PRIORITY_NOT_OWNER);
    }
    List<VrrpAction> out = new ArrayList<>(4);
    int mine = effectivePriority();
    if (state == VrrpState.BACKUP) {
      if (a.priority == 0) {
        masterDownTimer = now + skewTimeNanos();
      } else if (!config.preempt() || a.priority >= mine || now - preemptAllowedAt < 0) {
        masterAdverCentis = a.intervalCentis;
        masterDownTimer = now + masterDownIntervalNanos();
        wantsMaster = false; // this member hears a master it defers to: the group stays BACKUP
      } else {
        counters.count(Event.LOWER_PRIORITY_IGNORED);
      }
    } else { // MASTER
      if (a.priority == 0) {
        sendAdvert(out, mine);
        adverTimer = now + config.advertIntervalNanos();
      } else if (a.priority > mine
          || (a.priority == mine
              && Arrays.compareUnsigned(a.sourceBytes, 0, alen, primaryBytes, 0, alen) > 0)) {
        masterAdverCentis = a.intervalCentis;
        becomeBackup(now, out, "higher-priority master " + a.sourceAddress().getHostAddress()
            + " (priority " + a.priority + ")");
      } else {
        counters.count(Event.MASTER_CONFLICT_WON);
        if (reannounceTimer == NEVER) {
          reannounceTimer = now + REANNOUNCE_AFTER_CONFLICT_NANOS;
        }
      }
    }
    return out;
  }

  /**
   * Reports a tracked condition (declared in {@link VrrpConfig#tracks()}): healthy or not.
   * Unknown names are a configuration error.
   */
  public List<VrrpAction> setCondition(long now, String condition, boolean healthy) {
    VrrpConfig.Track t = tracks.get(condition);
    if (t == null) {
      throw new IllegalArgumentException(name + ": no tracked condition named " + condition
          + "; configured: " + tracks.keySet());
    }
    List<VrrpAction> out = new ArrayList<>(4);
    boolean wasUnhealthy = unhealthy.getOrDefault(condition, false);
    if (wasUnhealthy == !healthy) {
      return out;
    }
    unhealthy.put(condition, !healthy);
    int sign = healthy ? -1 : 1;
    if (t.fault()) {
      faults += sign;
    } else {
      failedWeight += sign * t.weight();
    }
    if (faults > 0 && state != VrrpState.FAULT && state != VrrpState.INITIALIZE) {
      if (state == VrrpState.MASTER) {
        sendAdvert(out, 0);
        out.add(new RemoveVips(name));
      }
      adverTimer = NEVER;
      masterDownTimer = NEVER;
      transition(out, VrrpState.FAULT, condition + " down");
      counters.count(Event.BECAME_FAULT);
    } else if (faults == 0 && state == VrrpState.FAULT) {
      preemptAllowedAt = now + config.preemptDelay().toNanos();
      masterAdverCentis = config.advertIntervalCentis();
      enterRunning(now, out, condition + " up");
    }
    return out;
  }

  /** Whether a condition is currently reported unhealthy. */
  public boolean isUnhealthy(String condition) {
    return unhealthy.getOrDefault(condition, false);
  }

  /** The sync group forces this member to BACKUP (if master). */
  List<VrrpAction> forceBackup(long now, String why) {
    List<VrrpAction> out = new ArrayList<>(4);
    if (state == VrrpState.MASTER) {
      becomeBackup(now, out, why);
    }
    return out;
  }

  /**
   * Whether this backup's Master_Down_Timer fired while its sync group held it (it hears no
   * master it defers to); false in any other state.
   */
  public boolean wantsMaster() {
    return state == VrrpState.BACKUP && wantsMaster;
  }

  /** Called once by a {@link VrrpSyncGroup} of two or more members. */
  void joinGroup() {
    groupMember = true;
  }

  /** The sync group forces this member to MASTER (if backup). */
  List<VrrpAction> forceMaster(long now, String why) {
    List<VrrpAction> out = new ArrayList<>(4);
    if (state == VrrpState.BACKUP) {
      becomeMaster(now, out, why);
    }
    return out;
  }

  private DropReason check(VrrpAdvert a) {
    if (a.addressLength() != alen) {
      return DropReason.WRONG_FAMILY;
    }
    if (a.vrid != config.vrid()) {
      return DropReason.WRONG_VRID;
    }
    if (Arrays.equals(a.sourceBytes, 0, alen, primaryBytes, 0, alen)) {
      return DropReason.OWN_ADVERT;
    }
    if (!config.unicastPeers().isEmpty() && !config.isPeer(a.sourceBytes, alen)) {
      return DropReason.UNKNOWN_PEER;
    }
    if (state != VrrpState.BACKUP && state != VrrpState.MASTER) {
      return DropReason.NOT_RUNNING;
    }
    return DropReason.NONE;
  }

  /** Whether the advert's source is one of our VIPs: the only router entitled to priority 255. */
  private boolean ownsAVip(VrrpAdvert a) {
    for (int v = 0; v < vipBytes.length; v += alen) {
      if (Arrays.equals(a.sourceBytes, 0, alen, vipBytes, v, v + alen)) {
        return true;
      }
    }
    return false;
  }

  private boolean sameAddresses(VrrpAdvert a) {
    int n = vipBytes.length / alen;
    if (a.addressCount != n) {
      return false;
    }
    outer:
    for (int v = 0; v < n; v++) {
      for (int i = 0; i < a.addressCount; i++) {
        if (Arrays.equals(a.addressBytes, i * alen, i * alen + alen, vipBytes, v * alen, v * alen + alen)) {
          continue outer;
        }
      }
      return false;
    }
    return true;
  }

  private void enterRunning(long now, List<VrrpAction> out, String why) {
    if (faults > 0) {
      transition(out, VrrpState.FAULT, why + ", but a fault condition holds");
      counters.count(Event.BECAME_FAULT);
    } else if (effectivePriority() == VrrpConfig.OWNER_PRIORITY) {
      becomeMaster(now, out, why + ", address owner");
    } else {
      masterAdverCentis = config.advertIntervalCentis();
      becomeBackup(now, out, why);
    }
  }

  private void becomeMaster(long now, List<VrrpAction> out, String why) {
    masterAdverCentis = config.advertIntervalCentis();
    masterDownTimer = NEVER;
    out.add(new AddVips(name));
    transition(out, VrrpState.MASTER, why);
    sendAdvert(out, effectivePriority());
    out.add(new GratuitousArp(name));
    adverTimer = now + config.advertIntervalNanos();
    counters.count(Event.BECAME_MASTER);
  }

  private void becomeBackup(long now, List<VrrpAction> out, String why) {
    if (state == VrrpState.MASTER) {
      out.add(new RemoveVips(name));
    } else if (state == VrrpState.INITIALIZE || state == VrrpState.FAULT) {
      // a restart may find VIPs a crashed predecessor left behind: a backup must not hold them
      out.add(new RemoveVips(name));
    }
    adverTimer = NEVER;
    masterDownTimer = now + masterDownIntervalNanos();
    transition(out, VrrpState.BACKUP, why);
    counters.count(Event.BECAME_BACKUP);
  }

  private void sendAdvert(List<VrrpAction> out, int priority) {
    out.add(new SendAdvert(name, priority));
    counters.count(priority == 0 ? Event.PRIORITY_ZERO_SENT : Event.ADVERTS_SENT);
  }

  private void transition(List<VrrpAction> out, VrrpState to, String why) {
    VrrpState from = state;
    wantsMaster = false;
    reannounceTimer = NEVER; // a new master announces anyway; any other state holds no VIP
    state = to;
    if (from != to) {
      out.add(new StateChange(name, from, to, why));
    }
  }

  @Override
  public String toString() {
    return "VrrpRouter[" + name + " vrid " + config.vrid() + " " + state + " prio "
        + effectivePriority() + "]";
  }
}
