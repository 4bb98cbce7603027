package io.dctun.core.status;

/**
 * Where a module reports its state and counters: one small interface that every library module
 * writes to and that the appliance's status file, the management API and the metrics endpoint
 * all read through. A module never formats its own status text.
 *
 * <p>Names are lower-case, dash-separated words; {@link #scope} nests them ({@code peer.siteB.rx-bytes}
 * in the text form; a renderer for metrics may turn a scope into a label instead). Values must not
 * contain secrets: keys are reported as public keys only.
 */
public interface StatusSink {
  /** A fact that is not a number (a state, an endpoint, an error message). */
  void text(String name, String value);

  /** A count that only grows while the process runs (packets, drops, takeovers). */
  void counter(String name, long value);

  /** A number that goes up and down (flows in the table, the rules version, a timestamp). */
  void gauge(String name, long value);

  /**
   * A sink for the state of one thing of a kind ({@code scope("peer", "siteB")}): its names are
   * nested under {@code kind.id}.
   */
  StatusSink scope(String kind, String id);

  /** A sink whose names are nested under {@code prefix} ({@code section("firewall")}). */
  StatusSink section(String prefix);
}
