package io.dctun.firewall;

import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What an embedding program gets when it prints the firewall it runs. */
class FirewallToStringTest {

  @Test
  void printsTheRulesVersionTheTableFillAndEveryNonZeroVerdict() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("ssh").inbound().protocol("tcp").destinationPort("22").action(Action.ACCEPT))
        .build());
    assertThat(fw).hasToString("Firewall[rules v1 (1 rule), 0/262144 flows, decided nothing yet]");

    in(fw, PROD, Packets.tcp("10.1.0.1", 1000, "10.2.0.1", 22, SYN), 1);   // accepted: a flow
    in(fw, PROD, Packets.tcp("10.1.0.1", 1001, "10.2.0.1", 80, SYN), 2);   // no rule
    in(fw, PROD, Packets.tcp("10.1.0.1", 1002, "10.2.0.1", 81, SYN), 3);   // no rule
    assertThat(fw).hasToString("Firewall[rules v1 (1 rule), 1/262144 flows, decided RULE_ACCEPT=1, NO_RULE=2]");
  }
}
