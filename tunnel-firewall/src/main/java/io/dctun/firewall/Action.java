package io.dctun.firewall;

/** What a rule does with the packets it matches. */
public enum Action {
  ACCEPT,
  /** Discard silently. */
  DROP,
  /** Discard and answer: TCP RST for TCP, ICMP/ICMPv6 administratively prohibited otherwise. */
  REJECT
}
