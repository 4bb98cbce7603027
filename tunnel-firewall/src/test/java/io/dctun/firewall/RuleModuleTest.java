package io.dctun.firewall;

import static io.dctun.core.session.PacketFilter.ACCEPT;
import static io.dctun.core.session.PacketFilter.DROP;
import static io.dctun.firewall.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ManualClock;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RuleModuleTest {

  @Test
  void serviceLoaderFindsTheExampleModules() {
    assertThat(RuleSet.Builder.discoverModules()).containsKeys("time-window", "rate-limit");
  }

  @Test
  void timeWindowMatchesOnlyInsideTheWindow() throws Exception {
    ManualClock clock = new ManualClock(0, 0); // only the wall clock moves
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("office-hours-ssh").inbound().protocol("tcp").destinationPort("22")
            .match("time-window", Map.of("from", "08:00", "to", "18:00")).action(Action.ACCEPT))
        .build(), FirewallOptions.DEFAULTS.withClock(clock));
    long hour = 3600 * SEC;
    clock.setWallClockNanos(20_000 * 24 * hour + 9 * hour);
    assertThat(in(fw, PROD, Packets.tcp("10.1.0.1", 1000, "10.2.0.1", 22, SYN), 1)).isEqualTo(ACCEPT);
    clock.setWallClockNanos(20_000 * 24 * hour + 19 * hour);
    assertThat(in(fw, PROD, Packets.tcp("10.1.0.1", 1001, "10.2.0.1", 22, SYN), 1)).isEqualTo(DROP);
    // The flow admitted at 09:00 goes on after hours: established flows do not see the rules.
    assertThat(out(fw, PROD, Packets.tcp("10.2.0.1", 22, "10.1.0.1", 1000, SYN_ACK), 2)).isEqualTo(ACCEPT);
  }

  @Test
  void rateLimiterCapsNewFlowsPerSource() throws Exception {
    Firewall fw = new Firewall(peers()
        .rule(Rule.named("dns-limited").inbound().protocol("udp").destinationPort("53")
            .match("rate-limit", Map.of("rate", "5", "burst", "5")).action(Action.ACCEPT))
        .build());
    int accepted = 0;
    for (int i = 0; i < 20; i++) {
      if (in(fw, PROD, Packets.udp("10.1.0.1", 2000 + i, "10.2.0.53", 53, 10), 1) == ACCEPT) {
        accepted++;
      }
    }
    assertThat(accepted).isEqualTo(5);
    // Another source has its own budget; one second later the first has 5 more.
    assertThat(in(fw, PROD, Packets.udp("10.1.0.2", 2000, "10.2.0.53", 53, 10), 1)).isEqualTo(ACCEPT);
    assertThat(in(fw, PROD, Packets.udp("10.1.0.1", 3000, "10.2.0.53", 53, 10), 1 + SEC)).isEqualTo(ACCEPT);
  }
}
