package io.dctun.ha;

import io.dctun.ha.VrrpAction.StateChange;
import java.util.ArrayList;
import java.util.List;

/**
 * Instances that move together, as keepalived's {@code vrrp_sync_group}: the public and the
 * private VIP of a gateway pair. When a member becomes BACKUP the other masters follow; when a
 * member enters FAULT every other member is held in FAULT until it recovers; when a member
 * becomes MASTER the other backups follow. Forced transitions do not propagate again.
 *
 * <p>A backup group goes MASTER only when every member wants to: a member whose
 * Master_Down_Timer fires only {@linkplain VrrpRouter#wantsMaster() wants} MASTER, and waits
 * (no timer, no advert, no gratuitous ARP) while another member still hears a master it defers
 * to. keepalived's sync groups do the same ("prefer backup state to avoid thrashing"). Without
 * this, a pair whose public segment is split while the private one is not flaps: the backup's
 * public instance times out and drags the group to MASTER, its private instance hears the real
 * master and drags it back, and so on every Master_Down_Interval. The cases are tabled in
 * tunnel-ha's README ("Sync groups and split segments").
 *
 * <p>Sans I/O like {@link VrrpRouter}: every call returns the members' actions in order, each
 * tagged with its instance name. A single router is a group of one.
 *
 * <p>Thread-safety: none; one thread drives the group.
 */
public final class VrrpSyncGroup {
  private final List<VrrpRouter> members;

  public VrrpSyncGroup(List<VrrpRouter> members) {
    if (members.isEmpty()) {
      throw new IllegalArgumentException("a sync group needs at least one instance");
    }
    this.members = List.copyOf(members);
    if (this.members.size() > 1) {
      for (VrrpRouter r : this.members) {
        r.joinGroup();
      }
    }
  }

  public List<VrrpRouter> members() {
    return members;
  }

  public VrrpRouter member(String name) {
    for (VrrpRouter r : members) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    throw new IllegalArgumentException("no instance " + name + " in sync group");
  }

  public List<VrrpAction> start(long now) {
    List<VrrpAction> out = new ArrayList<>();
    for (VrrpRouter r : members) {
      out.addAll(r.start(now));
    }
    // a member starting in FAULT holds the others
    return propagate(now, out, null);
  }

  public List<VrrpAction> shutdown(long now) {
    List<VrrpAction> out = new ArrayList<>();
    for (VrrpRouter r : members) {
      out.addAll(r.shutdown(now));
    }
    return out;
  }

  public List<VrrpAction> poll(long now) {
    List<VrrpAction> out = new ArrayList<>();
    for (VrrpRouter r : members) {
      List<VrrpAction> a = r.poll(now);
      out.addAll(a);
      propagate(now, out, a);
    }
    return out;
  }

  public long nextDeadline() {
    long d = VrrpRouter.NEVER;
    for (VrrpRouter r : members) {
      long x = r.nextDeadline();
      if (x != VrrpRouter.NEVER && (d == VrrpRouter.NEVER || x - d < 0)) {
        d = x;
      }
    }
    return d;
  }

  /** A packet received on {@code member}'s socket. */
  public List<VrrpAction> onPacket(long now, VrrpRouter member, byte[] b, int off, int len) {
    List<VrrpAction> a = member.onPacket(now, b, off, len);
    if (a.isEmpty()) {
      return a;
    }
    List<VrrpAction> out = new ArrayList<>(a);
    return propagate(now, out, a);
  }

  public List<VrrpAction> onAdvert(long now, VrrpRouter member, VrrpAdvert adv) {
    List<VrrpAction> a = member.onAdvert(now, adv);
    List<VrrpAction> out = new ArrayList<>(a);
    return propagate(now, out, a);
  }

  /** Reports a tracked condition to every member that tracks it. */
  public List<VrrpAction> setCondition(long now, String condition, boolean healthy) {
    List<VrrpAction> out = new ArrayList<>();
    boolean found = false;
    for (VrrpRouter r : members) {
      if (r.config().tracks().stream().anyMatch(t -> t.name().equals(condition))) {
        found = true;
        List<VrrpAction> a = r.setCondition(now, condition, healthy);
        out.addAll(a);
        propagate(now, out, a);
      }
    }
    if (!found) {
      throw new IllegalArgumentException("no instance tracks a condition named " + condition);
    }
    return out;
  }

  /** Applies the group rule to the transitions in {@code changes} (null: check all members). */
  private List<VrrpAction> propagate(long now, List<VrrpAction> out, List<VrrpAction> changes) {
    if (members.size() == 1) {
      return out;
    }
    boolean anyOwnFault = false;
    for (VrrpRouter r : members) {
      anyOwnFault |= r.state() == VrrpState.FAULT && ownFault(r);
    }
    List<StateChange> sc = new ArrayList<>();
    if (changes != null) {
      for (VrrpAction a : changes) {
        if (a instanceof StateChange s) {
          sc.add(s);
        }
      }
    }
    for (VrrpRouter r : members) {
      out.addAll(r.setCondition(now, VrrpRouter.GROUP_FAULT, !anyOwnFault || ownFault(r)));
    }
    for (StateChange s : sc) {
      for (VrrpRouter r : members) {
        if (r.name().equals(s.instance())) {
          continue;
        }
        String why = "sync group: " + s.instance() + " became " + s.to();
        if (s.to() == VrrpState.BACKUP && s.from() == VrrpState.MASTER) {
          out.addAll(r.forceBackup(now, why));
        } else if (s.to() == VrrpState.MASTER) {
          out.addAll(r.forceMaster(now, why));
        }
      }
    }
    if (everyMemberWantsMaster()) {
      for (VrrpRouter r : members) {
        out.addAll(r.forceMaster(now, "sync group: no member hears a master it defers to"));
      }
    }
    return out;
  }

  /** Every member is MASTER or a backup whose Master_Down_Timer fired, and one is the latter. */
  private boolean everyMemberWantsMaster() {
    boolean any = false;
    for (VrrpRouter r : members) {
      if (r.wantsMaster()) {
        any = true;
      } else if (r.state() != VrrpState.MASTER) {
        return false;
      }
    }
    return any;
  }

  private static boolean ownFault(VrrpRouter r) {
    for (VrrpConfig.Track t : r.config().tracks()) {
      if (t.fault() && r.isUnhealthy(t.name())) {
        return true;
      }
    }
    return false;
  }
}
