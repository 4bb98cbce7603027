package io.dctun.appliance.config;

import io.dctun.firewall.FirewallOptions;
import io.dctun.firewall.RuleSet;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code firewall:} section of a gateway configuration, validated and compiled by {@link
 * FirewallSection}. Its presence switches the gateway to default deny in both directions; its
 * absence (no {@code firewall:} key at all) keeps the pre-firewall behaviour, accept all.
 *
 * @param file the configuration file it was read from (a reload reads it again)
 * @param line the line of the {@code firewall:} key
 * @param groups group name to peer names, in file order
 * @param ruleLines rule name to the line where the rule starts, in rule order
 * @param ruleSet the compiled rules (peers, groups and rules), ready to install
 * @param options connection-table size and reject rate
 */
public record FirewallConfig(
    Path file,
    int line,
    Map<String, List<String>> groups,
    Map<String, Integer> ruleLines,
    RuleSet ruleSet,
    FirewallOptions options) {

  public FirewallConfig {
    Objects.requireNonNull(file, "file");
    groups = Map.copyOf(groups);
    Objects.requireNonNull(ruleLines, "ruleLines"); // keeps its (ordered) map: rule order
    Objects.requireNonNull(ruleSet, "ruleSet");
    Objects.requireNonNull(options, "options");
  }

  /** {@code file:line} of rule {@code name}, or of the section when the rule is unknown. */
  public String where(String name) {
    Integer l = name == null ? null : ruleLines.get(name);
    return file + ":" + (l != null ? l : line);
  }
}
