package io.dctun.core.mesh;

import io.dctun.core.mesh.etcd.EtcdHostStore;
import io.dctun.core.mesh.etcd.EtcdMeshAgent;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.status.StatusSink;
import io.dctun.crypto.PublicKey;
import java.util.Objects;

/**
 * The one configuration switch for how active-active gateways share host locations: the
 * full-mesh gossip over the control channel ({@link Mesh}, {@link MeshAgent}), or etcd past a
 * few hundred gateways ({@link Etcd}, {@link EtcdMeshAgent}). Both route a device's roaming
 * hosts the same way; the wiring parses its configuration into one of these and calls
 * {@link #start}.
 */
public sealed interface RouteSharing {
  /** Gossip between the device's dctun peers, claims held for {@code leaseMillis}. */
  record Mesh(int leaseMillis) implements RouteSharing {}

  /** Records in etcd under this gateway's lease. */
  record Etcd(EtcdHostStore.Config config) implements RouteSharing {
    public Etcd {
      Objects.requireNonNull(config, "config");
    }
  }

  /**
   * Starts route sharing for {@code device}; tick the result with the engine ({@code
   * engine.everyTick(locations::tick)}) and close it on shutdown.
   *
   * @param incarnation grows with every start of this gateway (wall-clock nanos at start)
   */
  static HostLocations start(RouteSharing how, Device device, long incarnation, long now) {
    if (how instanceof Etcd e) {
      return new EtcdMeshAgent(device, e.config(), incarnation);
    }
    MeshAgent agent = new MeshAgent(device, incarnation, ((Mesh) how).leaseMillis(), now);
    return new HostLocations() {
      @Override
      public PublicKey owner(Prefix host) {
        return agent.owner(host);
      }

      @Override
      public void tick(long t) {
        agent.tick(t);
      }

      @Override
      public void report(StatusSink s) {
        agent.report(s);
      }

      @Override
      public void leave() {
        agent.leave();
      }
    };
  }
}
