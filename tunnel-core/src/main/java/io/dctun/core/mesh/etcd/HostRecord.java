package io.dctun.core.mesh.etcd;

import java.util.Objects;

/**
 * The value stored under a host's key: which gateway the host is connected to, the version of
 * that connection (the host's handshake TAI64N, as {@link io.dctun.core.mesh.HostDirectory} uses
 * it) and the gateway's incarnation (so a restarted gateway recognises what its previous life
 * wrote). Encoded as JSON by {@link EtcdCodec}; keys are public keys in base64, never secrets.
 */
public record HostRecord(String gateway, long version, long incarnation) {
  /**
   * What a value that is not a host record stands for: no owner, older than any connection, so
   * a gateway the host is connected to overwrites it and the others route the host nowhere.
   */
  public static final HostRecord UNREADABLE = new HostRecord("", Long.MIN_VALUE, 0);

  public HostRecord {
    Objects.requireNonNull(gateway, "gateway");
  }

  /**
   * Whether this connection is newer than {@code other}'s: the higher version wins, equal versions
   * fall back to the higher gateway id (as HostDirectory breaks ties).
   */
  public boolean newerThan(long otherVersion, String otherGateway) {
    return version > otherVersion || (version == otherVersion && gateway.compareTo(otherGateway) > 0);
  }
}
