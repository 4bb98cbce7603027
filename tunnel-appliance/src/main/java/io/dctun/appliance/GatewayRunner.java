package io.dctun.appliance;

import io.dctun.appliance.config.GatewayConfig;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a gateway from a validated configuration until it is stopped: what {@code dctun up} calls.
 * The data plane installs its implementation with {@link #install}; until then {@link #current()}
 * is one that refuses.
 */
@FunctionalInterface
public interface GatewayRunner {
  /** Runs until stopped; returns normally on an orderly stop. */
  void run(GatewayConfig cfg) throws Exception;

  /** The runner {@code dctun up} uses. */
  static GatewayRunner current() {
    return Slot.RUNNER.get();
  }

  /** Makes {@code runner} the one {@code dctun up} uses. */
  static void install(GatewayRunner runner) {
    Slot.RUNNER.set(Objects.requireNonNull(runner, "runner"));
  }

  /** The runner in place before any is installed. */
  GatewayRunner NOT_WIRED = cfg -> {
    throw new UnsupportedOperationException("the data plane is not wired yet");
  };

  /** Holds the installed runner; interfaces cannot have mutable fields of their own. */
  final class Slot {
    static final AtomicReference<GatewayRunner> RUNNER = new AtomicReference<>(NOT_WIRED);

    private Slot() {}
  }
}
