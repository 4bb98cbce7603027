package io.dctun.appliance.config;

import io.dctun.core.route.Prefix;
import java.util.Objects;

/**
 * One entry of the top-level {@code routes:} list: traffic for {@code prefix} goes to the peer
 * named {@code via}, as if that peer had it in its allowed IPs for sending but without accepting
 * it as a source. Installed in the device as a learned route with source {@link #SOURCE}, and in
 * the kernel as a route into the TUN interface. Immutable.
 *
 * <pre>
 * routes:
 *   - prefix: 198.18.99.0/24
 *     via: dc2            # a peer's name
 * </pre>
 *
 * @param prefix the destination prefix, without host bits
 * @param via the name of the peer it routes to
 */
public record StaticRoute(Prefix prefix, String via) {
  /** The route source of every static route in the device's route table. */
  public static final String SOURCE = "static";

  public StaticRoute {
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(via, "via");
  }

  @Override
  public String toString() {
    return prefix + " via " + via;
  }
}
