package io.dctun.core.transport;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A peer reached over a TCP connection carrying length-prefixed WireGuard messages ({@link
 * StreamFraming}). For a peer we dial, the address is its listening address; for a peer that
 * dialled us, it is the connection's remote address, valid while that connection lives (which is
 * what roaming learns from its packets). Equal when the addresses are.
 */
public final class TcpEndpoint implements Endpoint {
  private final InetSocketAddress address;

  private TcpEndpoint(InetSocketAddress address) {
    if (address.isUnresolved()) {
      throw new IllegalArgumentException("TCP endpoint " + address + " is not resolved");
    }
    this.address = address;
  }

  public static TcpEndpoint of(InetSocketAddress address) {
    return new TcpEndpoint(Objects.requireNonNull(address, "address"));
  }

  @Override
  public InetSocketAddress address() {
    return address;
  }

  @Override
  public String carrier() {
    return "tcp";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TcpEndpoint t && t.address.equals(address);
  }

  @Override
  public int hashCode() {
    return address.hashCode() * 31 + 6;
  }

  /** {@code tcp://198.18.0.2:443}, {@code tcp://[fd00::2]:443}. */
  @Override
  public String toString() {
    return "tcp://" + UdpEndpoint.of(address);
  }
}
