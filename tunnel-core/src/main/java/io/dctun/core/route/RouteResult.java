package io.dctun.core.route;

/**
 * What a {@link RouteTable} did with one put, so callers can count updates by kind (how many
 * hosts moved, how many stale announcements arrived) without diffing the table.
 */
public enum RouteResult {
  /** The table held no route of this origin for the prefix; it now does. */
  ADDED,
  /** A learned route with a newer version moved the prefix to another value or source. */
  REPLACED,
  /**
   * A learned route was accepted for the same value and source: a newer version, or the same
   * version with a new expiry (a lease renewal). Lookups are unaffected.
   */
  REFRESHED,
  /** Exactly this route was already held; nothing changed. */
  UNCHANGED,
  /**
   * A learned route was ignored: its version is older than the one held, or equal with a
   * different value or source. Counted in {@link RouteTable#staleUpdates()}.
   */
  STALE,
  /**
   * A learned route was accepted and kept, but a configured route of the same prefix routes it;
   * it takes effect if the configured route is removed.
   */
  SHADOWED
}
