package io.dctun.core.session;

import io.dctun.crypto.PublicKey;

/**
 * The firewall hook the device calls for every inner packet, after routing outbound and after
 * the source check inbound. Implementations (tunnel-firewall) must not allocate on the hot path
 * and must not keep the buffer.
 *
 * <p>The device calls {@link #filterOutbound} and {@link #filterInbound}, which return a verdict
 * code: {@link #ACCEPT}, {@link #DROP}, or a positive length {@code n} meaning "rejected, and a
 * reply (TCP RST or ICMP unreachable) of {@code n} bytes now sits at {@code buf[off..off+n)} in
 * place of the packet". The device sends that reply back where the packet came from: to the
 * packet device for an outbound packet, to the peer for an inbound one. A filter writes a reply
 * only when {@code off + n + REPLY_TAILROOM <= buf.length}, so the device can seal it in place.
 * Filters that only need a yes/no implement the two {@code allow} methods; the defaults map them.
 */
public interface PacketFilter {
  /** Verdict code: let the packet through. */
  int ACCEPT = 0;
  /** Verdict code: drop the packet silently. */
  int DROP = -1;
  /** Room a filter leaves after a reply it writes in place (padding and AEAD tag). */
  int REPLY_TAILROOM = 32;

  /** True to let a packet from the device go to {@code peer}. */
  boolean allowOutbound(PublicKey peer, byte[] buf, int off, int len, long now);

  /** True to let a packet from {@code peer} reach the device. */
  boolean allowInbound(PublicKey peer, byte[] buf, int off, int len, long now);

  /** Verdict for a packet from the device to {@code peer}: ACCEPT, DROP or reply length. */
  default int filterOutbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return allowOutbound(peer, buf, off, len, now) ? ACCEPT : DROP;
  }

  /** Verdict for a packet from {@code peer} to the device: ACCEPT, DROP or reply length. */
  default int filterInbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return allowInbound(peer, buf, off, len, now) ? ACCEPT : DROP;
  }

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
