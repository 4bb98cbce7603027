package io.dctun.firewall;

import java.util.List;

/**
 * The answer to {@link Firewall#explain}: what would happen to the packet and why. It comes from
 * the data path's own decision, run dry (see {@link Trace}).
 *
 * @param action ACCEPT, DROP or REJECT
 * @param rule the name of the deciding rule (for a tracked flow: the rule that admitted it), or
 *     null when no rule decided (default policy, malformed packet, revoked flow)
 * @param ruleIndex its position in the rule set (0-based), or -1
 * @param state the connection state the packet would have
 * @param reason the reason code counted for it
 * @param steps what the decision looked at, in order, ending with the verdict
 */
public record Explanation(Action action, String rule, int ruleIndex, ConnState state,
    Reason reason, List<String> steps) {
  @Override
  public String toString() {
    return action + " (" + reason + (rule == null ? "" : ", rule '" + rule + "' #" + ruleIndex)
        + ", state " + state + ")";
  }
}
