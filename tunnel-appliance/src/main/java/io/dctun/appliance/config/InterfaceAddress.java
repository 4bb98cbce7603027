package io.dctun.appliance.config;

import io.dctun.core.route.Prefix;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * An address the interface takes, with its prefix length: {@code 10.10.0.1/24}. Unlike a
 * {@link Prefix} it keeps the host bits, which are the point of it. Immutable.
 */
public final class InterfaceAddress {
  private final byte[] address;
  private final int length;

  private InterfaceAddress(byte[] address, int length) {
    this.address = address;
    this.length = length;
  }

  /**
   * Parses {@code address/length}; a bare address means a host address (/32 or /128).
   *
   * @throws IllegalArgumentException naming the text
   */
  public static InterfaceAddress parse(String text) {
    Prefix whole = Prefix.parse(text); // validates both parts; masks the host bits away
    int slash = text.indexOf('/');
    Prefix host = slash < 0 ? whole : Prefix.parse(text.substring(0, slash));
    return new InterfaceAddress(host.address(), whole.length());
  }

  /** Parses a bare IPv4 or IPv6 literal, never consulting DNS. */
  public static InetAddress parseLiteral(String text) {
    if (text.indexOf('/') >= 0) {
      throw new IllegalArgumentException("'" + text + "' is not an address (no /length here)");
    }
    try {
      return InetAddress.getByAddress(Prefix.parse(text).address());
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // only for a bad array length
    }
  }

  /** The canonical text of an address literal: dotted quad, or RFC 5952 IPv6. */
  public static String format(InetAddress a) {
    String s = Prefix.of(a.getAddress(), a.getAddress().length * 8).toString();
    return s.substring(0, s.indexOf('/'));
  }

  public InetAddress address() {
    try {
      return InetAddress.getByAddress(address);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public int length() {
    return length;
  }

  public boolean isIpv4() {
    return address.length == 4;
  }

  /** The network this address is on: the route the interface gets. */
  public Prefix network() {
    return Prefix.of(address, length);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InterfaceAddress
        && ((InterfaceAddress) o).length == length
        && Arrays.equals(((InterfaceAddress) o).address, address);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(address) * 31 + length;
  }

  @Override
  public String toString() {
    return format(address()) + "/" + length;
  }
}
