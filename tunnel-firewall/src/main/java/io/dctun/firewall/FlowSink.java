package io.dctun.firewall;

/**
 * Receives tracked flows exported for replication to an HA twin (see
 * {@link Firewall#exportChangedFlows}). Primitives only, so exporting allocates nothing.
 *
 * <p>The five key words are opaque: they are only ever handed back to
 * {@link Firewall#importFlow} on a box with the same configuration (the peer index inside
 * {@code meta} is the peer's position in the rule set). {@code state} is the conntrack state word
 * (kind, originator, assured and FIN bits); {@code remainingNanos} is the flow's time to live.
 */
@FunctionalInterface
public interface FlowSink {
  void flow(long k0, long k1, long k2, long k3, long meta, int state, long remainingNanos);
}
