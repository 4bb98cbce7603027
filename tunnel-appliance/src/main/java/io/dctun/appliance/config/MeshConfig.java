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
 *   etcd-ca-file: etcd-ca.pem       # https endpoints: CA bundle to trust (default: the JDK's trust store)
 *   etcd-cert-file: gw1-etcd.pem    # https endpoints: client certificate for etcd's --client-cert-auth
 *   etcd-key-file: gw1-etcd.key     # its key: PEM PKCS#8 (BEGIN PRIVATE KEY), EC or RSA, mode 0600
 *   etcd-user: gw1                  # etcd authentication (etcdctl auth enable)
 *   etcd-password-file: etcd.pw     # the user's password on its first line, mode 0600
 * </pre>
 *
 * @param mode how route records travel
 * @param leaseMillis lease of a host claim, in milliseconds
 * @param etcdEndpoints etcd's client URLs (mode etcd; empty otherwise)
 * @param name the mesh's name, the etcd key prefix (mode etcd)
 * @param etcdSecurity TLS files and etcd user (paths only, no secret; {@code EtcdSecurity.NONE} without)
 */
public record MeshConfig(Mode mode, int leaseMillis, java.util.List<java.net.URI> etcdEndpoints, String name,
    io.dctun.core.mesh.etcd.EtcdSecurity etcdSecurity) {
  /** The mesh's name when the file gives none. */
  public static final String DEFAULT_NAME = "dctun";

  /** A full-mesh configuration (no etcd). */
  public MeshConfig(Mode mode, int leaseMillis) {
    this(mode, leaseMillis, java.util.List.of(), DEFAULT_NAME);
  }

  /** Plain etcd (or a full mesh): no TLS files, no etcd user. */
  public MeshConfig(Mode mode, int leaseMillis, java.util.List<java.net.URI> etcdEndpoints, String name) {
    this(mode, leaseMillis, etcdEndpoints, name, io.dctun.core.mesh.etcd.EtcdSecurity.NONE);
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
    java.util.Objects.requireNonNull(etcdSecurity, "etcdSecurity");
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
        etcdEndpoints, name, leaseMillis, java.time.Duration.ofSeconds(2), etcdSecurity));
  }
}
