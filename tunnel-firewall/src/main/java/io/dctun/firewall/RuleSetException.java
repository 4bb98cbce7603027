package io.dctun.firewall;

import java.util.List;

/** A rule set that failed to compile, with every error found (not only the first). */
public final class RuleSetException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient List<RuleError> errors;

  public RuleSetException(List<RuleError> errors) {
    super(errors.size() + " error(s) in rule set:\n  " + String.join("\n  ",
        errors.stream().map(RuleError::toString).toList()));
    this.errors = List.copyOf(errors);
  }

  public List<RuleError> errors() {
    return errors;
  }
}
