package io.dctun.ha;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one router. Written by the router's thread, readable from any thread.
 */
public final class VrrpCounters {
  private static final DropReason[] REASONS = DropReason.values();

  private final AtomicLongArray drops = new AtomicLongArray(REASONS.length);
  private final AtomicLongArray events = new AtomicLongArray(Event.values().length);

  /** Things counted besides drops. */
  public enum Event {
    ADVERTS_SENT, PRIORITY_ZERO_SENT, ADVERTS_ACCEPTED, PRIORITY_ZERO_RECEIVED,
    /** Backup: a lower-priority master's advert ignored so that we preempt. */
    LOWER_PRIORITY_IGNORED,
    /** Master: an advert from a router that loses to us, ignored. */
    MASTER_CONFLICT_WON,
    /** The VIP list of an accepted advert differs from ours (RFC 5798 says MAY log). */
    ADDRESS_LIST_MISMATCH,
    BECAME_MASTER, BECAME_BACKUP, BECAME_FAULT,
    /**
     * Sync group: this backup's Master_Down_Timer fired but another member still hears a master
     * it defers to, so the group stays BACKUP (counted once per wait, not per interval).
     */
    SYNC_GROUP_WAIT,
    /**
     * An accepted advert (not priority 0) whose interval differs from ours: a misconfigured peer,
     * or a forged advert with a long interval that stretches the backup's Master_Down_Interval.
     */
    INTERVAL_MISMATCH,
    /**
     * An accepted advert with priority 255 (address owner) whose source is none of our VIPs: no
     * router is entitled to it, a forged advert taking the VIPs is what sends it.
     */
    OWNER_PRIORITY_NOT_OWNER
  }

  void drop(DropReason r) {
    drops.incrementAndGet(r.ordinal());
  }

  void count(Event e) {
    events.incrementAndGet(e.ordinal());
  }

  public long drops(DropReason r) {
    return drops.get(r.ordinal());
  }

  public long totalDrops() {
    long s = 0;
    for (int i = 1; i < REASONS.length; i++) {
      s += drops.get(i);
    }
    return s;
  }

  public long get(Event e) {
    return events.get(e.ordinal());
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Event e : Event.values()) {
      sb.append(e.name().toLowerCase()).append('=').append(get(e)).append(' ');
    }
    for (DropReason r : REASONS) {
      if (r != DropReason.NONE && drops(r) != 0) {
        sb.append("drop_").append(r.name().toLowerCase()).append('=').append(drops(r)).append(' ');
      }
    }
    return sb.toString().trim();
  }
}
