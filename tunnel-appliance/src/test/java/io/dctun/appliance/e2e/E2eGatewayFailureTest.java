package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code dctun up} as a supervisor sees it, one gateway process in a namespace of its own (names
 * {@code dt-lvgw-<id>}, interfaces {@code lvt<id>N}, addresses in 198.18.0.0/15): a gateway whose
 * TUN interface is deleted exits 3 after a clean shutdown and says why; SIGHUP without a
 * firewall section does not stop it; a start that fails half-way leaves no interface.
 */
@Timeout(120)
class E2eGatewayFailureTest {
  private static final Duration UP = Duration.ofSeconds(20);
  private static final Duration EXIT = Duration.ofSeconds(20);

  private Topology topology;
  private NetNs ns;
  private Path dir;
  private final List<Spawned> processes = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    Requirements.assumeNetNs();
    Requirements.assumeTun();
    Requirements.assumeCommand("kill");
    topology = new Topology();
    dir = Files.createTempDirectory("dctun-lv-" + topology.id());
    ns = topology.namespace("lvgw");
    ns.run("ip", "link", "set", "lo", "up");
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      for (Spawned p : processes) {
        p.close();
      }
    } finally {
      if (topology != null) {
        topology.close();
      }
      if (dir != null) {
        try (var s = Files.walk(dir)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
  }

  /** A gateway process; {@link #start} does not wait for it. */
  private record Gw(String tun, Path status, Spawned process) {}

  private Gw start(String label, int port) throws Exception {
    String tun = topology.ifName("lvt");
    Path key = dir.resolve(label + ".key");
    KeyFiles.writePrivateKey(key, PrivateKey.generate());
    String yaml = "interface: " + tun + "\n"
        + "private-key-file: " + key + "\n"
        + "listen-port: " + port + "\n"
        + "addresses: [198.19.40.1/24]\n"
        + "peers:\n"
        + "  - name: far\n"
        + "    public-key: " + PrivateKey.generate().publicKey().toBase64() + "\n"
        + "    allowed-ips: [198.18.41.0/24]\n";
    Path cfg = dir.resolve(label + ".yaml");
    Files.writeString(cfg, yaml);
    Path status = dir.resolve(label + ".status");
    List<String> cmd = new ArrayList<>(Sites.javaCommand());
    cmd.addAll(List.of("io.dctun.appliance.Main", "up", "-c", cfg.toString(), "--status-file", status.toString()));
    Spawned p = ns.spawn(cmd.toArray(String[]::new));
    processes.add(p);
    return new Gw(tun, status, p);
  }

  private Gw startAndAwaitUp(String label, int port) throws Exception {
    Gw g = start(label, port);
    boolean up = await(() -> !g.process().isAlive() || (Files.exists(g.status()) && ns.hasLink(g.tun())), UP);
    assertThat(up && g.process().isAlive()).as("gateway up\n%s", g.process().describe()).isTrue();
    return g;
  }

  private static boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < 100_000 && System.nanoTime() < deadline; i++) {
      if (condition.getAsBoolean()) {
        return true;
      }
      Thread.sleep(50);
    }
    return condition.getAsBoolean();
  }

  private static int awaitExit(Spawned p, Duration timeout) throws InterruptedException {
    assertThat(p.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        .as("gateway exited within %s\n%s", timeout, p.describe()).isTrue();
    return p.process().exitValue();
  }

  @Test
  void deletingTheTunnelInterfaceEndsTheGatewayWithExit3AfterACleanShutdownAndSaysWhy() throws Exception {
    Gw g = startAndAwaitUp("gw", 51820);
    Path uapi = Path.of("/var/run/wireguard", g.tun() + ".sock");
    assertThat(await(() -> Files.exists(uapi), Duration.ofSeconds(5))).as("uapi socket %s", uapi).isTrue();

    long t0 = System.nanoTime();
    ExecResult del = ns.exec(Duration.ofSeconds(10), "ip", "link", "del", g.tun());
    assertThat(del.ok()).as(del.describe()).isTrue();

    int exit = awaitExit(g.process(), EXIT);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    String log = g.process().output();
    System.out.printf("ip link del %s -> exit %d after %d ms; %s%n", g.tun(), exit, ms,
        log.lines().filter(l -> l.contains("FATAL")).findFirst().orElse("(no FATAL line)"));
    assertThat(exit).as("exit code\n%s", log).isEqualTo(3);
    assertThat(log).as("the log says why").contains("FATAL").contains("dctun-tun-0")
        .contains("reading packet device " + g.tun() + " failed");
    assertThat(log).contains("dctun up: gateway " + g.tun() + " failed:");
    assertThat(g.status()).as("status file removed on the way out").doesNotExist();
    assertThat(uapi).as("uapi socket removed on the way out").doesNotExist();
    assertThat(ns.hasLink(g.tun())).isFalse();
  }

  @Test
  void sighupWithoutAFirewallSectionReloadsAndDoesNotStopTheGateway() throws Exception {
    Gw g = startAndAwaitUp("gw", 51820);
    ExecResult hup = NetNs.root().exec(Duration.ofSeconds(5), "kill", "-HUP", Long.toString(g.process().pid()));
    assertThat(hup.ok()).as(hup.describe()).isTrue();
    // SIGHUP reloads the whole file (Gateway.reload); the same file again changes nothing.
    assertThat(await(() -> g.process().output().contains(": no change"), Duration.ofSeconds(10)))
        .as("the gateway logs that the reload changed nothing\n%s", g.process().describe()).isTrue();
    assertThat(g.process().isAlive()).as(g.process().describe()).isTrue();
    assertThat(ns.hasLink(g.tun())).isTrue();

    // Still a gateway: SIGTERM is an orderly stop (128 + 15), interface and status file gone.
    g.process().process().toHandle().destroy();
    int exit = awaitExit(g.process(), EXIT);
    assertThat(exit).as(g.process().describe()).isEqualTo(143);
    assertThat(g.process().output()).contains("stopping " + g.tun()).doesNotContain("Exception");
    assertThat(ns.hasLink(g.tun())).isFalse();
    assertThat(g.status()).doesNotExist();
  }

  @Test
  void aStartThatFailsHalfWayLeavesNoInterfaceBehind() throws Exception {
    Gw first = startAndAwaitUp("gw1", 51820);
    // Same port: the second gateway creates its interface, then cannot bind UDP.
    Gw second = start("gw2", 51820);
    int exit = awaitExit(second.process(), EXIT);
    assertThat(exit).as(second.process().describe()).isEqualTo(3);
    assertThat(second.process().output()).contains("dctun up:");
    assertThat(ns.hasLink(second.tun())).as("the second gateway's interface\n%s", second.process().describe())
        .isFalse();
    assertThat(second.status()).doesNotExist();
    assertThat(first.process().isAlive()).isTrue();
  }
}
