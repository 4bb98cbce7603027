package io.dctun.core.route;

/**
 * Two configured routes for the same prefix to different values: there is nothing to choose
 * between them, so the second is refused rather than one of them winning by iteration order.
 * Unchecked, because it is a configuration error the caller reports, not a condition of the
 * data plane.
 */
public final class RouteConflictException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Prefix prefix;
  private final transient Object holder;
  private final transient Object refused;

  /**
   * @param holder the value the prefix is already routed to
   * @param refused the value refused
   */
  public RouteConflictException(Prefix prefix, Object holder, Object refused) {
    super(prefix + " is already routed to " + holder + "; refusing it for " + refused);
    this.prefix = prefix;
    this.holder = holder;
    this.refused = refused;
  }

  public Prefix prefix() {
    return prefix;
  }

  /** The value that keeps the prefix. */
  public Object holder() {
    return holder;
  }

  /** The value the prefix was refused for. */
  public Object refused() {
    return refused;
  }
}
