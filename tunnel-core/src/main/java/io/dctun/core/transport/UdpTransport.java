package io.dctun.core.transport;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * A {@link Transport} over one UDP socket: it carries {@link UdpEndpoint}s of the socket's
 * family (an IPv4 socket only IPv4 endpoints; a socket bound to the IPv6 wildcard both, as
 * Linux maps IPv4 into it) and delivers each datagram with the sender's {@link UdpEndpoint}.
 */
public interface UdpTransport extends Transport {

  /** The local address and port datagrams arrive on. */
  InetSocketAddress localAddress() throws IOException;

  /** The address the socket is bound to; for {@link #carries}. */
  InetAddress boundAddress();

  @Override
  default boolean carries(Endpoint to) {
    if (!(to instanceof UdpEndpoint u)) {
      return false;
    }
    InetAddress b = boundAddress();
    if (b instanceof Inet4Address) {
      return !u.isIpv6();
    }
    if (b != null && !b.isAnyLocalAddress()) {
      return u.isIpv6();
    }
    return true; // all addresses, or the IPv6 wildcard: a dual-stack socket
  }

  /**
   * The endpoint for a datagram from {@code from}: {@code last} again if it names the same
   * sender (the common case: a batch from one peer), else a new one. Saves an allocation per
   * datagram on the receive path.
   */
  static UdpEndpoint endpoint(UdpEndpoint last, InetSocketAddress from) {
    return last != null && last.address().equals(from) ? last : UdpEndpoint.of(from);
  }
}
