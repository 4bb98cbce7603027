package io.dctun.core.route;

import java.util.Objects;

/**
 * Who put a route in a {@link RouteTable}: the configuration, or a named source that taught it at
 * run time (another gateway saying "host H is connected to me"). A learned route keeps its source
 * so a withdrawal or the loss of that gateway removes exactly what it taught, and so the status
 * output can say where a route came from.
 *
 * @param kind configured or learned
 * @param source for a learned route, the source id (compared with {@code equals}, printed with
 *     {@code toString}); null for a configured route
 */
public record RouteOrigin(Kind kind, Object source) {

  /** The two ways a route gets into the table. */
  public enum Kind {
    /** From the configuration (a peer's allowed IPs); never expires. */
    CONFIGURED,
    /** Learned at run time from a source, with a version and an expiry. */
    LEARNED
  }

  /** The origin of every configured route. */
  public static final RouteOrigin CONFIGURED = new RouteOrigin(Kind.CONFIGURED, null);

  /**
   * @throws NullPointerException if kind is null, or a learned origin has no source
   * @throws IllegalArgumentException if a configured origin names a source
   */
  public RouteOrigin {
    Objects.requireNonNull(kind, "kind");
    if (kind == Kind.LEARNED) {
      Objects.requireNonNull(source, "a learned route needs a source");
    } else if (source != null) {
      throw new IllegalArgumentException("a configured route has no source, got " + source);
    }
  }

  /** The origin of a route learned from {@code source}. */
  public static RouteOrigin learnedFrom(Object source) {
    return new RouteOrigin(Kind.LEARNED, source);
  }

  public boolean isLearned() {
    return kind == Kind.LEARNED;
  }

  /** {@code "configured"} or {@code "learned from <source>"}. */
  @Override
  public String toString() {
    return kind == Kind.CONFIGURED ? "configured" : "learned from " + source;
  }
}
