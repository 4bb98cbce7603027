package io.dctun.appliance.config;

import io.dctun.core.mesh.HostDirectory;

/**
 * The {@code mesh:} section: how the gateways of a mesh share which host is connected where.
 * Immutable.
 *
 * <pre>
 * mesh:
 *   mode: mesh      # mesh: the gateways tell each other (io.dctun.core.mesh); etcd: past a few hundred gateways
 *   lease: 15s      # how long a host's claim lasts unless renewed: 500ms, 15s, 1m (etcd: at least 2s)
 *   etcd-endpoints: [http://198.18.40.1:2379, http://198.18.40.2:2379]   # mode etcd only; required
 *   name: prod      # mode etcd only: the key prefix /dctun/NAME/ shared by the gateways of one mesh
 * </pre>
 *
 * @param mode how route records travel
 * @param leaseMillis lease of a host claim, in milliseconds
 * @param etcdEndpoints etcd's client URLs (mode etcd; empty otherwise)
 * @param name the mesh's name, the etcd key prefix (mode etcd)
 */
public record MeshConfig(Mode mode, int leaseMillis, java.util.List<java.net.URI> etcdEndpoints, String name) {
  /** The mesh's name when the file gives none. */
  public static final String DEFAULT_NAME = "dctun";

  /** A full-mesh configuration (no etcd). */
  public MeshConfig(Mode mode, int leaseMillis) {
    this(mode, leaseMillis, java.util.List.of(), DEFAULT_NAME);
  }
  /** The minimum and maximum lease accepted: below a second claims churn, above an hour they outlive their host. */
  public static final int MIN_LEASE_MILLIS = 1_000;
  public static final int MAX_LEASE_MILLIS = 3_600_000;

  /** The section as it is when the file has none but a peer has role gateway or host. */
  public static final MeshConfig DEFAULTS = new MeshConfig(Mode.MESH, HostDirectory.DEFAULT_LEASE_MILLIS);

  /** How route records travel between gateways. */
  public enum Mode {
    /** Every gateway tells every other gateway over the control channel (HostDirectory). */
    MESH,
    /** Each gateway writes its hosts to etcd under its lease and watches the others' (io.dctun.core.mesh.etcd). */
    ETCD
  }

  public MeshConfig {
    java.util.Objects.requireNonNull(mode, "mode");
    etcdEndpoints = java.util.List.copyOf(etcdEndpoints);
    java.util.Objects.requireNonNull(name, "name");
    if (mode == Mode.ETCD && etcdEndpoints.isEmpty()) {
      throw new IllegalArgumentException("mode etcd needs etcd-endpoints");
    }
    if (leaseMillis < MIN_LEASE_MILLIS || leaseMillis > MAX_LEASE_MILLIS) {
      throw new IllegalArgumentException("lease " + leaseMillis + " ms is outside " + MIN_LEASE_MILLIS + "-"
          + MAX_LEASE_MILLIS + " ms");
    }
  }

  /** What tunnel-core's route sharing is started with. */
  public io.dctun.core.mesh.RouteSharing routeSharing() {
    if (mode == Mode.MESH) {
      return new io.dctun.core.mesh.RouteSharing.Mesh(leaseMillis);
    }
    return new io.dctun.core.mesh.RouteSharing.Etcd(new io.dctun.core.mesh.etcd.EtcdHostStore.Config(
        etcdEndpoints, name, leaseMillis, java.time.Duration.ofSeconds(2)));
  }
}
