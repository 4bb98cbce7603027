package io.dctun.core.session;

import io.dctun.crypto.PublicKey;

/**
 * The firewall hook the device calls for every inner packet, after routing outbound and after
 * the source check inbound. Implementations (tunnel-firewall) must not allocate on the hot path
 * and must not keep the buffer.
 */
public interface PacketFilter {
  /** True to let a packet from the device go to {@code peer}. */
  boolean allowOutbound(PublicKey peer, byte[] buf, int off, int len, long now);

  /** True to let a packet from {@code peer} reach the device. */
  boolean allowInbound(PublicKey peer, byte[] buf, int off, int len, long now);

  PacketFilter ACCEPT_ALL = new PacketFilter() {
    @Override
    public boolean allowOutbound(PublicKey peer, byte[] buf, int off, int len, long now) {
      return true;
    }

    @Override
    public boolean allowInbound(PublicKey peer, byte[] buf, int off, int len, long now) {
      return true;
    }
  };
}
