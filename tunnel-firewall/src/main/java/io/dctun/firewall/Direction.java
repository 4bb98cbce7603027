package io.dctun.firewall;

/** Which way a packet crosses the tunnel end this firewall guards. */
public enum Direction {
  /** Decrypted from a peer, on its way to the local network ("from the tunnel"). */
  INBOUND,
  /** From the local network, on its way into the tunnel toward a peer ("into the tunnel"). */
  OUTBOUND;

  /** The other direction: the one a reply travels. */
  public Direction reverse() {
    return this == INBOUND ? OUTBOUND : INBOUND;
  }
}
