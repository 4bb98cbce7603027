package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code ./dctun demo} end to end, exactly as an operator runs it: the launcher, scripts/demo, and
 * four {@code dctun up} processes from the packaged jar (so this class runs in {@code mvn verify}'s
 * integration-test phase, execution {@code demo}, after {@code package}; in the test phase it
 * skips). Asserted from the demo's {@code DEMO-SUMMARY} line: the transfer's SHA-256 matched, the
 * disallowed connection was dropped and counted, the failover's outage was measured (the longest
 * gap between ping replies that began at the power cut, bounded), gwB2 became site B's master
 * after one takeover while site A's master stayed, and afterwards no namespace, process or work
 * directory of the run is left.
 */
@Timeout(300)
class E2eDemoTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
  private static final Duration DEADLINE = Duration.ofSeconds(180);
  private static final Pattern SUMMARY = Pattern.compile("^DEMO-SUMMARY (.*)$", Pattern.MULTILINE);

  @Test
  void failsOverMidTransferAndReportsItsSummary() throws Exception {
    String jar = System.getProperty("dctun.demo.jar");
    assumeTrue(jar != null, "runs in `mvn verify` (surefire execution 'demo', after package builds the jar the "
        + "demo's launcher runs), not in the test phase");
    assertThat(Path.of(jar)).as("the jar ./dctun runs").isEqualTo(ROOT.resolve("tunnel-appliance/target/dctun.jar"))
        .exists();
    Sites.assumeRequirements();
    for (String tool : List.of("bash", "python3", "timeout", "awk", "stat")) {
      Requirements.assumeCommand(tool);
    }
    String prefix = newPrefix();
    Path log = ROOT.resolve("tunnel-appliance/target/demo-" + prefix + ".log");
    long t0 = System.nanoTime();
    Process demo = start(prefix, log);
    boolean finished;
    String leftBehind;
    try {
      finished = demo.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        demo.destroy(); // SIGTERM: the demo tears down what it made
        if (!demo.waitFor(30, TimeUnit.SECONDS)) {
          demo.descendants().forEach(ProcessHandle::destroyForcibly);
          demo.destroyForcibly();
        }
      }
    } finally {
      leftBehind = leftBehind(prefix);
      removeLeftovers(prefix);
    }
    long millis = (System.nanoTime() - t0) / 1_000_000;
    String out = Files.readString(log, StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(finished).as("demo finished within %s\n%s", DEADLINE, out).isTrue();
    assertThat(leftBehind).as("what the demo left behind\n%s", out).isEmpty();
    assertThat(demo.exitValue()).as("demo exit code\n%s", out).isZero();

    Matcher m = SUMMARY.matcher(out);
    assertThat(m.find()).as("a DEMO-SUMMARY line\n%s", out).isTrue();
    Map<String, String> s = new HashMap<>();
    for (String kv : m.group(1).trim().split("\\s+")) {
      int eq = kv.indexOf('=');
      s.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    String ctx = m.group() + "\n" + out;
    assertThat(s.get("checksum")).as(ctx).isEqualTo("ok");
    assertThat(Long.parseLong(s.get("transfer_bytes"))).as(ctx).isEqualTo(128L << 20);
    assertThat(Double.parseDouble(s.get("ping_rtt_ms"))).as(ctx).isPositive().isLessThan(100);
    assertThat(Double.parseDouble(s.get("throughput_mibps"))).as(ctx).isPositive();
    assertThat(Long.parseLong(s.get("dropped"))).as("disallowed SYNs counted\n%s", ctx).isGreaterThanOrEqualTo(1);
    long outage = Long.parseLong(s.get("outage_ms"));
    // The longest gap between replies that began at the power cut. 100 ms adverts: VRRP alone
    // takes ~0.36 s; more than two ping intervals proves the master failed under the pings, 5 s
    // bounds what the demo may call a failover.
    assertThat(outage).as("ping outage across the failover\n%s", ctx).isGreaterThan(100).isLessThan(5000);
    assertThat(Long.parseLong(s.get("lost_pings"))).as(ctx).isPositive();
    // Gaps that did not begin at the power cut (a loaded machine's) are reported apart, unbounded.
    assertThat(Long.parseLong(s.get("other_gap_ms"))).as(ctx).isNotNegative();
    assertThat(s.get("new_master")).as(ctx).isEqualTo("gwB2");
    assertThat(s.get("takeovers")).as(ctx).isEqualTo("1");
    assertThat(s.get("site_a_master")).as("site A's pair did not move\n%s", ctx).isEqualTo("gwA1");
    assertThat(out).as(ctx).contains("removed 7 namespaces");
    System.out.printf("RESULT demo %d ms: %s%n", millis, m.group(1));
  }

  @Test
  void ctrlCInTheMiddleTearsEverythingDown() throws Exception {
    String jar = System.getProperty("dctun.demo.jar");
    assumeTrue(jar != null, "runs in `mvn verify` (surefire execution 'demo'), after package");
    Sites.assumeRequirements();
    String prefix = newPrefix();
    Path log = ROOT.resolve("tunnel-appliance/target/demo-" + prefix + ".log");
    Process demo = start(prefix, log);
    String leftBehind;
    boolean exited;
    try {
      // Once the four gateways run (JVMs, namespaces, VIPs, UAPI sockets: the most to undo).
      long deadline = System.nanoTime() + DEADLINE.toNanos();
      while (System.nanoTime() < deadline && demo.isAlive() && !Files.readString(log).contains("priority 200 is master")) {
        Thread.sleep(100);
      }
      assertThat(demo.isAlive()).as("demo still running\n%s", Files.readString(log)).isTrue();
      Shell.run("kill", "-INT", Long.toString(demo.pid())); // what Ctrl-C sends
      exited = demo.waitFor(60, TimeUnit.SECONDS);
      if (!exited) {
        demo.descendants().forEach(ProcessHandle::destroyForcibly);
        demo.destroyForcibly();
      }
    } finally {
      leftBehind = leftBehind(prefix);
      removeLeftovers(prefix);
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(exited).as("demo stopped within 60 s of SIGINT\n%s", out).isTrue();
    assertThat(leftBehind).as("what the interrupted demo left behind\n%s", out).isEmpty();
    assertThat(demo.exitValue()).as(out).isEqualTo(130);
    assertThat(out).contains("removed 7 namespaces").doesNotContain("DEMO-SUMMARY");
  }

  private static String newPrefix() {
    byte[] id = new byte[3];
    new SecureRandom().nextBytes(id);
    return "dz" + HexFormat.of().formatHex(id);
  }

  /** {@code ./dctun demo} with the namespace prefix, its output (both streams) into {@code log}. */
  private static Process start(String prefix, Path log) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("dctun").toString(), "demo")
        .directory(ROOT.toFile())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().put("DCTUN_DEMO_PREFIX", prefix);
    return pb.start();
  }

  @Test
  void refusesClearlyWithoutRoot() throws IOException {
    Requirements.assumeCommand("bash");
    List<String> cmd = new ArrayList<>();
    if (Shell.exec("id", "-u").stdout().strip().equals("0")) {
      Requirements.assumeCommand("setpriv");
      cmd.addAll(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
    }
    // The script on standard input: user 65534 may not be able to read the checkout.
    cmd.addAll(List.of("bash", "-s"));
    var r = Shell.exec(Duration.ofSeconds(20), Map.of(), Files.readAllBytes(ROOT.resolve("scripts/demo")), cmd);
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
    assertThat(r.stderr()).as(r.describe()).contains("needs root");
  }

  /** Namespaces named with the prefix, and processes whose command line names it (the demo's files do). */
  private static String leftBehind(String prefix) {
    StringBuilder left = new StringBuilder();
    for (String ns : NetNs.list()) {
      if (ns.startsWith(prefix)) {
        left.append("namespace ").append(ns).append('\n');
      }
    }
    ProcessHandle.allProcesses()
        .filter(p -> p.info().commandLine().map(c -> c.contains(prefix)).orElse(false))
        .forEach(p -> left.append("process ").append(p.pid()).append(' ').append(p.info().commandLine().orElse(""))
            .append('\n'));
    try (var tmp = Files.newDirectoryStream(Path.of("/tmp"), "dctun-demo-" + prefix + ".*")) {
      tmp.forEach(d -> left.append("directory ").append(d).append('\n'));
    } catch (IOException e) {
      left.append("cannot list the temporary directory: ").append(e.getMessage()).append('\n');
    }
    return left.toString();
  }

  /** Whatever a failed run left: this test's own names only. */
  private static void removeLeftovers(String prefix) {
    ProcessHandle.allProcesses()
        .filter(p -> p.info().commandLine().map(c -> c.contains(prefix)).orElse(false))
        .forEach(ProcessHandle::destroyForcibly);
    for (String ns : NetNs.list()) {
      if (ns.startsWith(prefix)) {
        for (String pid : Shell.exec("ip", "netns", "pids", ns).stdout().split("\\s+")) {
          if (!pid.isBlank()) {
            Shell.exec("kill", "-9", pid);
          }
        }
        Shell.exec("ip", "netns", "del", ns);
      }
    }
    // A failed demo keeps its logs (never keys) there: next to the test's own output instead.
    Path logs = Path.of("/tmp", "dctun-demo-" + prefix + "-logs");
    if (Files.isDirectory(logs)) {
      Shell.exec("mv", logs.toString(), ROOT.resolve("tunnel-appliance/target").toString());
    }
    try (var dir = Files.newDirectoryStream(Path.of("/var/run/wireguard"), prefix + "*.sock")) {
      for (Path p : dir) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // no such directory: nothing to remove
    }
  }
}
