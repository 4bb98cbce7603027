package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 10's proof for reverse forwards: PostgreSQL on a host that nothing may connect to
 * (nftables drops every new inbound connection in its namespace), reached from a DMZ namespace
 * only through {@code dctun forward}. pgbench (4 clients, bounded time) through the forward
 * completes without a failed transaction; then the forward's own connection is cut mid-run (the
 * database host's packets to the outer side dropped): pgbench's clients end with errors, not a
 * hang, and once the path returns the forward reconnects by itself and pgbench runs clean again.
 *
 * <pre>
 *   pgbench, outer  [dmz 198.18.63.1] ---- veth ---- [db 198.18.63.2]  inner, PostgreSQL 127.0.0.1:5432
 * </pre>
 */
@Timeout(240)
class E2eReverseForwardPgbenchTest {
  private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+)");
  private static final Pattern PROCESSED = Pattern.compile("number of transactions actually processed: (\\d+)");
  private static final int SSH_PORT = 2222;
  private static final int PORT = 15432;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("nft");
  }

  @Test
  void pgbenchThroughTheForwardSurvivesACutConnection() throws Exception {
    Path bin = Postgres.assumeInstalled();
    try (Topology t = new Topology("rp")) {
      NetNs dmz = t.namespace("dmz");
      NetNs db = t.namespace("db");
      Topology.Veth link = t.veth(dmz, "198.18.63.1/24", db, "198.18.63.2/24");
      db.run("nft", "add table inet rpblock");
      db.run("nft", "add chain inet rpblock in { type filter hook input priority 0 ; }");
      db.run("nft", "add rule inet rpblock in iifname " + link.ifB() + " ct state new drop");
      db.run("nft", "add chain inet rpblock out { type filter hook output priority 0 ; }");

      Postgres pg = t.own(Postgres.create(bin));
      Postgres.Server server = pg.server("db", db);
      pg.run(db, Duration.ofSeconds(60), "initdb", "-D", server.data.toString(), "-U", Postgres.USER,
          // host connections come from the forward's inner side, on the database host's own loopback
          // (listen_addresses below): initdb's host lines for 127.0.0.1 and ::1 only
          "--auth-local=peer", "--auth-host=trust", "-E", "UTF8", "--no-sync");
      server.configure("listen_addresses = '127.0.0.1'", "port = " + Postgres.PORT, "max_connections = 20",
          "shared_buffers = 16MB");
      server.start(Duration.ofSeconds(30));
      pg.run(db, Duration.ofSeconds(60), "pgbench", "-i", "-q", "-s", "1", "-h", server.sockets.toString(), "-p",
          Integer.toString(Postgres.PORT), "-U", Postgres.USER, "postgres");

      Path dir = Files.createTempDirectory("dctun-rp-" + t.id());
      t.own(() -> {
        try (var s = Files.walk(dir)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      });
      String outerPub = E2eReverseForwardTest.genkey(dmz, dir.resolve("outer.key"));
      String innerPub = E2eReverseForwardTest.genkey(db, dir.resolve("inner.key"));
      Files.writeString(dir.resolve("outer.yaml"), String.join("\n", "outer:", "  listen: 198.18.63.1:" + SSH_PORT,
          "  key-file: " + dir.resolve("outer.key"), "  inner-key: " + innerPub, "  bind: 198.18.63.1",
          "  ports: [" + PORT + "]", "  heartbeat: 1s", ""));
      Files.writeString(dir.resolve("inner.yaml"), String.join("\n", "inner:", "  outer: 198.18.63.1:" + SSH_PORT,
          "  outer-key: " + outerPub, "  key-file: " + dir.resolve("inner.key"), "  bind: 198.18.63.1",
          "  forwards: [{port: " + PORT + ", target: 127.0.0.1:" + Postgres.PORT + "}]", "  heartbeat: 1s", ""));
      List<Spawned> procs = new ArrayList<>();
      try {
        procs.add(dmz.spawn(E2eReverseForwardTest.command("forward", "-c", dir.resolve("outer.yaml").toString())));
        procs.add(db.spawn(E2eReverseForwardTest.command("forward", "-c", dir.resolve("inner.yaml").toString())));
        Duration up = awaitQuery(pg, dmz, Duration.ofSeconds(30), procs);
        System.out.printf("forward up, first query through it after %d ms%n", up.toMillis());

        // 1. pgbench through the forward: 4 clients, 8 s, no failed transaction.
        ExecResult clean = pgbench(pg, dmz, 8);
        assertThat(clean.exitCode()).as("pgbench through the forward\n%s", clean.describe()).isZero();
        Matcher tps = TPS.matcher(clean.stdout());
        Matcher n = PROCESSED.matcher(clean.stdout());
        assertThat(tps.find() && n.find()).as(clean.describe()).isTrue();
        assertThat(Long.parseLong(n.group(1))).isPositive();
        System.out.printf("pgbench through the forward: %s tps, %s transactions%n", tps.group(1), n.group(1));

        // 2. The forward's connection is cut mid-run: the database host's packets to the outer side are
        //    dropped. The outer side sees three heartbeats missing and closes the session and its streams.
        Spawned cut = dmz.spawn(pg.asPostgres("pgbench", "-n", "-c", "4", "-j", "2", "-T", "30", "-h", "198.18.63.1",
            "-p", Integer.toString(PORT), "-U", Postgres.USER, "postgres").toArray(String[]::new));
        Thread.sleep(2000);
        db.run("nft", "add rule inet rpblock out ip daddr 198.18.63.1 tcp dport " + SSH_PORT + " drop");
        long cutAt = System.nanoTime();
        assertThat(cut.process().waitFor(40, TimeUnit.SECONDS)).as("pgbench ends, it does not hang\n%s", cut.describe())
            .isTrue();
        long endedMs = (System.nanoTime() - cutAt) / 1_000_000;
        assertThat(cut.process().exitValue()).as("the cut fails pgbench's clients\n%s", cut.describe()).isNotZero();
        assertThat(cut.output()).containsPattern("(?i)server closed the connection|connection to server|aborted");
        System.out.printf("cut: pgbench's clients failed %d ms after the cut%n", endedMs);

        // 3. The path returns: the inner side reconnects by itself, pgbench runs clean again.
        db.run("nft", "flush chain inet rpblock out");
        Duration back = awaitQuery(pg, dmz, Duration.ofSeconds(60), procs);
        System.out.printf("path back: the forward answered again after %d ms%n", back.toMillis());
        ExecResult again = pgbench(pg, dmz, 5);
        assertThat(again.exitCode()).as("pgbench after the forward recovered\n%s", again.describe()).isZero();
        for (Spawned p : procs) {
          assertThat(p.isAlive()).as("dctun forward keeps running\n%s", p.describe()).isTrue();
        }
      } finally {
        for (Spawned p : procs) {
          p.stop(Duration.ofSeconds(5));
        }
      }
    }
  }

  private static ExecResult pgbench(Postgres pg, NetNs ns, int seconds) {
    return pg.exec(ns, Duration.ofSeconds(seconds + 40L), null, "pgbench", "-n", "-c", "4", "-j", "2", "-T",
        Integer.toString(seconds), "-h", "198.18.63.1", "-p", Integer.toString(PORT), "-U", Postgres.USER, "postgres");
  }

  /** Runs {@code SELECT 1} through the forward until it answers; how long that took. */
  private static Duration awaitQuery(Postgres pg, NetNs ns, Duration bound, List<Spawned> procs)
      throws InterruptedException {
    long t0 = System.nanoTime();
    ExecResult r = null;
    for (int i = 0; i < 1000 && System.nanoTime() - t0 < bound.toNanos(); i++) {
      r = pg.exec(ns, Duration.ofSeconds(10), null, "psql", "-h", "198.18.63.1", "-p", Integer.toString(PORT), "-U",
          Postgres.USER, "-d", "postgres", "-Atc", "SELECT 1", "-v", "ON_ERROR_STOP=1");
      if (r.ok() && r.stdout().strip().equals("1")) {
        return Duration.ofNanos(System.nanoTime() - t0);
      }
      Thread.sleep(200);
    }
    throw new AssertionError("no answer through the forward within " + bound + "\n" + (r == null ? "" : r.describe())
        + "\n" + procs.get(0).describe() + "\n" + procs.get(1).describe());
  }
}
