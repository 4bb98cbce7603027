package io.dctun.core.route;

/**
 * One route of a {@link RouteTable} as its status snapshot reports it.
 *
 * @param prefix the destination prefix
 * @param value what the prefix routes to (a peer)
 * @param origin configured, or learned from which source
 * @param version the learned route's version; 0 for a configured route
 * @param expiresAtNanos when a learned route expires, on the caller's clock; {@link
 *     Long#MAX_VALUE} for never (and for every configured route)
 * @param shadowed whether a configured route of the same prefix wins over this learned one
 * @param <T> the value type
 */
public record Route<T>(
    Prefix prefix, T value, RouteOrigin origin, long version, long expiresAtNanos,
    boolean shadowed) {}
