package io.dctun.core.route;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The route table of a device: the configured routes (the peers' allowed IPs) and the routes
 * learned at run time (another gateway saying "host H is connected to me"), with longest-prefix
 * match on packet addresses, updated one route at a time while packets are being routed.
 *
 * <p>Rules, per prefix (overlapping prefixes are independent: the longest one containing the
 * address wins the lookup):
 *
 * <ul>
 *   <li>At most one configured route. A second configured route to another value is refused with
 *       a {@link RouteConflictException} naming both: nothing says which peer should win, and
 *       letting the last one in silently take it hides a configuration error.
 *   <li>At most one learned route. A learned route with a newer version replaces the held one,
 *       whichever source sends it: that is how a host that moves between gateways is followed
 *       (the gateway it now uses announces it with a higher version). An older version, or an
 *       equal version with another value or source, is {@link RouteResult#STALE}: ignored and
 *       counted, so a late or replayed announcement cannot move a host back. The same version
 *       from the same source for the same value renews the route's expiry (a lease refresh).
 *   <li>A configured route beats a learned route of the same prefix: the operator's word wins.
 *       The learned route is still kept (the put returns {@link RouteResult#SHADOWED}, {@link
 *       #entries()} marks it shadowed), obeys versions and expires as usual, and takes over if
 *       the configured route is removed. Keeping it rather than refusing it means removing a
 *       static route does not wait for the next announcement.
 * </ul>
 *
 * <p>Once a learned route expires or is withdrawn its version is forgotten with it; an older
 * announcement arriving later is accepted again, and ages out by its own expiry.
 *
 * <h2>Concurrency: left-right over two {@link AllowedIps}</h2>
 *
 * <p>Lookups run on every packet thread and must neither lock nor allocate; updates come from
 * one control thread at a time and must not rebuild the table. {@code AllowedIps} is the
 * longest-prefix matcher, but it is not safe against a concurrent mutation, and not only in the
 * sense of showing a stale answer: it reuses value ids and IPv4 stride sub-tables, so a lookup
 * racing a remove and an insert can read another prefix's entry and return a peer that does not
 * own the address. Making it publication-safe in place would need the same "have the readers
 * left?" question before reusing memory, plus a new layout. So this class keeps {@code
 * AllowedIps} as it is and uses the left-right technique (Ramalhete and Correia) over two copies
 * of it:
 *
 * <pre>
 *   reader (any thread, wait-free):           writer (under the write lock):
 *     cell = readers[versionIndex].arrive       change the idle copy (one route)
 *     active.lookup(...)                         active = idle copy              (readers move)
 *     readers.depart(cell)                      wait until readers[next] is empty
 *                                               versionIndex = next
 *                                               wait until readers[prev] is empty (old copy free)
 *                                               apply the same change to the old copy
 * </pre>
 *
 * <p>A reader never sees a copy while it is being changed, and a copy is only changed once
 * every reader that could have picked it has left. A lookup costs two atomic adds on a cell of
 * a striped, cache-line-padded counter (see {@link ReadIndicator}) and allocates nothing; the
 * adds cost more than an IPv4 lookup itself, so a thread routing a batch pays them once per
 * batch with {@link #beginRead()} and looks up in between as fast as a bare {@code AllowedIps}.
 * A write costs the route's update twice plus waiting for the lookups in flight, never the
 * whole table (as building a new table per change and publishing it through a volatile field
 * would). The wait is nanoseconds unless a reader thread is preempted in mid-lookup or holds a
 * long section: then the writer, which spins and then yields, waits for it (readers never wait
 * for writers). The price is memory: two copies.
 *
 * <p>Time is the caller's: expiries are absolute nanos on whatever clock the caller passes to
 * {@link #expire}. The table starts no thread and reads no clock.
 *
 * <p>Thread-safety: safe. Lookups from any number of threads, concurrently with updates; updates
 * serialize on an internal lock; {@link #entries()} and the counters may be read from any thread.
 *
 * @param <T> the value type (a peer), compared with {@code equals}; never null
 */
public final class RouteTable<T> {

  /** All that the table knows about one prefix; guarded by {@link #writeLock}. */
  private static final class Slot<T> {
    final Prefix prefix;
    /** The prefix's address, copied once: {@link Prefix#address()} copies on every call. */
    final byte[] address;
    /** Tie-breaker for {@link #BY_EXPIRY}, unique per slot. */
    final long seq;
    T configured;
    /** The learned route's value, or null when there is none; the fields below go with it. */
    T learned;
    RouteOrigin learnedOrigin;
    long learnedVersion;
    long learnedExpiresAt;
    /** What both AllowedIps copies map the prefix to; differs from {@link #winner} mid-write. */
    T installed;

    Slot(Prefix prefix, long seq) {
      this.prefix = prefix;
      this.address = prefix.address();
      this.seq = seq;
    }

    T winner() {
      return configured != null ? configured : learned;
    }

    boolean isEmpty() {
      return configured == null && learned == null;
    }

    boolean expires() {
      return learned != null && learnedExpiresAt != Long.MAX_VALUE;
    }
  }

  private static final Comparator<Slot<?>> BY_EXPIRY =
      Comparator.<Slot<?>>comparingLong(s -> s.learnedExpiresAt).thenComparingLong(s -> s.seq);

  /** IPv4 before IPv6, then address, then length: the order {@link #entries()} reports. */
  private static final Comparator<Prefix> PREFIX_ORDER =
      Comparator.comparingInt(Prefix::addressLength)
          .thenComparing(Prefix::address, Arrays::compareUnsigned)
          .thenComparingInt(Prefix::length);

  private final AllowedIps<T> left = new AllowedIps<>();
  private final AllowedIps<T> right = new AllowedIps<>();
  /** The copy readers use; the other one is the writer's. */
  private volatile AllowedIps<T> active = left;
  /** Which reader counter new readers announce themselves on (0 or 1). */
  private volatile int versionIndex;
  private final ReadIndicator readers = new ReadIndicator(ReadIndicator.defaultStripes());

  private final Object writeLock = new Object();
  private final HashMap<Prefix, Slot<T>> slots = new HashMap<>();
  /** Slots whose learned route has a finite expiry, soonest first. */
  private final TreeSet<Slot<?>> expiring = new TreeSet<>(BY_EXPIRY);
  /** Slots changed by a bulk operation, published together; empty between writes. */
  private final ArrayList<Slot<T>> pending = new ArrayList<>();
  private long nextSeq;
  private volatile int size;
  private volatile long staleUpdates;

  /** Creates an empty table. */
  public RouteTable() {}

  // ---- lookups (any thread, no lock, no allocation) ------------------------------------------

  /**
   * The value of the longest prefix containing the address at {@code buf[off..off+addrLen)},
   * typically an IP header's source or destination field. Wait-free and allocation-free.
   *
   * @param addrLen 4 or 16
   * @return the value, or null when no prefix matches
   * @throws IllegalArgumentException if addrLen is neither 4 nor 16
   * @throws IndexOutOfBoundsException if the address runs past the buffer
   */
  public T lookup(byte[] buf, int off, int addrLen) {
    int cell = readers.arrive(versionIndex);
    try {
      return active.lookup(buf, off, addrLen);
    } finally {
      readers.depart(cell);
    }
  }

  /** The value of the longest IPv4 prefix containing {@code addr} (big-endian int), or null. */
  public T lookupV4(int addr) {
    int cell = readers.arrive(versionIndex);
    try {
      return active.lookupV4(addr);
    } finally {
      readers.depart(cell);
    }
  }

  /**
   * Opens a read section, so a thread routing a batch of packets announces itself once instead
   * of once per lookup. Every {@code beginRead} must be matched by exactly one {@link #endRead}
   * with its ticket, in a {@code finally}: an open section holds up every writer until it ends.
   * Keep sections short (the lookups of one batch, not the sealing of its packets), and never
   * update the table from inside one: the update would wait for its own thread's section.
   *
   * @return the ticket for {@link #lookupInRead} and {@link #endRead}: the reader cell and the
   *     copy this section reads, which stays unchanged until the section ends
   */
  public int beginRead() {
    int cell = readers.arrive(versionIndex);
    return cell << 1 | (active == right ? 1 : 0);
  }

  /**
   * As {@link #lookup(byte[], int, int)}, in the section {@code ticket} opened. The copy is fixed
   * for the section, so this reads no volatile field: as fast as {@link AllowedIps#lookup}.
   */
  public T lookupInRead(int ticket, byte[] buf, int off, int addrLen) {
    return ((ticket & 1) == 0 ? left : right).lookup(buf, off, addrLen);
  }

  /** Closes the read section {@link #beginRead()} opened with {@code ticket}. */
  public void endRead(int ticket) {
    readers.depart(ticket >>> 1);
  }

  // ---- updates (serialized) ------------------------------------------------------------------

  /**
   * Routes {@code prefix} to {@code value} by configuration. A learned route of the same prefix,
   * if any, becomes shadowed.
   *
   * @return {@link RouteResult#ADDED}, or {@link RouteResult#UNCHANGED} if the prefix is already
   *     configured to an equal value
   * @throws RouteConflictException if the prefix is configured to another value; the table is
   *     left as it was
   */
  public RouteResult putConfigured(Prefix prefix, T value) {
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(value, "value");
    synchronized (writeLock) {
      Slot<T> s = slot(prefix);
      if (s.configured != null) {
        if (s.configured.equals(value)) {
          return RouteResult.UNCHANGED;
        }
        throw new RouteConflictException(prefix, s.configured, value);
      }
      s.configured = value;
      size++;
      publish(s);
      return RouteResult.ADDED;
    }
  }

  /**
   * Routes {@code prefix} to {@code value} as taught by {@code source}, subject to the version
   * rules of the class comment.
   *
   * @param source who taught it (a gateway id), compared with {@code equals}
   * @param version orders the announcements of this prefix; higher is newer
   * @param expiresAtNanos when the route lapses on the clock passed to {@link #expire}, or {@link
   *     Long#MAX_VALUE} for never
   * @return ADDED, REPLACED, REFRESHED, UNCHANGED, STALE or SHADOWED (see {@link RouteResult})
   */
  public RouteResult putLearned(
      Prefix prefix, T value, Object source, long version, long expiresAtNanos) {
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(source, "source");
    synchronized (writeLock) {
      Slot<T> s = slot(prefix);
      RouteResult result;
      if (s.learned == null) {
        s.learned = value;
        s.learnedOrigin = RouteOrigin.learnedFrom(source);
        s.learnedVersion = version;
        s.learnedExpiresAt = expiresAtNanos;
        linkExpiry(s);
        size++;
        result = RouteResult.ADDED;
      } else {
        boolean same = s.learned.equals(value) && s.learnedOrigin.source().equals(source);
        if (version < s.learnedVersion || (version == s.learnedVersion && !same)) {
          staleUpdates++;
          return RouteResult.STALE;
        }
        if (same && version == s.learnedVersion && expiresAtNanos == s.learnedExpiresAt) {
          return RouteResult.UNCHANGED;
        }
        unlinkExpiry(s);
        if (!same) {
          s.learned = value;
          if (!s.learnedOrigin.source().equals(source)) {
            s.learnedOrigin = RouteOrigin.learnedFrom(source);
          }
        }
        s.learnedVersion = version;
        s.learnedExpiresAt = expiresAtNanos;
        linkExpiry(s);
        result = same ? RouteResult.REFRESHED : RouteResult.REPLACED;
      }
      if (s.configured != null) {
        return RouteResult.SHADOWED;
      }
      publish(s);
      return result;
    }
  }

  /**
   * Removes the configured route of {@code prefix} if it routes to {@code value}; a shadowed
   * learned route of the prefix then takes over. Naming the value keeps a peer's removal from
   * taking a prefix another peer holds.
   *
   * @return whether a route was removed
   */
  public boolean removeConfigured(Prefix prefix, T value) {
    synchronized (writeLock) {
      Slot<T> s = slots.get(prefix);
      if (s == null || s.configured == null || !s.configured.equals(value)) {
        return false;
      }
      s.configured = null;
      size--;
      publish(s);
      return true;
    }
  }

  /**
   * Withdraws the learned route of {@code prefix} if {@code source} taught it; a withdrawal from
   * a gateway the host has already left does not remove the newer route.
   *
   * @return whether a route was removed
   */
  public boolean removeLearned(Prefix prefix, Object source) {
    synchronized (writeLock) {
      Slot<T> s = slots.get(prefix);
      if (s == null || s.learned == null || !s.learnedOrigin.source().equals(source)) {
        return false;
      }
      unlinkExpiry(s);
      clearLearned(s);
      publish(s);
      return true;
    }
  }

  /**
   * Removes every route, configured or learned, to {@code value} (the peer went away), with one
   * reader hand-over for all of them. O(routes in the table).
   *
   * @return how many routes were removed
   */
  public int removeAll(T value) {
    synchronized (writeLock) {
      int removed = 0;
      for (Slot<T> s : slots.values()) {
        boolean hit = false;
        if (s.configured != null && s.configured.equals(value)) {
          s.configured = null;
          size--;
          removed++;
          hit = true;
        }
        if (s.learned != null && s.learned.equals(value)) {
          unlinkExpiry(s);
          clearLearned(s);
          removed++;
          hit = true;
        }
        if (hit) {
          pending.add(s);
        }
      }
      publishPending();
      return removed;
    }
  }

  /**
   * Removes every learned route {@code source} taught (that gateway is gone), with one reader
   * hand-over for all of them. O(routes in the table).
   *
   * @return how many routes were removed
   */
  public int removeLearnedFrom(Object source) {
    synchronized (writeLock) {
      for (Slot<T> s : slots.values()) {
        if (s.learned != null && s.learnedOrigin.source().equals(source)) {
          unlinkExpiry(s);
          clearLearned(s);
          pending.add(s);
        }
      }
      int removed = pending.size();
      publishPending();
      return removed;
    }
  }

  /**
   * Removes every learned route whose expiry is at or before {@code nowNanos}, shadowed ones
   * included, with one reader hand-over for all of them. O(expired routes x log routes).
   *
   * @return how many routes were removed
   */
  public int expire(long nowNanos) {
    synchronized (writeLock) {
      while (!expiring.isEmpty() && expiring.first().learnedExpiresAt <= nowNanos) {
        @SuppressWarnings("unchecked")
        Slot<T> s = (Slot<T>) expiring.pollFirst();
        clearLearned(s);
        pending.add(s);
      }
      int removed = pending.size();
      publishPending();
      return removed;
    }
  }

  // ---- status --------------------------------------------------------------------------------

  /**
   * A snapshot of every route, IPv4 before IPv6, in address then length order, a prefix's
   * configured route before its learned one.
   */
  public List<Route<T>> entries() {
    List<Route<T>> out = new ArrayList<>();
    synchronized (writeLock) {
      for (Slot<T> s : slots.values()) {
        if (s.configured != null) {
          out.add(new Route<>(
              s.prefix, s.configured, RouteOrigin.CONFIGURED, 0L, Long.MAX_VALUE, false));
        }
        if (s.learned != null) {
          out.add(new Route<>(s.prefix, s.learned, s.learnedOrigin, s.learnedVersion,
              s.learnedExpiresAt, s.configured != null));
        }
      }
    }
    out.sort(Comparator.comparing((Route<T> r) -> r.prefix(), PREFIX_ORDER)
        .thenComparing(r -> r.origin().kind()));
    return out;
  }

  /** Number of routes held, configured and learned, shadowed ones included. */
  public int size() {
    return size;
  }

  /** Learned updates ignored as {@link RouteResult#STALE} since the table was created. */
  public long staleUpdates() {
    return staleUpdates;
  }

  // ---- writer internals (under writeLock) ----------------------------------------------------

  private Slot<T> slot(Prefix prefix) {
    Slot<T> s = slots.get(prefix);
    if (s == null) {
      s = new Slot<>(prefix, nextSeq++);
      slots.put(prefix, s);
    }
    return s;
  }

  private void linkExpiry(Slot<T> s) {
    if (s.expires()) {
      expiring.add(s);
    }
  }

  /** Must run before the expiry changes: the set is ordered by it. */
  private void unlinkExpiry(Slot<T> s) {
    if (s.expires()) {
      expiring.remove(s);
    }
  }

  /** Forgets the learned route; the caller has taken the slot out of {@link #expiring}. */
  private void clearLearned(Slot<T> s) {
    s.learned = null;
    s.learnedOrigin = null;
    s.learnedVersion = 0L;
    s.learnedExpiresAt = 0L;
    size--;
  }

  /** Makes lookups agree with one slot's winner; drops the slot if it holds nothing. */
  private void publish(Slot<T> s) {
    T want = s.winner();
    if (want != s.installed) {
      AllowedIps<T> idle = active == left ? right : left;
      write(idle, s, want);
      handOver(idle);
      write(idle == left ? right : left, s, want);
      s.installed = want;
    }
    if (s.isEmpty()) {
      slots.remove(s.prefix);
    }
  }

  /** {@link #publish} for every slot in {@link #pending}, with one hand-over; clears it. */
  private void publishPending() {
    AllowedIps<T> idle = active == left ? right : left;
    boolean changed = false;
    for (Slot<T> s : pending) {
      T want = s.winner();
      if (want != s.installed) {
        write(idle, s, want);
        changed = true;
      }
    }
    if (changed) {
      handOver(idle);
      AllowedIps<T> old = idle == left ? right : left;
      for (Slot<T> s : pending) {
        T want = s.winner();
        if (want != s.installed) {
          write(old, s, want);
          s.installed = want;
        }
      }
    }
    for (Slot<T> s : pending) {
      if (s.isEmpty()) {
        slots.remove(s.prefix);
      }
    }
    pending.clear();
  }

  private static <T> void write(AllowedIps<T> copy, Slot<T> s, T value) {
    if (value == null) {
      copy.remove(s.address, s.prefix.length());
    } else {
      copy.insert(s.address, s.prefix.length(), value);
    }
  }

  /**
   * Points readers at {@code updated} and returns once no reader can still be in the other copy,
   * which the caller may then change.
   */
  private void handOver(AllowedIps<T> updated) {
    active = updated;
    int prev = versionIndex;
    int next = prev ^ 1;
    // A reader that read versionIndex just before the previous hand-over toggled it announces
    // on `next` late and may be in the copy about to change: wait for those first. After the
    // toggle, a reader announcing on `prev` has read `active` after announcing, so it is in
    // `updated` or counted on `prev`, which the second wait drains.
    readers.awaitEmpty(next);
    versionIndex = next;
    readers.awaitEmpty(prev);
  }
}
