package io.dctun.firewall;

/**
 * One problem in a rule set: the rule (by name, or {@code "#index"} when it has none), the field,
 * and what is wrong. The YAML loader adds file and line.
 */
public record RuleError(String rule, String field, String message) {
  @Override
  public String toString() {
    return "rule '" + rule + "', field '" + field + "': " + message;
  }
}
