package io.dctun.core.mesh.etcd;

import io.dctun.core.route.Prefix;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Host locations kept in etcd, as a sans-I/O state machine: what this gateway must write or
 * delete, and which gateway each host is routed to, given local events and what etcd showed.
 * The driver ({@link EtcdHostStore}) runs the transactions and feeds back their results and the
 * watch; this class opens no socket, starts no thread and reads no clock.
 *
 * <pre>
 *   in:  connected(host, version) / disconnected(host)        the engine's events, via a queue
 *        leaseGranted(id) / leaseLost()                        this gateway's lease
 *        listed(kvs, revision) / watched(events)               what etcd holds, and changes
 *        succeeded(op, revision) / compareFailed(op, current)  results of pending() ops
 *   out: pending() -> Write(host, record, lease, expect) / Delete(host, expect)
 *        RouteOutput.routeChanged(host, gateway or null)
 * </pre>
 *
 * <p>The rules:
 *
 * <ul>
 *   <li>One key per host ({@code /dctun/<mesh>/hosts/<prefix>}); its value names the gateway the
 *       host is connected to. A gateway writes only hosts connected to it, under its own lease,
 *       so when it dies its lease expires and etcd deletes its records for everyone at once.
 *   <li>Every write compares the key's {@code mod_revision} with the one last seen, and is only
 *       asked for when the seen record is older (lower version, then lower gateway id) than the
 *       local connection. A move therefore wins whatever order the writes arrive in: the older
 *       connection's write fails its compare, reads the newer record back, and stops.
 *   <li>A record newer than a local connection means the host moved on: the local claim is
 *       dropped ({@code superseded}), as in HostDirectory.
 *   <li>Per key, what is seen only moves forward by {@code mod_revision}: a watch event or a
 *       transaction result older than what is known is ignored, so the watch and the results of
 *       this gateway's own transactions can arrive in any order.
 *   <li>A record written by an earlier incarnation of this gateway routes nowhere and is deleted.
 *   <li>Nothing here waits: with etcd unreachable the routes stay as they were, the ops stay
 *       pending, and a re-list on return brings everything up to date.
 * </ul>
 *
 * <p>Not thread-safe: one driver thread owns it.
 */
public final class EtcdHostTable implements StatusSource {

  /** Where route decisions go. Owner is a gateway id ({@link #self()} for a host connected here) or null. */
  @FunctionalInterface
  public interface RouteOutput {
    void routeChanged(Prefix host, String owner);
  }

  /** A key as etcd showed it: {@code record} null for a deletion. */
  public record Kv(Prefix host, HostRecord record, long modRevision, long lease) {}

  private static final class Seen {
    HostRecord record; // null: a tombstone, kept only while an op on the key is in flight
    long modRevision;
    long lease;
  }

  private final String self;
  private final long incarnation;
  private final RouteOutput out;
  private final Map<Prefix, Long> local = new LinkedHashMap<>();
  private final Map<Prefix, Seen> seen = new HashMap<>();
  private final Map<Prefix, String> owners = new HashMap<>();
  private final Set<Prefix> inFlight = new HashSet<>();
  private final Set<Prefix> dirty = new LinkedHashSet<>();
  private long lease; // 0: none
  private long revision;
  private long listedAt; // the revision of the last full read

  private long superseded;
  private long staleSeen;
  private long compareFailures;
  private long writes;
  private long deletes;
  private long routeChanges;
  private long leasesLost;

  public EtcdHostTable(String self, long incarnation, RouteOutput out) {
    if (incarnation == 0) {
      throw new IllegalArgumentException("incarnation 0 means 'none'; pass a start time");
    }
    this.self = Objects.requireNonNull(self, "self");
    this.incarnation = incarnation;
    this.out = Objects.requireNonNull(out, "out");
  }

  public String self() {
    return self;
  }

  public long incarnation() {
    return incarnation;
  }

  // ------------------------------------------------------------------ local events

  /** A host connected here at {@code version} (its handshake TAI64N). Older than known: ignored. */
  public void connected(Prefix host, long version) {
    Long had = local.get(host);
    if (had != null && had >= version) {
      return;
    }
    Seen s = seen.get(host);
    if (s != null && s.record != null && !s.record.gateway().equals(self) && s.record.newerThan(version, self)) {
      superseded++; // etcd already has a newer connection of this host elsewhere: it moved on
      decide(host);
      return;
    }
    local.put(host, version);
    dirty.add(host);
    decide(host);
  }

  /** The host's session here is gone: its record is deleted, if it is still this gateway's. */
  public void disconnected(Prefix host) {
    if (local.remove(host) != null) {
      dirty.add(host);
      decide(host);
    }
  }

  // ------------------------------------------------------------------ the lease

  public void leaseGranted(long id) {
    if (id == 0) {
      throw new IllegalArgumentException("lease id 0 means 'none'");
    }
    lease = id;
    dirty.addAll(local.keySet()); // (re)assert every local host under the new lease
  }

  /** The lease is gone (expired while etcd was out of reach, or revoked): etcd drops its keys. */
  public void leaseLost() {
    if (lease != 0) {
      leasesLost++;
    }
    lease = 0;
    dirty.addAll(local.keySet());
  }

  public long lease() {
    return lease;
  }

  // ------------------------------------------------------------------ what etcd shows

  /**
   * A full read of the prefix at {@code revision}: replaces what was seen (a key missing from it
   * is gone), except where a result newer than the read is already known.
   */
  public void listed(List<Kv> kvs, long revision) {
    this.revision = Math.max(this.revision, revision);
    this.listedAt = Math.max(listedAt, revision);
    Map<Prefix, Kv> now = new HashMap<>();
    for (Kv kv : kvs) {
      now.put(kv.host(), kv);
    }
    Set<Prefix> touched = new HashSet<>(seen.keySet());
    touched.addAll(now.keySet());
    for (Prefix host : touched) {
      Seen s = seen.get(host);
      Kv kv = now.get(host);
      if (s != null && s.modRevision > revision) {
        continue; // our own result, newer than the read
      }
      if (kv == null) {
        seen.remove(host);
      } else {
        put(host, kv);
      }
      after(host);
    }
    dirty.addAll(local.keySet());
  }

  /** Changes from the watch, in revision order. */
  public void watched(List<Kv> events) {
    for (Kv kv : events) {
      observe(kv);
    }
  }

  /** The revision of the newest read, event or result seen. */
  public long revision() {
    return revision;
  }

  // ------------------------------------------------------------------ ops

  /** The ops to run now; each stays in flight until its result (or failure) is reported. */
  public List<EtcdOp> pending() {
    List<EtcdOp> ops = new ArrayList<>();
    for (var it = dirty.iterator(); it.hasNext(); ) {
      Prefix host = it.next();
      if (inFlight.contains(host)) {
        continue; // re-judged when its result comes
      }
      it.remove();
      EtcdOp op = opFor(host);
      if (op != null) {
        inFlight.add(host);
        ops.add(op);
      }
    }
    return ops;
  }

  private EtcdOp opFor(Prefix host) {
    Seen s = seen.get(host);
    long expect = s == null || s.record == null ? 0 : s.modRevision;
    Long v = local.get(host);
    if (v != null) {
      if (lease == 0) {
        return null; // written once a lease is granted (leaseGranted marks it dirty)
      }
      HostRecord want = new HostRecord(self, v, incarnation);
      if (s != null && s.record != null && s.record.equals(want) && s.lease == lease) {
        return null;
      }
      return new EtcdOp.Write(host, want, lease, expect);
    }
    if (s != null && s.record != null && s.record.gateway().equals(self)) {
      return new EtcdOp.Delete(host, expect);
    }
    return null;
  }

  /** The op ran; etcd's revision after it is {@code revision}. */
  public void succeeded(EtcdOp op, long revision) {
    inFlight.remove(op.host());
    if (op instanceof EtcdOp.Write w) {
      writes++;
      observe(new Kv(w.host(), w.record(), revision, w.lease()));
    } else {
      deletes++;
      observe(new Kv(op.host(), null, revision, 0));
    }
    settle(op.host());
  }

  /** The op's compare failed; {@code current} is the key as read back ({@code record} null: absent). */
  public void compareFailed(EtcdOp op, Kv current) {
    inFlight.remove(op.host());
    compareFailures++;
    if (current.record() == null) {
      // Absent now: deleted at some revision we may not have seen. Forget the record.
      Seen s = seen.get(op.host());
      if (s != null && s.modRevision <= current.modRevision()) {
        seen.remove(op.host());
        after(op.host());
      }
    } else {
      observe(current);
    }
    settle(op.host());
  }

  /** The op did not complete (etcd out of reach); it is asked for again by a later {@link #pending}. */
  public void failed(EtcdOp op) {
    inFlight.remove(op.host());
    dirty.add(op.host());
  }

  private void settle(Prefix host) {
    Seen s = seen.get(host);
    if (s != null && s.record == null && !inFlight.contains(host)) {
      seen.remove(host); // the tombstone has done its job
    }
    dirty.add(host);
  }

  // ------------------------------------------------------------------ queries

  /** The gateway the host is routed to ({@link #self()} if here), or null. */
  public String owner(Prefix host) {
    return owners.get(host);
  }

  public Map<Prefix, String> routes() {
    return Map.copyOf(owners);
  }

  public Map<Prefix, Long> localHosts() {
    return Map.copyOf(local);
  }

  /** Whether every local host is written as it should be and nothing is in flight. */
  public boolean settled() {
    for (Prefix h : dirty) {
      if (inFlight.contains(h) || opFor(h) != null) {
        return false;
      }
    }
    return inFlight.isEmpty();
  }

  @Override
  public void report(StatusSink s) {
    s.gauge("local-hosts", local.size());
    s.gauge("routes", owners.size());
    s.gauge("lease-held", lease != 0 ? 1 : 0);
    s.gauge("last-revision", revision);
    s.gauge("ops-in-flight", inFlight.size());
    s.counter("writes", writes);
    s.counter("deletes", deletes);
    s.counter("compare-failures", compareFailures);
    s.counter("superseded", superseded);
    s.counter("stale-seen", staleSeen);
    s.counter("route-changes", routeChanges);
    s.counter("leases-lost", leasesLost);
  }

  // ------------------------------------------------------------------ internals

  private void observe(Kv kv) {
    revision = Math.max(revision, kv.modRevision());
    Seen s = seen.get(kv.host());
    if (s != null ? s.modRevision >= kv.modRevision() : kv.modRevision() <= listedAt) {
      staleSeen++; // older than what is known (for an absent key: than the last full read)
      return;
    }
    if (kv.record() == null && !inFlight.contains(kv.host())) {
      seen.remove(kv.host());
    } else {
      put(kv.host(), kv);
    }
    after(kv.host());
  }

  private void put(Prefix host, Kv kv) {
    Seen s = seen.computeIfAbsent(host, k -> new Seen());
    s.record = kv.record();
    s.modRevision = kv.modRevision();
    s.lease = kv.lease();
  }

  /** After what is seen of {@code host} changed: drop a superseded local claim, re-decide, re-judge. */
  private void after(Prefix host) {
    Seen s = seen.get(host);
    Long mine = local.get(host);
    if (mine != null && s != null && s.record != null && !s.record.gateway().equals(self)
        && s.record.newerThan(mine, self)) {
      local.remove(host);
      superseded++;
    }
    dirty.add(host);
    decide(host);
  }

  private void decide(Prefix host) {
    String best = null;
    Seen s = seen.get(host);
    if (s != null && s.record != null && !s.record.gateway().equals(self) && !s.record.gateway().isEmpty()) {
      best = s.record.gateway(); // (an empty gateway: an unreadable value, no owner)
    }
    Long mine = local.get(host);
    if (mine != null && (best == null || !s.record.newerThan(mine, self))) {
      best = self;
    }
    String before = best == null ? owners.remove(host) : owners.put(host, best);
    if (!Objects.equals(before, best)) {
      routeChanges++;
      out.routeChanged(host, best);
    }
  }
}
