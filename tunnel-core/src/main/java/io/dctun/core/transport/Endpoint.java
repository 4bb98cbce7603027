package io.dctun.core.transport;

import java.net.InetSocketAddress;

/**
 * Where a peer is reached: the remote end of one carrier. Today that is a UDP address
 * ({@link UdpEndpoint}); a TCP or TLS connection and other carriers implement this too, and the
 * {@link Transport} that made an endpoint is the one that {@link Transport#carries carries} it.
 *
 * <p>The model is wireguard-go's {@code conn.Endpoint}: an opaque value the protocol keeps per
 * peer (configured, then learned from the last authenticated packet, which is roaming), compares
 * with {@code equals}, shows in the status, and hands back to the transports to send. The
 * protocol needs one more thing of it: the remote IP address and port, which the cookie MAC
 * (whitepaper 5.4.7) binds a handshake to.
 *
 * <p>Implementations are immutable values with {@code equals} and {@code hashCode}; their
 * {@code toString} is what {@code dctun status} prints (for UDP, {@code host:port}).
 */
public interface Endpoint {

  /** The remote IP address and port: the source a cookie reply is bound to, and what status shows. */
  InetSocketAddress address();

  /** The carrier's short name: {@code "udp"}, later {@code "tcp"} or {@code "tls"}. */
  String carrier();

  /**
   * The remote address and port as cookie input: the address bytes (4 or 16) followed by the
   * port in network byte order. Allocates; handshake path only.
   */
  default byte[] cookieSource() {
    InetSocketAddress a = address();
    byte[] ip = a.getAddress().getAddress();
    byte[] s = new byte[ip.length + 2];
    System.arraycopy(ip, 0, s, 0, ip.length);
    s[ip.length] = (byte) (a.getPort() >>> 8);
    s[ip.length + 1] = (byte) a.getPort();
    return s;
  }
}
