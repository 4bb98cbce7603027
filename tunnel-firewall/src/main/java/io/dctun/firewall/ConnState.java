package io.dctun.firewall;

/** Connection-tracking state of a packet, as rules see it (the iptables names). */
public enum ConnState {
  /** First packet of a flow: no tracked connection yet. */
  NEW,
  /** Part of a tracked flow that the rules admitted. */
  ESTABLISHED,
  /** An ICMP error quoting a tracked flow. */
  RELATED,
  /** Fits no flow and cannot start one (e.g. a TCP ACK without a connection). */
  INVALID;

  static final ConnState[] VALUES = values();
}
