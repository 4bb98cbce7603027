package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The baseline for {@link E2eHaFailoverTest}: the same topology with keepalived instead of dctun
 * on site B's pair (the same two VIPs as one sync group, the same intervals) and no tunnel at all:
 * gwA routes site B's LAN via the public VIP in clear. What this measures is VIP failover alone.
 */
@Timeout(600)
class E2eHaKeepalivedTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("keepalived");
  }

  @ParameterizedTest(name = "{0}, advert {1} ms")
  // No SIGKILL case: without a tunnel the killed box's kernel keeps forwarding with the VIPs
  // keepalived left on it, so there is no outage to measure (measured: 0 lost pings).
  @CsvSource({"links-down, 1000", "links-down, 100"})
  void keepalivedMovesBothVips(String mode, int advertMillis) throws Exception {
    int reps = Integer.getInteger("dctun.ha.reps", 1);
    for (int rep = 1; rep <= reps; rep++) {
      once(mode, advertMillis, rep);
    }
  }

  private Spawned keepalived(HaSites s, int box, int priority, int advertMillis) throws Exception {
    NetNs ns = box == 1 ? s.gwB1 : s.gwB2;
    String id = "k" + box + s.topology.id();
    Path conf = s.dir.resolve(id + ".conf");
    Files.writeString(conf, String.join("\n",
        "global_defs {",
        "  router_id " + id,
        "  vrrp_version 3",
        "}",
        "vrrp_sync_group G_" + id + " {",
        "  group {",
        "    PUB_" + id,
        "    PRIV_" + id,
        "  }",
        "}",
        "vrrp_instance PUB_" + id + " {",
        "  state BACKUP",
        "  interface " + (box == 1 ? s.wanB1 : s.wanB2),
        "  virtual_router_id 51",
        "  priority " + priority,
        "  advert_int " + (advertMillis / 1000.0),
        "  virtual_ipaddress {",
        "    " + HaSites.PUBLIC_VIP + "/24",
        "  }",
        "}",
        "vrrp_instance PRIV_" + id + " {",
        "  state BACKUP",
        "  interface " + (box == 1 ? s.lanB1 : s.lanB2),
        "  virtual_router_id 52",
        "  priority " + priority,
        "  advert_int " + (advertMillis / 1000.0),
        "  virtual_ipaddress {",
        "    " + HaSites.PRIVATE_VIP + "/24",
        "  }",
        "}", ""));
    return ns.spawn("keepalived", "-n", "-l", "-D", "-G", "-P", "-f", conf.toString(),
        "-p", s.dir.resolve(id + ".pid").toString(), "-r", s.dir.resolve(id + "-vrrp.pid").toString(),
        "-c", s.dir.resolve(id + "-checkers.pid").toString());
  }

  private static void awaitVip(NetNs ns, boolean present, Duration timeout, Object context) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      String a = ns.exec("ip", "-4", "-o", "addr").stdout();
      if (a.contains(HaSites.PUBLIC_VIP + "/") == present && a.contains(HaSites.PRIVATE_VIP + "/") == present) {
        return;
      }
      Sites.sleep(20);
    }
    throw new AssertionError(ns.name() + (present ? " did not get" : " kept") + " the VIPs\n" + context);
  }

  private void once(String mode, int advertMillis, int rep) throws Exception {
    try (HaSites s = new HaSites()) {
      s.gwA.run("ip", "route", "add", Sites.LAN_B, "via", HaSites.PUBLIC_VIP);
      s.gwB1.run("ip", "route", "add", Sites.LAN_A, "via", Sites.WAN_A);
      s.gwB2.run("ip", "route", "add", Sites.LAN_A, "via", Sites.WAN_A);
      Spawned k1 = keepalived(s, 1, 200, advertMillis);
      awaitVip(s.gwB1, true, Duration.ofSeconds(15), k1.describe());
      Spawned k2 = keepalived(s, 2, 100, advertMillis);
      Sites.sleep(3L * advertMillis + 1500);
      awaitVip(s.gwB2, false, Duration.ofSeconds(1), k2.describe());
      ExecResult first = s.srvA.exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-w", "20", Sites.SRV_B);
      assertThat(first.ok()).as(first.describe()).isTrue();

      Spawned ping = s.ping(s.srvA, Sites.SRV_B, 1200);
      Spawned vipPing = s.ping(s.gwA, HaSites.PUBLIC_VIP, 1200);
      Sites.sleep(3000);
      if (mode.equals("links-down")) {
        s.gwB1.run("ip", "link", "set", s.wanB1, "down");
        s.gwB1.run("ip", "link", "set", s.lanB1, "down");
      } else {
        k1.process().toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        k1.process().destroyForcibly();
      }
      awaitVip(s.gwB2, true, Duration.ofSeconds(15), k2.describe());
      assertThat(ping.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(vipPing.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
      HaSites.Outage path = HaSites.outage(ping.output());
      HaSites.Outage vip = HaSites.outage(vipPing.output());
      String line = String.format("RESULT keepalived mode=%s advert=%dms rep=%d clear(srvA->srvB): %s | "
          + "vip(gwA->public VIP): %s%n", mode, advertMillis, rep, path, vip);
      System.out.print(line);
      Files.writeString(Path.of("target", "ha-failover.txt"), line, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      assertThat(path.outageMillis()).as(line).isGreaterThan(0);
    }
  }
}
