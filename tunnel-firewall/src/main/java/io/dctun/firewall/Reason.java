package io.dctun.firewall;

/**
 * Why the firewall decided as it did. Every drop has one; {@link Firewall#reasonCount} counts
 * them, and tests assert them rather than a bare "dropped".
 */
public enum Reason {
  /** Accepted by a rule (named in the explanation). */
  RULE_ACCEPT(false),
  /** Belongs to a tracked connection the current rules still allow. */
  ESTABLISHED(false),
  /** An ICMP error about a tracked connection, and no rule said otherwise. */
  RELATED(false),
  /** Dropped by a DROP rule. */
  RULE_DROP(true),
  /** Dropped by a REJECT rule (a reply may have been sent). */
  RULE_REJECT(true),
  /** No rule matched: default deny. */
  NO_RULE(true),
  /** Not a well-formed IPv4/IPv6 packet. */
  MALFORMED(true),
  /** State INVALID (e.g. TCP segment without a connection, wrong handshake step), no rule for it. */
  INVALID_STATE(true),
  /** The connection table is full of established flows; the new one is refused. */
  TABLE_FULL(true),
  /**
   * The packet's peer already holds its share of the connection table ({@code
   * max-flows-per-peer}) and none of its own flows in the new flow's segment could make room
   * (all answered and live); the new flow is refused, the peer's established flows stay.
   */
  PEER_SHARE_FULL(true),
  /** A tracked flow the reloaded rules no longer allow. */
  REVOKED_BY_RELOAD(true);

  private final boolean drop;

  Reason(boolean drop) {
    this.drop = drop;
  }

  public boolean isDrop() {
    return drop;
  }

  static final Reason[] VALUES = values();
}
