package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Spawned;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Site B's gateway pair fails over under load: srvA pings srvB every 10 ms and sends a paced TCP
 * stream to it while gwB1 (master) loses both links, or is killed with SIGKILL. gwB2 must take
 * both VIPs, re-handshake with gwA at once, and carry the same TCP connection to the end (exit 0
 * on both ends, same SHA-256). The outage (first lost ping to first answered one) is printed and
 * appended to {@code target/ha-failover.txt}, with gwA -> public VIP pings measuring VRRP alone.
 * {@code -Ddctun.ha.reps=N} repeats each case.
 */
@Timeout(600)
class E2eHaFailoverTest {
  private static final AtomicInteger PORTS = new AtomicInteger(5301);

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    io.dctun.core.testing.Requirements.assumeCommand("bash");
    io.dctun.core.testing.Requirements.assumeCommand("python3");
  }

  @ParameterizedTest(name = "{0}, advert {1} ms")
  @CsvSource({"links-down, 1000", "links-down, 100", "sigkill, 1000", "sigkill, 100"})
  void backupTakesOverTheTunnel(String mode, int advertMillis) throws Exception {
    int reps = Integer.getInteger("dctun.ha.reps", 1);
    for (int rep = 1; rep <= reps; rep++) {
      once(mode, advertMillis, rep);
    }
  }

  private void once(String mode, int advertMillis, int rep) throws Exception {
    try (HaSites s = new HaSites()) {
      HaSites.Gw a = s.startGwA();
      HaSites.Gw b1 = s.startGwB(1, 200, advertMillis);
      b1.awaitHaState("MASTER", Duration.ofSeconds(15));
      HaSites.Gw b2 = s.startGwB(2, 100, advertMillis);
      b2.awaitHaState("BACKUP", Duration.ofSeconds(15));
      Sites.sleep(3L * advertMillis + 200); // gwB2 has heard gwB1 and stays backup
      assertThat(b2.haState()).as(b2.describe()).isEqualTo("BACKUP");

      ExecResult first = s.srvA.exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-w", "20", Sites.SRV_B);
      assertThat(first.ok()).as("srvA -> srvB through gwB1\n%s\n%s\n%s", first.describe(), a.describe(), b1.describe())
          .isTrue();
      assertThat(b1.status().get("ha.tunnel")).isEqualTo("sending");
      assertThat(b2.status().get("ha.tunnel")).isEqualTo("muted");
      assertThat(s.gwB2.exec("ip", "-4", "-o", "addr").stdout()).doesNotContain(HaSites.PUBLIC_VIP + "/");
      assertThat(s.gwB1.exec("ip", "-4", "-o", "addr").stdout()).contains(HaSites.PUBLIC_VIP + "/")
          .contains(HaSites.PRIVATE_VIP + "/");

      Sites.Payload payload = s.payload(12L << 20);
      int rate = 1 << 20; // 1 MiB/s: 12 s of traffic, failover in the middle
      int pings = 1600;
      // Handshake messages (types 1-3) and ARP on the WAN, ARP on site B's LAN: why an outage took long.
      Spawned wanDump = s.gwA.spawn("tcpdump", "-l", "-n", "-tt", "-i", s.wanBridge,
          "arp or (udp port " + Sites.PORT + " and udp[8] < 4)");
      Spawned lanDump = s.srvB.spawn("tcpdump", "-l", "-n", "-tt", "-e", "-i", s.lanBridge, "arp");
      Sites.sleep(500);
      Spawned ping = s.ping(s.srvA, Sites.SRV_B, pings);
      Spawned vipPing = s.ping(s.gwA, HaSites.PUBLIC_VIP, pings);
      HaSites.Transfer tcp = s.new Transfer(payload, rate, PORTS.getAndIncrement());
      Sites.sleep(3000);
      long failAt = System.nanoTime();
      long failEpochMillis = System.currentTimeMillis();
      if (mode.equals("links-down")) {
        s.gwB1.run("ip", "link", "set", s.wanB1, "down");
        s.gwB1.run("ip", "link", "set", s.lanB1, "down");
      } else {
        b1.process().process().destroyForcibly(); // SIGKILL: no priority-0 advert, VIPs left behind
      }
      b2.awaitHaState("MASTER", Duration.ofSeconds(15));
      long masterAfter = (System.nanoTime() - failAt) / 1_000_000;

      tcp.assertComplete(Duration.ofSeconds(120), a.describe() + "\n" + b2.describe());
      assertThat(ping.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(vipPing.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
      HaSites.Outage tunnel = HaSites.outage(ping.output());
      HaSites.Outage vrrp = HaSites.outage(vipPing.output());
      System.out.printf("failover at %.3f (epoch s)%n--- WAN (gwA) ---%n%s--- LAN B (srvB) ---%n%s",
          failEpochMillis / 1000.0, wanDump.output(), lanDump.output());
      wanDump.close();
      lanDump.close();

      String line = String.format("RESULT dctun-vrrp mode=%s advert=%dms rep=%d tunnel(srvA->srvB): %s | "
              + "vip(gwA->public VIP): %s | gwB2 MASTER seen after %d ms (status polled every 1 s)%n",
          mode, advertMillis, rep, tunnel, vrrp, masterAfter);
      System.out.print(line);
      Path out = Path.of("target", "ha-failover.txt");
      Files.writeString(out, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);

      assertThat(tunnel.outageMillis()).as("%s\n%s\n%s", line, b2.describe(), a.describe()).isGreaterThan(0)
          .isLessThan(4.0 * advertMillis + 2000);
      assertThat(b2.status().get("ha.tunnel")).isEqualTo("sending");
      assertThat(Long.parseLong(b2.status().get("ha.takeovers"))).isEqualTo(1);
      assertThat(s.gwB2.exec("ip", "-4", "-o", "addr").stdout()).contains(HaSites.PUBLIC_VIP + "/")
          .contains(HaSites.PRIVATE_VIP + "/");
      assertThat(Long.parseLong(a.status().get("drop.DECRYPT_FAILED"))).isZero();
    }
  }
}
