package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The soak of issue 13, by hand (not in CI): {@code -Ddctun.soak.minutes=30}. Site A's gateway
 * and site B's pair carry mixed traffic for that long (a TCP stream each way at a bounded rate,
 * a UDP stream, pings), through a rekey every two minutes, and site B's master fails half way;
 * every 30 s each gateway JVM is sampled: heap after a full GC, resident size, open file
 * descriptors, threads. They must stay flat: the last sample within bounds of the one taken after
 * warm-up. Results go to stdout and {@code target/soak.txt}.
 *
 * <pre>
 * mvn -B -ntp -pl tunnel-appliance -am test -Dtest=E2eSoakTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Ddctun.skipFuzz=true -Ddctun.soak.minutes=30
 * </pre>
 */
class E2eSoakTest {
  private static final Pattern HEAP_USED = Pattern.compile("(?m)^\\S.* heap\\s+total\\b.*?, used (\\d+)K");
  private static final int SAMPLE_SECONDS = 30;

  record Sample(String gw, long second, long heapUsedKb, long rssKb, int fds, int threads) {}

  @Test
  void gatewaysStayFlatThroughRekeysAndAFailover() throws Exception {
    int minutes = Integer.getInteger("dctun.soak.minutes", 0);
    Assumptions.assumeTrue(minutes > 0, "the soak runs by hand: -Ddctun.soak.minutes=30 (not in CI)");
    Sites.assumeRequirements();
    Requirements.assumeCommand("iperf3");
    long totalSeconds = minutes * 60L;
    Path jcmd = Path.of(Sites.javaCommand().get(0)).resolveSibling("jcmd");
    Assumptions.assumeTrue(Files.isExecutable(jcmd), "needs jcmd beside " + Sites.javaCommand().get(0));
    try (HaSites s = new HaSites(false, "sk")) {
      HaSites.Gw a = s.startGwA();
      String sync1 = "  state-sync: {local: 198.18.20.2:51900, peer: 198.18.20.3:51900, bandwidth: 200000}\n";
      String sync2 = "  state-sync: {local: 198.18.20.3:51900, peer: 198.18.20.2:51900, bandwidth: 200000}\n";
      HaSites.Gw b1 = s.startGwB(1, 200, 200, sync1, "");
      HaSites.Gw b2 = s.startGwB(2, 100, 200, sync2, "");
      b1.awaitHaState("MASTER", Duration.ofSeconds(20));
      b2.awaitHaState("BACKUP", Duration.ofSeconds(20));
      Sites.assertPing(s.srvA, Sites.SRV_B, a.describe(), b1.describe());

      List<Spawned> traffic = new ArrayList<>();
      traffic.add(s.srvB.spawn("iperf3", "-s", "-p", "5201"));
      traffic.add(s.srvB.spawn("iperf3", "-s", "-p", "5202"));
      awaitListening(s.srvB, 5201);
      awaitListening(s.srvB, 5202);
      String t = Long.toString(totalSeconds - 20);
      Spawned tcp = s.srvA.spawn("iperf3", "-c", Sites.SRV_B, "-p", "5201", "-t", t, "--bidir", "-b", "20M",
          "--connect-timeout", "5000");
      Spawned udp = s.srvA.spawn("iperf3", "-c", Sites.SRV_B, "-p", "5202", "-t", t, "-u", "-b", "2M", "-l", "1200");
      Spawned ping = s.srvA.spawn("ping", "-n", "-i", "0.2", "-w", t, Sites.SRV_B);
      traffic.addAll(List.of(tcp, udp, ping));

      List<Sample> samples = new ArrayList<>();
      Set<Long> handshakes = new LinkedHashSet<>();
      long t0 = System.nanoTime();
      boolean failed = false;
      try {
        for (long sec = 0; sec <= totalSeconds - 20; sec += SAMPLE_SECONDS) {
          long due = t0 + sec * 1_000_000_000L;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000L);
          }
          if (!failed && sec >= totalSeconds / 2) {
            // Site B's master fails: its links go down; its twin takes the VIPs and the traffic.
            s.gwB1.run("ip", "link", "set", s.wanB1, "down");
            s.gwB1.run("ip", "link", "set", s.lanB1, "down");
            failed = true;
            System.out.printf("SOAK %d s: gwB1's links down%n", sec);
          }
          handshakes.add(a.counter("peer.siteB.latest-handshake-unix"));
          for (HaSites.Gw g : List.of(a, b1, b2)) {
            assertThat(g.process().isAlive()).as("%s alive at %d s\n%s", g.label(), sec, g.describe()).isTrue();
            Sample x = sample(jcmd, g, sec);
            samples.add(x);
            System.out.println("SOAK " + x);
          }
        }
        ExecResult tcpDone = await(tcp, Duration.ofSeconds(60));
        ExecResult udpDone = await(udp, Duration.ofSeconds(60));
        assertThat(tcpDone.exitCode()).as("the TCP streams lived through the failover\n%s", tcp.output()).isZero();
        assertThat(udpDone.exitCode()).as("UDP\n%s", udp.output()).isZero();
      } finally {
        for (Spawned p : traffic) {
          p.process().toHandle().destroy();
        }
      }
      b2.awaitHaState("MASTER", Duration.ofSeconds(5));

      StringBuilder report = new StringBuilder();
      report.append(String.format("SOAK RESULT %d min, %d distinct handshakes of gwA with site B, failover at %d s%n",
          minutes, handshakes.size(), totalSeconds / 2));
      for (String gw : List.of("gwA", "gwB1", "gwB2")) {
        List<Sample> mine = samples.stream().filter(x -> x.gw().equals(gw)).toList();
        Sample early = mine.get(Math.min(2, mine.size() - 1)); // after warm-up (the JIT, the first flows)
        Sample last = mine.get(mine.size() - 1);
        long maxHeap = mine.stream().mapToLong(Sample::heapUsedKb).max().orElse(0);
        report.append(String.format("  %-5s heap after GC %d -> %d KiB (max %d), RSS %d -> %d KiB, fds %d -> %d, "
            + "threads %d -> %d%n", gw, early.heapUsedKb(), last.heapUsedKb(), maxHeap, early.rssKb(), last.rssKb(),
            early.fds(), last.fds(), early.threads(), last.threads()));
      }
      System.out.print(report);
      Files.writeString(Path.of("target", "soak.txt"), report, StandardOpenOption.CREATE, StandardOpenOption.APPEND);

      assertThat(handshakes.size()).as("rekeys every 2 minutes").isGreaterThanOrEqualTo(minutes / 2 - 1);
      for (String gw : List.of("gwA", "gwB1", "gwB2")) {
        List<Sample> mine = samples.stream().filter(x -> x.gw().equals(gw)).toList();
        Sample early = mine.get(Math.min(2, mine.size() - 1));
        Sample last = mine.get(mine.size() - 1);
        assertThat(last.heapUsedKb()).as("%s heap after GC stays flat", gw)
            .isLessThanOrEqualTo(Math.max(early.heapUsedKb() * 3 / 2, early.heapUsedKb() + 16 * 1024));
        assertThat(last.fds()).as("%s file descriptors", gw).isLessThanOrEqualTo(early.fds() + 8);
        assertThat(last.threads()).as("%s threads", gw).isLessThanOrEqualTo(early.threads() + 4);
      }
    }
  }

  private static Sample sample(Path jcmd, HaSites.Gw g, long sec) throws IOException {
    long pid = g.process().pid();
    NetNs root = NetNs.root();
    root.run(Duration.ofSeconds(30), jcmd.toString(), Long.toString(pid), "GC.run");
    ExecResult info = root.run(Duration.ofSeconds(30), jcmd.toString(), Long.toString(pid), "GC.heap_info");
    Matcher m = HEAP_USED.matcher(info.stdout());
    assertThat(m.find()).as("jcmd %d GC.heap_info\n%s", pid, info.describe()).isTrue();
    long used = Long.parseLong(m.group(1));
    long rss = -1;
    int threads = -1;
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        rss = Long.parseLong(line.replaceAll("\\D", ""));
      } else if (line.startsWith("Threads:")) {
        threads = Integer.parseInt(line.replaceAll("\\D", ""));
      }
    }
    int fds;
    try (var s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      fds = (int) s.count();
    }
    return new Sample(g.label(), sec, used, rss, fds, threads);
  }

  private static void awaitListening(NetNs ns, int port) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (ns.exec(Duration.ofSeconds(5), "ss", "-Hltn", "sport = :" + port).stdout().contains(":" + port)) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("iperf3 not listening on " + port);
  }

  private static ExecResult await(Spawned p, Duration timeout) throws InterruptedException {
    if (!p.process().waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
      throw new AssertionError("did not finish: " + p.describe());
    }
    return new ExecResult(List.of("spawned"), p.process().exitValue(), p.output(), "", false);
  }
}
