package io.dctun.core.transport;

import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * A peer reached over a byte stream carrying length-prefixed WireGuard messages ({@link
 * StreamFraming}): plain TCP, or TLS on TCP. For a peer we dial, the address is its listening
 * address; for a peer that dialled us, it is the connection's remote address, valid while that
 * connection lives (which is what roaming learns from its packets). Equal when the carrier and
 * the address are.
 */
public final class StreamEndpoint implements Endpoint {
  /** The stream under the framing. */
  public enum Kind {
    TCP,
    TLS;

    final String carrier = name().toLowerCase(Locale.ROOT);
  }

  private final Kind kind;
  private final InetSocketAddress address;

  private StreamEndpoint(Kind kind, InetSocketAddress address) {
    this.kind = Objects.requireNonNull(kind, "kind");
    if (address.isUnresolved()) {
      throw new IllegalArgumentException(kind.carrier + " endpoint " + address + " is not resolved");
    }
    this.address = address;
  }

  public static StreamEndpoint tcp(InetSocketAddress address) {
    return new StreamEndpoint(Kind.TCP, Objects.requireNonNull(address, "address"));
  }

  public static StreamEndpoint tls(InetSocketAddress address) {
    return new StreamEndpoint(Kind.TLS, Objects.requireNonNull(address, "address"));
  }

  public static StreamEndpoint of(Kind kind, InetSocketAddress address) {
    return new StreamEndpoint(kind, Objects.requireNonNull(address, "address"));
  }

  public Kind kind() {
    return kind;
  }

  @Override
  public InetSocketAddress address() {
    return address;
  }

  @Override
  public String carrier() {
    return kind.carrier;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StreamEndpoint t && t.kind == kind && t.address.equals(address);
  }

  @Override
  public int hashCode() {
    return address.hashCode() * 31 + kind.ordinal();
  }

  /** {@code tcp://198.18.0.2:443}, {@code tls://[fd00::2]:443}. */
  @Override
  public String toString() {
    return kind.carrier + "://" + UdpEndpoint.of(address);
  }
}
