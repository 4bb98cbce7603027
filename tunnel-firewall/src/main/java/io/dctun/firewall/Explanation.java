package io.dctun.firewall;

/**
 * The answer to {@link Firewall#explain}: what would happen to the packet and why.
 *
 * @param action ACCEPT, DROP or REJECT
 * @param rule the name of the deciding rule, or null when no rule decided (default policy,
 *     established flow, malformed packet)
 * @param ruleIndex its position in the rule set (0-based), or -1
 * @param state the connection state the packet would have
 * @param reason the reason code counted for it
 */
public record Explanation(Action action, String rule, int ruleIndex, ConnState state,
    Reason reason) {
  @Override
  public String toString() {
    return action + " (" + reason + (rule == null ? "" : ", rule '" + rule + "' #" + ruleIndex)
        + ", state " + state + ")";
  }
}
