package io.dctun.appliance.config;

import io.dctun.core.mesh.HostDirectory;

/**
 * The {@code mesh:} section: how the gateways of a mesh share which host is connected where.
 * Immutable.
 *
 * <pre>
 * mesh:
 *   mode: mesh      # the gateways tell each other, full mesh (io.dctun.core.mesh); etcd: not built here
 *   lease: 15s      # how long a host's claim lasts unless renewed: 500ms, 15s, 1m
 * </pre>
 *
 * @param mode how route records travel
 * @param leaseMillis lease of a host claim, in milliseconds
 */
public record MeshConfig(Mode mode, int leaseMillis) {
  /** The minimum and maximum lease accepted: below a second claims churn, above an hour they outlive their host. */
  public static final int MIN_LEASE_MILLIS = 1_000;
  public static final int MAX_LEASE_MILLIS = 3_600_000;

  /** The section as it is when the file has none but a peer has role gateway or host. */
  public static final MeshConfig DEFAULTS = new MeshConfig(Mode.MESH, HostDirectory.DEFAULT_LEASE_MILLIS);

  /** How route records travel between gateways. */
  public enum Mode {
    /** Every gateway tells every other gateway over the control channel (HostDirectory). */
    MESH
  }

  public MeshConfig {
    java.util.Objects.requireNonNull(mode, "mode");
    if (leaseMillis < MIN_LEASE_MILLIS || leaseMillis > MAX_LEASE_MILLIS) {
      throw new IllegalArgumentException("lease " + leaseMillis + " ms is outside " + MIN_LEASE_MILLIS + "-"
          + MAX_LEASE_MILLIS + " ms");
    }
  }
}
