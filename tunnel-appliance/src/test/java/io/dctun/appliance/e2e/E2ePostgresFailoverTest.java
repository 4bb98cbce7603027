package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 11's use case end to end: a PostgreSQL primary at site A (srvA) streams its WAL to a hot
 * standby at site B (srvB) through dctun, and keeps streaming while site A's master gateway dies
 * (both its links go down) under pgbench load and the backup takes over.
 *
 * <pre>
 *  primary (srvA) -- gwA1 (master) | gwA2 (backup), VIP 198.18.0.101 ==WireGuard== gwB1 -- srvB standby
 *                    default deny on gwA1/gwA2 and on gwB1: only tcp srvB -> srvA:5432
 *                    gwA1 streams its firewall flows to gwA2 (ha.state-sync)
 * </pre>
 *
 * The standby is made with {@code pg_basebackup -R} over the tunnel (a replication user, SCRAM,
 * its password only in a 0600 passfile) and listens on no TCP address at all. Asserted: after
 * the load, the standby's replay LSN reaches the primary's current LSN within a bounded wait,
 * {@code pgbench_history} (count, sum of delta) and the accounts' balances are the same on both,
 * and the primary's {@code pg_stat_replication} shows the standby streaming again. Measured and
 * printed (one {@code RESULT} line, also appended to {@code target/pg-failover.txt}): the longest
 * time the standby's replay LSN stood still while the primary's was ahead (both polled every
 * 50 ms), whether the walreceiver reconnected (a new walsender on the primary) or its TCP
 * connection lived through the failover, and pgbench's tps without and with the failover.
 *
 * <p>Found so far (figures in {@code benchmarks/README.md}): the walreceiver keeps its connection,
 * because the backup's firewall has the flow from the state sync and passes it as established; the
 * standby's replay stands still for about 0.5-1.6 s (site B's master failing, in earlier runs, did
 * the same).
 */
@Timeout(180)
class E2ePostgresFailoverTest {
  private static final String REPL_USER = "repl";
  private static final String STANDBY_NAME = "dctun_standby";
  private static final String SLOT = "dctun_standby";
  private static final int ADVERT_MILLIS = 100;
  private static final double SAMPLE_SECONDS = 0.05;

  /** gwA1, gwA2: only the standby's connection to the primary comes out of the tunnel. */
  private static final String FIREWALL_A = String.join("\n",
      "firewall:",
      "  rules:",
      "    - name: pg-replication-in",
      "      direction: in",
      "      peer: siteB",
      "      source: " + Sites.SRV_B,
      "      destination: " + Sites.SRV_A,
      "      protocol: tcp",
      "      destination-port: " + Postgres.PORT,
      "      action: accept",
      "");
  /** gwB1: only the standby's connection to the primary goes into the tunnel. */
  private static final String FIREWALL_B = String.join("\n",
      "firewall:",
      "  rules:",
      "    - name: pg-replication-out",
      "      direction: out",
      "      peer: siteA",
      "      source: " + Sites.SRV_B,
      "      destination: " + Sites.SRV_A,
      "      protocol: tcp",
      "      destination-port: " + Postgres.PORT,
      "      action: accept",
      "");

  private static String sync(String local, String peer) {
    return "  state-sync: {local: " + local + ":51900, peer: " + peer + ":51900, bandwidth: 200000}\n";
  }

  @Test
  void stallIsTheLongestTimeReplayStoodStillWhileThePrimaryWasAhead() {
    List<long[]> primary = List.of(new long[] {0, 100}, new long[] {50, 200}, new long[] {100, 300},
        new long[] {150, 400}, new long[] {200, 400}, new long[] {250, 400});
    // Stuck at 100 from 10 ms until 160 ms; the primary passed 100 at 50 ms: 110 ms. Then both
    // stand at 400: caught up, no stall.
    List<long[]> standby = List.of(new long[] {10, 100}, new long[] {60, 100}, new long[] {110, 100},
        new long[] {160, 400}, new long[] {210, 400}, new long[] {260, 400});
    assertThat(longestStall(primary, standby)).isEqualTo(110);
    // Already behind when its run began: counted from the run's first sample.
    assertThat(longestStall(List.of(new long[] {0, 500}), List.of(new long[] {10, 100}, new long[] {60, 600})))
        .isEqualTo(50);
    // Idle on both sides: the standby stands still, but nothing is missing.
    assertThat(longestStall(List.of(new long[] {0, 100}, new long[] {100, 100}),
        List.of(new long[] {10, 100}, new long[] {110, 100}))).isZero();
    assertThat(samples("1764780000.123456|0/3000148\nnot a sample\n1764780000.2|1A/FF\n"))
        .containsExactly(new long[] {1764780000123L, 0x3000148L}, new long[] {1764780000200L, (0x1AL << 32) | 0xFF});
  }

  @Test
  void standbyKeepsReplicatingAcrossSiteBGatewayFailover() throws Exception {
    Sites.assumeRequirements();
    Path bin = Postgres.assumeInstalled();
    long t0 = System.nanoTime();
    try (HaSites s = new HaSites(true, new Topology("pg"))) {
      s.launchTimeout = Duration.ofSeconds(90); // three JVMs start at once
      Postgres pg = s.topology.own(Postgres.create(bin));
      // The three gateways (JVMs, slow to start on a busy machine) start at once while the primary
      // is made; whichever of site A's boxes is up first, priority makes gwA1 master (preempt).
      // Both run before the replication connection opens: the master streams a flow to its twin
      // when the flow's state changes (here: when it is established), so a backup started later
      // would learn of it only at the master's next full resend (30 s). Default deny on both sites.
      ExecutorService starter = Executors.newFixedThreadPool(3);
      // Site A (the primary's) is the pair that fails; site B's is one box (its twin not started).
      Future<HaSites.Gw> startA1 = starter.submit(
          () -> s.startGwA(1, 200, ADVERT_MILLIS, sync("198.18.10.2", "198.18.10.3"), FIREWALL_A));
      Future<HaSites.Gw> startA2 = starter.submit(
          () -> s.startGwA(2, 100, ADVERT_MILLIS, sync("198.18.10.3", "198.18.10.2"), FIREWALL_A));
      Future<HaSites.Gw> startB = starter.submit(() -> s.startGwB(1, 200, ADVERT_MILLIS, "", FIREWALL_B));
      starter.shutdown();

      // The primary at srvA: TCP on srvA's address only, replication from srvB's address only.
      Postgres.Server primary = pg.server("primary", s.srvA);
      pg.run(s.srvA, Duration.ofSeconds(60), "initdb", "-D", primary.data.toString(), "-U", Postgres.USER,
          "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync");
      primary.configure(
          "listen_addresses = '" + Sites.SRV_A + "'",
          "port = " + Postgres.PORT,
          "wal_level = replica",
          "max_wal_senders = 4",
          "max_replication_slots = 4",
          "max_connections = 20",
          "shared_buffers = 16MB",
          "log_connections = on",
          "log_disconnections = on",
          "log_replication_commands = on");
      primary.allow("host replication " + REPL_USER + " " + Sites.SRV_B + "/32 scram-sha-256");
      primary.start(Duration.ofSeconds(30));
      byte[] secret = new byte[18];
      new SecureRandom().nextBytes(secret);
      String password = HexFormat.of().formatHex(secret);
      primary.runSecret("SET log_min_error_statement = panic;\nCREATE ROLE " + REPL_USER
          + " WITH REPLICATION LOGIN PASSWORD '" + password + "';\n");
      Path passfile = pg.writePrivate("standby.pgpass",
          Sites.SRV_A + ":" + Postgres.PORT + ":*:" + REPL_USER + ":" + password + "\n");
      pg.run(s.srvA, Duration.ofSeconds(60), "pgbench", "-i", "-q", "-s", "1", "-h", primary.sockets.toString(),
          "-p", Integer.toString(Postgres.PORT), "-U", Postgres.USER, "postgres");

      System.out.printf("PHASE %s at %d ms%n", "primary ready", (System.nanoTime() - t0) / 1_000_000);
      HaSites.Gw a1 = startA1.get(100, TimeUnit.SECONDS);
      HaSites.Gw a2 = startA2.get(100, TimeUnit.SECONDS);
      HaSites.Gw b = startB.get(100, TimeUnit.SECONDS);
      a1.awaitHaState("MASTER", Duration.ofSeconds(15));
      a2.awaitHaState("BACKUP", Duration.ofSeconds(15));
      b.awaitHaState("MASTER", Duration.ofSeconds(15)); // alone in its pair
      for (HaSites.Gw g : List.of(a1, a2, b)) {
        assertThat(g.status().get("firewall")).as(g.describe()).isEqualTo("on");
      }
      awaitReachable(pg, s, primary, a1, b);

      System.out.printf("PHASE %s at %d ms%n", "tunnel up", (System.nanoTime() - t0) / 1_000_000);
      // The standby at srvB, cloned over the tunnel; it listens on its unix socket only.
      Postgres.Server standby = pg.server("standby", s.srvB);
      String conninfo = "host=" + Sites.SRV_A + " port=" + Postgres.PORT + " user=" + REPL_USER + " passfile="
          + passfile + " application_name=" + STANDBY_NAME + " connect_timeout=5";
      pg.run(s.srvB, Duration.ofSeconds(60), "pg_basebackup", "-d", conninfo, "-D", standby.data.toString(), "-R",
          "-X", "stream", "-C", "-S", SLOT, "-c", "fast", "--no-sync");
      standby.configure("listen_addresses = ''", "hot_standby = on", "cluster_name = '" + STANDBY_NAME + "'");
      standby.start(Duration.ofSeconds(30));
      Walsender before = awaitStreaming(primary, Duration.ofSeconds(30), null);
      // The backup knows the replication flow before anything fails.
      assertThat(awaitPositive(a2, "ha.sync.flows-received", Duration.ofSeconds(15)))
          .as("flows streamed to the backup\n%s\n%s", a1.describe(), a2.describe()).isPositive();
      long takeoversBefore = a2.counter("ha.takeovers");

      System.out.printf("PHASE %s at %d ms%n", "standby streaming", (System.nanoTime() - t0) / 1_000_000);
      // Load with site A's master failing in the middle, then the same load without a failure
      // (after it: the first run on fresh tables is the slower one, whatever happens), both
      // sampled alike.
      Spawned primaryLsn = primary.watch(
          "SELECT extract(epoch FROM clock_timestamp()), pg_current_wal_lsn();", SAMPLE_SECONDS);
      Spawned standbyLsn = standby.watch(
          "SELECT extract(epoch FROM clock_timestamp()), pg_last_wal_replay_lsn();", SAMPLE_SECONDS);
      Pgbench loaded = pgbench(pg, s, primary, 9, run -> {
        // Once pgbench has reported 2 s of progress: site A's master loses both links.
        awaitOutput(run, Pattern.compile("^progress: 2\\.\\d+ s", Pattern.MULTILINE), Duration.ofSeconds(30));
        s.gwA1.run("ip", "link", "set", s.wanA1, "down");
        s.gwA1.run("ip", "link", "set", s.lanA1, "down");
        a2.awaitHaState("MASTER", Duration.ofSeconds(15));
      });
      System.out.printf("PHASE %s at %d ms%n", "load done", (System.nanoTime() - t0) / 1_000_000);
      awaitCaughtUp(primary, standby, Duration.ofSeconds(30));
      Walsender after = awaitStreaming(primary, Duration.ofSeconds(30), null);
      long plainFrom = System.currentTimeMillis();
      Pgbench plain = pgbench(pg, s, primary, 4, null);
      long caughtUp = awaitCaughtUp(primary, standby, Duration.ofSeconds(30));
      // One more sample after the catch-up on both sides, then stop sampling.
      awaitSamples(standbyLsn, caughtUp, Duration.ofSeconds(10));
      primaryLsn.stop(Duration.ofSeconds(3)); // stop, not close: close deletes the output
      standbyLsn.stop(Duration.ofSeconds(3));
      List<long[]> p = samples(primaryLsn.output());
      List<long[]> st = samples(standbyLsn.output());
      assertThat(p.size()).as("primary LSN samples\n%s", primaryLsn.describe()).isGreaterThan(50);
      assertThat(st.size()).as("standby LSN samples\n%s", standbyLsn.describe()).isGreaterThan(50);
      long stallMillis = longestStall(before(p, plainFrom), before(st, plainFrom));
      long plainStallMillis = longestStall(from(p, plainFrom), from(st, plainFrom));
      boolean reconnected = after.pid != before.pid;
      // The stream crossed the new master's default-deny firewall, by its one rule.
      long rulePackets = awaitPositive(a2, "firewall.rule.pg-replication-in.packets", Duration.ofSeconds(5));
      long established = a2.counter("firewall.reason.ESTABLISHED");
      String context = a2.describe() + "\n" + b.describe() + "\n" + primary.describe() + "\n" + standby.describe();

      // The same data on both sides.
      String checksum = "SELECT count(*), coalesce(sum(delta), 0) FROM pgbench_history "
          + "UNION ALL SELECT count(*), sum(abalance) FROM pgbench_accounts";
      String onPrimary = primary.query(checksum);
      String onStandby = standby.query(checksum);
      assertThat(onStandby).as("pgbench_history and accounts on the standby").isEqualTo(onPrimary);
      long historyRows = Long.parseLong(onPrimary.split("\n")[0].split("\\|")[0]);
      assertThat(historyRows).as("pgbench wrote history").isEqualTo(loaded.transactions + plain.transactions);

      String line = String.format("RESULT postgres-replication failover=gwA1 (the primary's site) links-down advert=%dms "
              + "replication-stall %d ms (replay LSN still while the primary was ahead, sampled every %.0f ms; "
              + "%d ms in the run without failure) | "
              + "walreceiver %s (walsender pid %d -> %d) | pgbench tps %.1f without failover, %.1f with "
              + "(%d transactions, -c 2, async replication) | history rows %d | samples %d + %d | "
              + "gwA2 firewall: %d packets by %s, %d established%n",
          ADVERT_MILLIS, stallMillis, SAMPLE_SECONDS * 1000, plainStallMillis, reconnected ? "reconnected" : "kept its connection",
          before.pid, after.pid, plain.tps, loaded.tps, loaded.transactions, historyRows, p.size(), st.size(),
          rulePackets, "pg-replication-in", established);
      System.out.print(line);
      Files.writeString(Path.of("target", "pg-failover.txt"), line, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);

      assertThat(a2.haState()).as(context).isEqualTo("MASTER");
      assertThat(a2.counter("ha.takeovers")).as(context).isEqualTo(takeoversBefore + 1);
      assertThat(after.state).as(context).isEqualTo("streaming");
      assertThat(rulePackets).as(context).isPositive();
      if (!reconnected) {
        assertThat(established).as("the kept connection passed gwA2 as an established flow\n%s", context)
            .isPositive();
      }
      // Default deny: anything else from srvB to srvA (a ping) is dropped, by no rule.
      long noRule = b.counter("firewall.reason.NO_RULE");
      assertThat(s.srvB.exec(Duration.ofSeconds(10), "ping", "-n", "-c", "2", "-W", "1", Sites.SRV_A).ok())
          .as("ping srvB -> srvA through the firewall").isFalse();
      assertThat(awaitAtLeast(b, "firewall.reason.NO_RULE", noRule + 2, Duration.ofSeconds(5)))
          .as("gwB1 dropped both pings by no rule\n%s", b.describe()).isGreaterThanOrEqualTo(noRule + 2);
      assertThat(stallMillis).as("the standby's replay stood still %d ms\n%s", stallMillis, context)
          .isLessThan(20_000);
    }
  }

  // ------------------------------------------------------------------ steps

  /** Waits until srvB reaches the primary's TCP port through the tunnel (a fresh handshake). */
  private static void awaitReachable(Postgres pg, HaSites s, Postgres.Server primary, HaSites.Gw a, HaSites.Gw b1) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    io.dctun.core.testing.ExecResult r = null;
    for (int i = 0; i < 100 && System.nanoTime() < deadline; i++) {
      r = pg.exec(s.srvB, Duration.ofSeconds(10), null, "pg_isready", "-h", Sites.SRV_A, "-p",
          Integer.toString(Postgres.PORT), "-t", "2");
      if (r.ok()) {
        return;
      }
      Sites.sleep(200);
    }
    throw new AssertionError("srvB cannot reach the primary through the tunnel\n" + (r == null ? "" : r.describe())
        + "\n" + a.describe() + "\n" + b1.describe() + "\n" + primary.describe());
  }

  /** Waits (bounded) until a status counter is positive; the status file is rewritten once a second. */
  private static long awaitPositive(HaSites.Gw gw, String key, Duration timeout) {
    return awaitAtLeast(gw, key, 1, timeout);
  }

  private static long awaitAtLeast(HaSites.Gw gw, String key, long atLeast, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long v = -1;
    for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
      String text = gw.status().get(key);
      v = text == null ? -1 : Long.parseLong(text);
      if (v >= atLeast) {
        return v;
      }
      Sites.sleep(100);
    }
    return v;
  }

  /** The primary's walsender for the standby. */
  record Walsender(long pid, String state) {}

  /** Waits until the primary's walsender for the standby is streaming (and, if given, is not {@code notPid}). */
  private static Walsender awaitStreaming(Postgres.Server primary, Duration timeout, Long notPid) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String row = "";
    for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
      row = primary.query("SELECT pid, state FROM pg_stat_replication WHERE application_name = '" + STANDBY_NAME
          + "'");
      String[] f = row.split("\\|");
      if (f.length == 2 && f[1].equals("streaming") && (notPid == null || Long.parseLong(f[0]) != notPid)) {
        return new Walsender(Long.parseLong(f[0]), f[1]);
      }
      Sites.sleep(100);
    }
    throw new AssertionError("no streaming walsender for " + STANDBY_NAME + " within " + timeout + " (last: '" + row
        + "')\n" + primary.describe());
  }

  /**
   * Waits until the standby has replayed everything the primary had written when the wait began;
   * returns that LSN.
   */
  private static long awaitCaughtUp(Postgres.Server primary, Postgres.Server standby, Duration timeout) {
    long target = Postgres.lsn(primary.query("SELECT pg_current_wal_lsn()"));
    long deadline = System.nanoTime() + timeout.toNanos();
    long replayed = -1;
    for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
      replayed = Postgres.lsn(standby.query("SELECT pg_last_wal_replay_lsn()"));
      if (replayed >= target) {
        return target;
      }
      Sites.sleep(50);
    }
    throw new AssertionError(String.format("standby replayed %X, not %X, within %s%n%s%n%s", replayed, target,
        timeout, primary.describe(), standby.describe()));
  }

  /** pgbench's result. */
  record Pgbench(double tps, long transactions, String output) {}

  /** What runs while pgbench does. */
  interface During {
    void accept(Spawned run) throws Exception;
  }

  private static final Pattern TPS = Pattern.compile("^tps = ([0-9.]+) \\(without initial connection time\\)",
      Pattern.MULTILINE);
  private static final Pattern PROCESSED = Pattern.compile(
      "^number of transactions actually processed: (\\d+)", Pattern.MULTILINE);

  /** pgbench's TPC-B-like load on the primary for {@code seconds}, 2 clients, progress every second. */
  private static Pgbench pgbench(Postgres pg, HaSites s, Postgres.Server primary, int seconds, During during)
      throws Exception {
    Spawned run = s.srvA.spawn(pg.asPostgres("pgbench", "-n", "-T", Integer.toString(seconds), "-c", "2", "-j",
        "2", "-P", "1", "-h", primary.sockets.toString(), "-p", Integer.toString(Postgres.PORT), "-U",
        Postgres.USER, "postgres").toArray(String[]::new));
    try {
      if (during != null) {
        during.accept(run);
      }
      assertThat(run.process().waitFor(seconds + 30L, TimeUnit.SECONDS)).as(run.describe()).isTrue();
      String out = run.output();
      assertThat(run.process().exitValue()).as(run.describe()).isZero();
      Matcher t = TPS.matcher(out);
      Matcher n = PROCESSED.matcher(out);
      assertThat(t.find() && n.find()).as(run.describe()).isTrue();
      return new Pgbench(Double.parseDouble(t.group(1)), Long.parseLong(n.group(1)), out);
    } finally {
      run.close();
    }
  }

  private static void awaitOutput(Spawned p, Pattern pattern, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
      if (pattern.matcher(p.output()).find()) {
        return;
      }
      if (!p.isAlive()) {
        break;
      }
      Sites.sleep(50);
    }
    throw new AssertionError("no '" + pattern + "' within " + timeout + "\n" + p.describe());
  }

  // ------------------------------------------------------------------ the replication stall

  private static final Pattern SAMPLE = Pattern.compile("^(\\d+(?:\\.\\d+)?)\\|([0-9A-F]+/[0-9A-F]+)$",
      Pattern.MULTILINE);

  /** (epoch millis, LSN) per line of a {@code \watch}. */
  static List<long[]> samples(String output) {
    List<long[]> out = new ArrayList<>();
    Matcher m = SAMPLE.matcher(output);
    while (m.find()) {
      out.add(new long[] {Math.round(Double.parseDouble(m.group(1)) * 1000), Postgres.lsn(m.group(2))});
    }
    return out;
  }

  private static List<long[]> before(List<long[]> samples, long millis) {
    return samples.stream().filter(x -> x[0] < millis).toList();
  }

  private static List<long[]> from(List<long[]> samples, long millis) {
    return samples.stream().filter(x -> x[0] >= millis).toList();
  }

  /** Waits until the standby's sampler has printed an LSN at or past {@code lsn}. */
  private static void awaitSamples(Spawned standbyLsn, long lsn, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
      List<long[]> st = samples(standbyLsn.output());
      if (!st.isEmpty() && st.get(st.size() - 1)[1] >= lsn) {
        return;
      }
      Sites.sleep(50);
    }
    throw new AssertionError("the standby's sampler never showed the catch-up\n" + standbyLsn.describe());
  }

  /**
   * The longest time the standby's replay LSN stood still while the primary's was ahead of it: for
   * each run of standby samples with one LSN L, from the first primary sample past L (not before
   * the run began) to the standby's first sample past L.
   */
  static long longestStall(List<long[]> primary, List<long[]> standby) {
    long longest = 0;
    int i = 0;
    while (i < standby.size()) {
      long start = standby.get(i)[0];
      long l = standby.get(i)[1];
      int j = i;
      while (j < standby.size() && standby.get(j)[1] == l) {
        j++;
      }
      long end = j < standby.size() ? standby.get(j)[0] : standby.get(j - 1)[0];
      long ahead = -1;
      for (long[] p : primary) {
        if (p[0] >= end) {
          break;
        }
        if (p[1] > l) {
          ahead = Math.max(p[0], start);
          break;
        }
      }
      if (ahead >= 0) {
        longest = Math.max(longest, end - ahead);
      }
      i = j;
    }
    return longest;
  }
}
