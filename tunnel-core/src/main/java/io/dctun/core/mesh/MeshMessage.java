package io.dctun.core.mesh;

import io.dctun.core.route.Prefix;
import java.util.List;

/**
 * What gateways tell each other about where hosts are connected. Every message carries the
 * sender's incarnation (a number that grows each time the gateway starts), so what a gateway said
 * before it restarted is never taken for what it says now.
 */
public sealed interface MeshMessage {
  long incarnation();

  /**
   * "I am here, as {@code incarnation}; I have your {@code ackIncarnation}" (0: none yet). Sent
   * when a gateway first hears of another and until it is acknowledged; the first hello of a new
   * incarnation is answered with the receiver's whole local state.
   */
  record Hello(long incarnation, long ackIncarnation) implements MeshMessage {}

  /** These hosts are connected to the sender, each at a version, for a lease. */
  record Announce(long incarnation, List<Entry> entries) implements MeshMessage {
    public Announce {
      entries = List.copyOf(entries);
    }
  }

  /** These hosts, at these versions, are no longer connected to the sender. */
  record Withdraw(long incarnation, List<Entry> entries) implements MeshMessage {
    public Withdraw {
      entries = List.copyOf(entries);
    }
  }

  /**
   * One host: its fixed virtual IP ({@code /32} or {@code /128}, or a subnet behind it), the
   * version of its connection (higher wins everywhere), and how long the claim holds without a
   * refresh ({@code leaseMillis}; ignored in a withdrawal).
   */
  record Entry(Prefix host, long version, int leaseMillis) {}
}
