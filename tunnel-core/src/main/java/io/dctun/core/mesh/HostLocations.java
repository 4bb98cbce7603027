package io.dctun.core.mesh;

import io.dctun.core.route.Prefix;
import io.dctun.crypto.PublicKey;
import io.dctun.core.status.StatusSource;

/**
 * Where roaming hosts are connected, as one gateway knows it and routes them: what the wiring
 * needs from a route-sharing backend, whichever the configuration chose. Implemented by the
 * etcd store's {@link io.dctun.core.mesh.etcd.EtcdMeshAgent}; {@link MeshAgent} (the full-mesh
 * gossip) has the same methods and can declare it; until it does, {@link RouteSharing#start}
 * wraps it.
 */
public interface HostLocations extends StatusSource, AutoCloseable {
  /** Where this gateway routes {@code host}: a gateway's key, this device's own, or null. */
  PublicKey owner(Prefix host);

  /** Drive with the engine's tick ({@code engine.everyTick(locations::tick)}). */
  void tick(long now);

  /**
   * This gateway stops for good (not an HA failover, where the twin takes its claims over):
   * withdraws its hosts everywhere now instead of letting the other gateways wait out the lease.
   * Call before {@link #close}, while the transports still send. The etcd store's close revokes
   * its lease, which does the same; the gossip sends withdrawals.
   */
  default void leave() {}

  /** Stops sharing (the etcd store revokes its lease); the gossip has nothing to stop. */
  @Override
  default void close() {}
}
