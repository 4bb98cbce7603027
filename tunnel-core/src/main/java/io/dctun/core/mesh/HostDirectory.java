package io.dctun.core.mesh;

import io.dctun.core.mesh.MeshMessage.Announce;
import io.dctun.core.mesh.MeshMessage.Entry;
import io.dctun.core.mesh.MeshMessage.Hello;
import io.dctun.core.mesh.MeshMessage.Withdraw;
import io.dctun.core.route.Prefix;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where each host is connected, shared between active-active gateways: the route-sharing
 * protocol as a sans-I/O state machine. Events and time in ({@link #connected}, {@link
 * #disconnected}, {@link #receive}, {@link #tick}); messages and route changes out, through
 * {@link MeshOutput}.
 *
 * <pre>
 *   host connects to G2 (version v2 > v1)    G2 --Announce(h, v2, lease)--> every other gateway
 *   G1, G3, ...: claims[h] = {G1: v1, G2: v2}  ->  owner(h) = G2 (highest version, then highest id)
 *   G1 sees a higher version than its own     ->  drops its local claim (the host moved away)
 *   G2 dies                                   ->  its claims expire after the lease everywhere
 *   G2 restarts (new incarnation)             ->  Hello; every gateway purges G2's old claims
 *                                                 and sends G2 its own local hosts
 * </pre>
 *
 * <p>The rules that make it converge whatever order messages arrive in, and never loop:
 *
 * <ul>
 *   <li>Only local hosts are announced. What a gateway learned is never passed on, so a claim
 *       always comes from the gateway the host is connected to and cannot circulate.
 *   <li>The version orders connections of one host. The driver passes the TAI64N timestamp of the
 *       host's handshake initiation: the host's own clock, which WireGuard already requires to
 *       grow (a responder refuses an older one), so two gateways agree which connection is newer
 *       without synchronised clocks between them. Equal versions fall back to the gateway id.
 *   <li>Per host and gateway, a claim only moves forward: an announcement older than what is
 *       known is stale, and a withdrawal leaves a tombstone for a lease so that an announcement
 *       it overtook cannot resurrect the claim.
 *   <li>Claims are leases: refreshed every third of the lease, and gone without a refresh. A lost
 *       message is repaired by the next refresh; a dead gateway's hosts vanish after one lease.
 *   <li>Every message carries the sender's incarnation; one from an older incarnation is ignored,
 *       and the first from a newer one drops everything the old one said. A Hello from an older
 *       incarnation is answered with a Hello that acknowledges the newer one; a gateway that is
 *       acknowledged an incarnation of its own identity above its own (the HA twin that shares its
 *       key and ran as master before it, or its own earlier run on a clock set back) raises its
 *       incarnation above it and greets everyone again, so it is heard after one more round trip
 *       instead of being ignored as stale until it restarts.
 * </ul>
 *
 * <p>Not thread-safe: one driver thread (the engine's tick and the control handler hand events to
 * it, or it is synchronised externally). Time is monotonic nanoseconds.
 *
 * @param <G> gateway identity (a public key, or an integer in simulations); ordered, for ties
 */
public final class HostDirectory<G extends Comparable<G>> implements StatusSource {
  /** How long a claim holds without a refresh. */
  public static final int DEFAULT_LEASE_MILLIS = 15_000;
  /** Entries per message: a whole Announce stays below one control frame at MTU 1280. */
  public static final int MAX_ENTRIES_PER_MESSAGE = 40;
  private static final long HELLO_RETRY_NANOS = 1_000_000_000L;

  private final G self;
  private long incarnation;
  private final int leaseMillis;
  private final long leaseNanos;
  private final MeshOutput<G> out;

  /** Hosts connected here, with the version of their connection. */
  private final Map<Prefix, Long> local = new LinkedHashMap<>();
  /** What other gateways claim, per host; withdrawn claims are tombstones until they expire. */
  private final Map<Prefix, Map<G, Claim>> claims = new HashMap<>();
  /** The owner last reported through {@link MeshOutput#routeChanged}, per host. */
  private final Map<Prefix, G> owners = new HashMap<>();
  private final Map<G, PeerState> peers = new LinkedHashMap<>();
  private long nextRefresh = Long.MIN_VALUE;

  private long staleEntries;
  private long staleIncarnation;
  private long incarnationRaised;
  private long unknownGateway;
  private long superseded;
  private long expired;
  private long messagesSent;
  private long routeChanges;

  private static final class Claim {
    long version;
    long expiresAt;
    boolean withdrawn;
  }

  private static final class PeerState {
    long incarnation; // 0: not heard from yet
    boolean acked; // it has our incarnation
    long lastHello = Long.MIN_VALUE;
  }

  /**
   * @param incarnation grows each time this gateway starts (wall-clock nanoseconds at start will
   *     do); never 0
   */
  public HostDirectory(G self, long incarnation, int leaseMillis, MeshOutput<G> out) {
    if (incarnation == 0) {
      throw new IllegalArgumentException("incarnation 0 means 'none'; pass a start time");
    }
    if (leaseMillis < 300) {
      throw new IllegalArgumentException("lease must be at least 300 ms, got " + leaseMillis);
    }
    this.self = Objects.requireNonNull(self, "self");
    this.incarnation = incarnation;
    this.leaseMillis = leaseMillis;
    this.leaseNanos = leaseMillis * 1_000_000L;
    this.out = out;
  }

  public G self() {
    return self;
  }

  public long incarnation() {
    return incarnation;
  }

  // ------------------------------------------------------------------ membership

  /** Another gateway of the mesh; it is greeted at once and until it answers. */
  public void addGateway(G g, long now) {
    if (g.equals(self) || peers.containsKey(g)) {
      return;
    }
    PeerState p = new PeerState();
    peers.put(g, p);
    hello(g, p, now);
  }

  /** A gateway taken out of the mesh: everything it claimed is forgotten now. */
  public void removeGateway(G g, long now) {
    if (peers.remove(g) != null) {
      purge(g);
    }
  }

  // ------------------------------------------------------------------ local events

  /**
   * A host connected here (a handshake completed), at {@code version}: call it for each new
   * handshake timestamp. A version not newer than the one recorded, or older than another
   * gateway's claim (the host has moved on), changes nothing.
   */
  public void connected(Prefix host, long version, long now) {
    Long had = local.get(host);
    if (had != null && had >= version) {
      return;
    }
    Map<G, Claim> byGateway = claims.get(host);
    if (byGateway != null) {
      for (Claim c : byGateway.values()) {
        if (!c.withdrawn && c.version > version) {
          superseded++; // an older connection than one another gateway has: the host has moved on
          return;
        }
      }
    }
    local.put(host, version);
    broadcast(new Announce(incarnation, List.of(new Entry(host, version, leaseMillis))));
    decide(host);
  }

  /** The host is gone from here (its session expired): withdrawn everywhere at once. */
  public void disconnected(Prefix host, long now) {
    Long v = local.remove(host);
    if (v == null) {
      return;
    }
    broadcast(new Withdraw(incarnation, List.of(new Entry(host, v, 0))));
    decide(host);
  }

  /**
   * This gateway stops (an orderly shutdown): every host connected here is withdrawn everywhere
   * at once, in messages of at most {@link #MAX_ENTRIES_PER_MESSAGE} entries, so the other
   * gateways stop routing to it now rather than when its leases lapse. A host still up
   * reconnects elsewhere and is announced from there. Returns how many hosts were withdrawn.
   */
  public int leave(long now) {
    List<Prefix> hosts = new ArrayList<>(local.keySet());
    List<Entry> batch = new ArrayList<>();
    for (Map.Entry<Prefix, Long> e : local.entrySet()) {
      batch.add(new Entry(e.getKey(), e.getValue(), 0));
      if (batch.size() == MAX_ENTRIES_PER_MESSAGE) {
        broadcast(new Withdraw(incarnation, List.copyOf(batch)));
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      broadcast(new Withdraw(incarnation, List.copyOf(batch)));
    }
    local.clear();
    hosts.forEach(this::decide);
    return hosts.size();
  }

  // ------------------------------------------------------------------ messages

  /** A message from gateway {@code from}. Returns false if it was ignored (counted). */
  public boolean receive(G from, MeshMessage m, long now) {
    PeerState p = peers.get(from);
    if (p == null) {
      unknownGateway++;
      return false;
    }
    if (m.incarnation() < p.incarnation) {
      staleIncarnation++;
      if (m instanceof Hello) {
        // Tell it which incarnation of it we hold: if it is a twin of the one we heard, it rises
        // above (one answer per Hello, and a Hello is sent at most once a second while unanswered).
        send(from, new Hello(incarnation, p.incarnation));
      }
      return false;
    }
    if (m.incarnation() > p.incarnation) {
      boolean first = p.incarnation == 0;
      p.incarnation = m.incarnation();
      if (!first) {
        purge(from); // it restarted: what the old incarnation said is void
      }
      sendLocalState(from);
    }
    if (m instanceof Hello h) {
      if (h.ackIncarnation() == incarnation) {
        p.acked = true;
      } else if (h.ackIncarnation() > incarnation) {
        raiseIncarnation(h.ackIncarnation() + 1, now);
      } else {
        p.acked = false;
        hello(from, p, now); // it does not have us (yet, or any more)
      }
    } else if (m instanceof Announce a) {
      for (Entry e : a.entries()) {
        announce(from, e, now);
      }
    } else if (m instanceof Withdraw w) {
      for (Entry e : w.entries()) {
        withdraw(from, e, now);
      }
    }
    return true;
  }

  private void announce(G from, Entry e, long now) {
    update(from, e, false, now + Math.max(300, e.leaseMillis()) * 1_000_000L);
  }

  /** A withdrawal leaves a tombstone for a lease: an overtaken announcement cannot revive the claim. */
  private void withdraw(G from, Entry e, long now) {
    update(from, e, true, now + leaseNanos);
  }

  /**
   * Moves {@code from}'s claim on the host forward to {@code e} (live, or withdrawn), unless it is
   * stale: older than the claim held, or no newer than a withdrawal, for an announcement. A newer
   * claim elsewhere than here means the host is connected there after here: this gateway stops
   * claiming it.
   */
  private void update(G from, Entry e, boolean withdrawn, long expiresAt) {
    Map<G, Claim> byGateway = claims.computeIfAbsent(e.host(), k -> new HashMap<>());
    Claim c = byGateway.get(from);
    if (c != null && (e.version() < c.version || (!withdrawn && c.withdrawn && e.version() <= c.version))) {
      staleEntries++;
      return;
    }
    if (c == null) {
      c = new Claim();
      byGateway.put(from, c);
    }
    c.version = e.version();
    c.withdrawn = withdrawn;
    c.expiresAt = expiresAt;
    Long mine = local.get(e.host());
    if (mine != null && mine < e.version()) {
      local.remove(e.host());
      superseded++;
    }
    decide(e.host());
  }

  // ------------------------------------------------------------------ time

  /** Expires claims, refreshes this gateway's own, and greets gateways that have not answered. */
  public void tick(long now) {
    List<Prefix> touched = new ArrayList<>();
    for (Iterator<Map.Entry<Prefix, Map<G, Claim>>> it = claims.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Prefix, Map<G, Claim>> h = it.next();
      boolean changed = false;
      for (Iterator<Claim> ci = h.getValue().values().iterator(); ci.hasNext(); ) {
        Claim c = ci.next();
        if (now - c.expiresAt >= 0) {
          ci.remove();
          if (!c.withdrawn) {
            expired++;
            changed = true;
          }
        }
      }
      if (h.getValue().isEmpty()) {
        it.remove();
      }
      if (changed) {
        touched.add(h.getKey());
      }
    }
    touched.forEach(this::decide);
    if (nextRefresh == Long.MIN_VALUE || now - nextRefresh >= 0) {
      nextRefresh = now + leaseNanos / 3;
      for (G g : peers.keySet()) {
        sendLocalState(g);
      }
    }
    for (Map.Entry<G, PeerState> e : peers.entrySet()) {
      PeerState p = e.getValue();
      if (!p.acked && (p.lastHello == Long.MIN_VALUE || now - p.lastHello >= HELLO_RETRY_NANOS)) {
        hello(e.getKey(), p, now);
      }
    }
  }

  // ------------------------------------------------------------------ queries

  /** The gateway {@code host} is connected to, as this gateway knows it ({@link #self} if here), or null. */
  public G owner(Prefix host) {
    return owners.get(host);
  }

  /** Hosts connected here. */
  public Map<Prefix, Long> localHosts() {
    return Map.copyOf(local);
  }

  /** Every host with an owner, and the owner. */
  public Map<Prefix, G> routes() {
    return Map.copyOf(owners);
  }

  @Override
  public void report(StatusSink s) {
    s.gauge("local-hosts", local.size());
    s.gauge("routes", owners.size());
    s.gauge("gateways", peers.size());
    s.counter("messages-sent", messagesSent);
    s.counter("route-changes", routeChanges);
    s.counter("stale-entries", staleEntries);
    s.counter("stale-incarnation", staleIncarnation);
    s.counter("incarnation-raised", incarnationRaised);
    s.counter("unknown-gateway", unknownGateway);
    s.counter("superseded", superseded);
    s.counter("expired", expired);
  }

  public long staleEntries() {
    return staleEntries;
  }

  public long unknownGateway() {
    return unknownGateway;
  }

  public long messagesSent() {
    return messagesSent;
  }

  /** How many times this gateway found a newer incarnation of its own identity and rose above it. */
  public long incarnationRaised() {
    return incarnationRaised;
  }

  // ------------------------------------------------------------------ internals

  /**
   * Another run of this identity (an HA twin, or an earlier start on a clock since set back) is
   * known as {@code above - 1}: take {@code above}, and greet and send the local hosts to every
   * gateway again, so that they drop what the other run said and hear this one.
   */
  private void raiseIncarnation(long above, long now) {
    incarnation = above;
    incarnationRaised++;
    for (Map.Entry<G, PeerState> e : peers.entrySet()) {
      e.getValue().acked = false;
      hello(e.getKey(), e.getValue(), now);
      sendLocalState(e.getKey());
    }
  }

  private void hello(G g, PeerState p, long now) {
    p.lastHello = now;
    send(g, new Hello(incarnation, p.incarnation));
  }

  private void broadcast(MeshMessage m) {
    for (G g : peers.keySet()) {
      send(g, m);
    }
  }

  private void send(G g, MeshMessage m) {
    messagesSent++;
    out.send(g, m);
  }

  /** All local hosts to {@code g}, in messages of at most {@link #MAX_ENTRIES_PER_MESSAGE} entries. */
  private void sendLocalState(G g) {
    List<Entry> batch = new ArrayList<>();
    for (Map.Entry<Prefix, Long> e : local.entrySet()) {
      batch.add(new Entry(e.getKey(), e.getValue(), leaseMillis));
      if (batch.size() == MAX_ENTRIES_PER_MESSAGE) {
        send(g, new Announce(incarnation, batch));
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      send(g, new Announce(incarnation, batch));
    }
  }

  /** Forgets every claim of {@code g} (and its tombstones) and re-decides those hosts. */
  private void purge(G g) {
    List<Prefix> touched = new ArrayList<>();
    for (Iterator<Map.Entry<Prefix, Map<G, Claim>>> it = claims.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Prefix, Map<G, Claim>> h = it.next();
      if (h.getValue().remove(g) != null) {
        touched.add(h.getKey());
      }
      if (h.getValue().isEmpty()) {
        it.remove();
      }
    }
    touched.forEach(this::decide);
  }

  /** Recomputes the owner of {@code host} and reports a change. */
  private void decide(Prefix host) {
    G best = null;
    long bestVersion = Long.MIN_VALUE;
    Long mine = local.get(host);
    if (mine != null) {
      best = self;
      bestVersion = mine;
    }
    Map<G, Claim> byGateway = claims.get(host);
    if (byGateway != null) {
      for (Map.Entry<G, Claim> e : byGateway.entrySet()) {
        Claim c = e.getValue();
        if (c.withdrawn) {
          continue;
        }
        if (best == null || c.version > bestVersion || (c.version == bestVersion && e.getKey().compareTo(best) > 0)) {
          best = e.getKey();
          bestVersion = c.version;
        }
      }
    }
    G before = best == null ? owners.remove(host) : owners.put(host, best);
    if (!Objects.equals(before, best)) {
      routeChanges++;
      out.routeChanged(host, best);
    }
  }
}
