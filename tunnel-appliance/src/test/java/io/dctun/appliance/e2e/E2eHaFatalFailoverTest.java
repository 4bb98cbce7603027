package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A master that can no longer move packets hands the VIPs over: site B's master loses its TUN
 * interface ({@code ip link del}); it must not stay MASTER of a box that forwards nothing, but
 * shut down cleanly (priority-0 advert, VIPs removed) and exit 3, while the backup becomes
 * MASTER and carries srvA -> srvB again. Namespaces {@code dt-lv*-<id>}.
 */
@Timeout(180)
class E2eHaFatalFailoverTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  private static void assertPing(HaSites s, String why, HaSites.Gw... gws) {
    ExecResult r = s.srvA.exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-w", "20", Sites.SRV_B);
    StringBuilder ctx = new StringBuilder();
    for (HaSites.Gw g : gws) {
      ctx.append('\n').append(g.describe());
    }
    assertThat(r.ok()).as("%s: srvA -> srvB\n%s%s", why, r.describe(), ctx).isTrue();
  }

  @Test
  void aMasterWhoseTunnelInterfaceIsDeletedExitsAndTheBackupTakesTheVips() throws Exception {
    try (HaSites s = new HaSites(false, "lv")) {
      HaSites.Gw a = s.startGwA();
      HaSites.Gw b1 = s.startGwB(1, 200, 100);
      b1.awaitHaState("MASTER", Duration.ofSeconds(15));
      HaSites.Gw b2 = s.startGwB(2, 100, 100);
      b2.awaitHaState("BACKUP", Duration.ofSeconds(15));
      assertPing(s, "before", a, b1, b2);
      assertThat(b1.addresses()).contains(HaSites.PUBLIC_VIP + "/").contains(HaSites.PRIVATE_VIP + "/");

      long t0 = System.nanoTime();
      b1.ns().run("ip", "link", "del", b1.tun());
      b2.awaitHaState("MASTER", Duration.ofSeconds(15));
      long masterMs = (System.nanoTime() - t0) / 1_000_000;
      assertThat(b1.process().process().waitFor(20, TimeUnit.SECONDS)).as(b1.describe()).isTrue();
      long exitMs = (System.nanoTime() - t0) / 1_000_000;
      int exit = b1.process().process().exitValue();
      String log = b1.process().output();
      System.out.printf("RESULT ip link del on gwB1 (advert 100 ms): gwB1 exit %d after %d ms, gwB2 MASTER seen "
          + "after %d ms (status polled every 100 ms, written every 1 s); %s%n", exit, exitMs, masterMs,
          log.lines().filter(l -> l.contains("FATAL")).findFirst().orElse("(no FATAL line)"));
      assertThat(exit).as(log).isEqualTo(3);
      assertThat(log).contains("FATAL").contains("reading packet device " + b1.tun() + " failed");
      assertThat(b1.addresses()).as("the failed box released the VIPs")
          .doesNotContain(HaSites.PUBLIC_VIP + "/").doesNotContain(HaSites.PRIVATE_VIP + "/");
      assertThat(b2.addresses()).contains(HaSites.PUBLIC_VIP + "/").contains(HaSites.PRIVATE_VIP + "/");
      assertPing(s, "after gwB1 failed", a, b2);
      assertThat(b2.process().isAlive()).isTrue();
    }
  }
}
