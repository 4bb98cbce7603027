package io.dctun.firewall;

import io.dctun.firewall.internal.CompiledRule;
import java.util.ArrayList;
import java.util.List;

/**
 * What one run of {@link Firewall}'s decision saw, step by step, and what it decided: the sink
 * that turns the data path's decision into {@link Firewall#explain}. The data path passes none
 * (null), so it records nothing and allocates nothing; a decision given a trace is also dry: it
 * changes no flow, counts nothing, logs nothing and writes no reject reply.
 *
 * <p>Thread-safety: confined to the thread that explains.
 */
final class Trace {
  private final List<String> steps = new ArrayList<>();
  private Reason reason;
  private CompiledRule rule;
  private ConnState state;

  void step(String what) {
    steps.add(what);
  }

  /** The decision: its reason, the rule that decided (or admitted the flow), the state. */
  void verdict(Reason reason, CompiledRule rule, ConnState state) {
    this.reason = reason;
    this.rule = rule;
    this.state = state;
    steps.add("verdict: " + reason + (rule == null ? "" : " (rule '" + rule.name + "' #"
        + rule.index + ")") + ", state " + state);
  }

  Explanation explanation() {
    if (reason == null) {
      throw new IllegalStateException("the decision ended without a verdict: " + steps);
    }
    Action action = reason == Reason.RULE_REJECT ? Action.REJECT
        : reason.isDrop() ? Action.DROP : Action.ACCEPT;
    return new Explanation(action, rule == null ? null : rule.name, rule == null ? -1 : rule.index,
        state, reason, List.copyOf(steps));
  }
}
