package io.dctun.core.transport;

import io.dctun.core.route.Prefix;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/** A UDP peer address. Two UDP endpoints are equal when their addresses and ports are. */
public final class UdpEndpoint implements Endpoint {
  private final InetSocketAddress address;

  private UdpEndpoint(InetSocketAddress address) {
    if (address.isUnresolved()) {
      throw new IllegalArgumentException("UDP endpoint " + address + " is not resolved");
    }
    this.address = address;
  }

  public static UdpEndpoint of(InetSocketAddress address) {
    return new UdpEndpoint(Objects.requireNonNull(address, "address"));
  }

  /** A literal address (never a DNS lookup: {@code host} must be an IP literal) and port. */
  public static UdpEndpoint of(String ipLiteral, int port) {
    String text = ipLiteral.indexOf(':') >= 0 ? ipLiteral + "/128" : ipLiteral + "/32";
    try {
      return of(new InetSocketAddress(InetAddress.getByAddress(Prefix.parse(text).address()), port));
    } catch (UnknownHostException e) {
      throw new AssertionError("a 4- or 16-byte address is always accepted", e);
    }
  }

  /** {@code null} for {@code null}: a peer that only dials in has no endpoint. */
  public static UdpEndpoint ofNullable(InetSocketAddress address) {
    return address == null ? null : new UdpEndpoint(address);
  }

  @Override
  public InetSocketAddress address() {
    return address;
  }

  @Override
  public String carrier() {
    return "udp";
  }

  public boolean isIpv6() {
    return address.getAddress() instanceof Inet6Address;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof UdpEndpoint u && u.address.equals(address);
  }

  @Override
  public int hashCode() {
    return address.hashCode();
  }

  /** {@code 198.18.0.2:51820} or {@code [2001:db8::2]:51820}, as {@code wg show} prints endpoints. */
  @Override
  public String toString() {
    String host = Prefix.addressText(address.getAddress().getAddress());
    return isIpv6() ? "[" + host + "]:" + address.getPort() : host + ":" + address.getPort();
  }

}
