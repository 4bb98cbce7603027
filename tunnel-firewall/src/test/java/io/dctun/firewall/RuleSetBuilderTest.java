package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RuleSetBuilderTest {

  @Test
  void collectsEveryErrorWithRuleNameAndField() {
    RuleSetException e = catchThrowableOfType(RuleSetException.class, () -> peers()
        .rule(Rule.named("bad-prefix").source("10.0.0.0/8", "10.300.0.0/16").action(Action.ACCEPT))
        .rule(Rule.named("bad-port").protocol("tcp").destinationPort("70000").action(Action.DROP))
        .rule(Rule.named("port-without-proto").destinationPort("22").action(Action.DROP))
        .rule(Rule.named("no-action").protocol("udp"))
        .rule(Rule.named("unknown-peer").peer("mars").group("planets").action(Action.ACCEPT))
        .rule(Rule.named("bad-proto").protocol("sctpish").action(Action.ACCEPT))
        .rule(Rule.named("icmp-type-on-tcp").protocol("tcp").icmpType(8).action(Action.ACCEPT))
        .rule(Rule.named("established").state(ConnState.ESTABLISHED).action(Action.ACCEPT))
        .rule(Rule.named("bad-port").protocol("udp").action(Action.ACCEPT))
        .rule(Rule.named("unknown-module").match("nope", Map.of()).action(Action.ACCEPT))
        .rule(Rule.named("reversed-range").protocol("udp").sourcePort("200-100").action(Action.ACCEPT))
        .build());
    assertThat(e.errors()).extracting(RuleError::rule, RuleError::field).containsExactly(
        org.assertj.core.groups.Tuple.tuple("bad-prefix", "source"),
        org.assertj.core.groups.Tuple.tuple("bad-port", "destinationPort"),
        org.assertj.core.groups.Tuple.tuple("port-without-proto", "destinationPort"),
        org.assertj.core.groups.Tuple.tuple("no-action", "action"),
        org.assertj.core.groups.Tuple.tuple("unknown-peer", "peer"),
        org.assertj.core.groups.Tuple.tuple("unknown-peer", "group"),
        org.assertj.core.groups.Tuple.tuple("bad-proto", "protocol"),
        org.assertj.core.groups.Tuple.tuple("icmp-type-on-tcp", "icmpType"),
        org.assertj.core.groups.Tuple.tuple("established", "state"),
        org.assertj.core.groups.Tuple.tuple("bad-port", "name"),
        org.assertj.core.groups.Tuple.tuple("unknown-module", "match.nope"),
        org.assertj.core.groups.Tuple.tuple("reversed-range", "sourcePort"));
    assertThat(e.errors().get(0).message()).contains("10.300.0.0/16");
    assertThat(e.errors().get(4).message()).contains("mars");
    assertThat(e.getMessage()).contains("12 error(s)");
  }

  @Test
  void unnamedRuleIsReportedByPosition() {
    RuleSetException e = catchThrowableOfType(RuleSetException.class, () -> peers()
        .rule(Rule.named("fine").action(Action.ACCEPT))
        .rule(Rule.named(null).action(Action.ACCEPT))
        .build());
    assertThat(e.errors()).singleElement().satisfies(err -> {
      assertThat(err.rule()).isEqualTo("#1");
      assertThat(err.field()).isEqualTo("name");
    });
  }

  @Test
  void peersByKeyAndGroupsResolve() throws Exception {
    RuleSet rs = peers()
        .rule(Rule.named("by-key").peer(PROD.toBase64()).action(Action.ACCEPT))
        .rule(Rule.named("by-group").group("storage").action(Action.ACCEPT))
        .build();
    assertThat(rs.ruleNames()).containsExactly("by-key", "by-group");
    assertThat(rs.size()).isEqualTo(2);
  }

  @Test
  void moduleParameterErrorsNameTheRule() {
    RuleSetException e = catchThrowableOfType(RuleSetException.class, () -> peers()
        .rule(Rule.named("office-hours").match("time-window", Map.of("from", "25:00", "to", "18:00"))
            .action(Action.ACCEPT))
        .build());
    assertThat(e.errors()).singleElement().satisfies(err -> {
      assertThat(err.rule()).isEqualTo("office-hours");
      assertThat(err.field()).isEqualTo("match.time-window");
      assertThat(err.message()).contains("from");
    });
    assertThat(List.of(e.errors().get(0).toString())).allMatch(s -> s.contains("office-hours"));
  }
}
