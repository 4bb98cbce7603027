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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 10's second case in network namespaces: a database host that may connect out but may
 * not be connected to (nftables in its namespace drops every new inbound connection), and a DMZ
 * host that clients can reach. {@code dctun forward} runs on both, without root inside the
 * protocol and without a TUN device: the inner side dials out to the outer one; a client in the
 * DMZ connects to the outer side's port and reaches the target on the inner host's loopback.
 * The client sends 8 MB; the target reads them, answers with their SHA-256 and closes: the
 * checksum matches and the target's close reaches the client. The target is not reachable
 * directly. (The client keeps its side open: a half-close from the outer side's client still
 * ends the whole stream, see {@link io.dctun.appliance.forward.ForwardOuter}.)
 *
 * <pre>
 *   client, outer  [dmz 198.18.62.1] ---- veth ---- [db 198.18.62.2]  inner, target *:15432 (via 127.0.0.1)
 *                                                    nft: ct state new iif veth -> drop
 * </pre>
 */
@Timeout(120)
class E2eReverseForwardTest {
  private static final Pattern SHA = Pattern.compile("\\b([0-9a-f]{64})\\b");
  private static final int SSH_PORT = 2222;
  private static final int PORT = 15432;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("socat");
    Requirements.assumeCommand("nft");
  }

  @Test
  void aDialOutOnlyServiceIsReachedOnlyThroughTheForward() throws Exception {
    try (Topology t = new Topology("rf")) {
      NetNs dmz = t.namespace("dmz");
      NetNs db = t.namespace("db");
      Topology.Veth link = t.veth(dmz, "198.18.62.1/24", db, "198.18.62.2/24");
      // The database side may connect out; nothing may connect in.
      db.run("nft", "add table inet rfblock");
      db.run("nft", "add chain inet rfblock in { type filter hook input priority 0 ; }");
      db.run("nft", "add rule inet rfblock in iifname " + link.ifB() + " ct state new drop");
      Path dir = Files.createTempDirectory("dctun-rf-" + t.id());
      t.own(() -> {
        try (var s = Files.walk(dir)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      });
      String outerPub = genkey(dmz, dir.resolve("outer.key"));
      String innerPub = genkey(db, dir.resolve("inner.key"));
      Files.writeString(dir.resolve("outer.yaml"), String.join("\n",
          "outer:",
          "  listen: 198.18.62.1:" + SSH_PORT,
          "  key-file: " + dir.resolve("outer.key"),
          "  inner-key: " + innerPub,
          "  bind: 198.18.62.1",
          "  ports: [" + PORT + "]",
          "  heartbeat: 1s",
          ""));
      Files.writeString(dir.resolve("inner.yaml"), String.join("\n",
          "inner:",
          "  outer: 198.18.62.1:" + SSH_PORT,
          "  outer-key: " + outerPub,
          "  key-file: " + dir.resolve("inner.key"),
          "  bind: 198.18.62.1",
          "  forwards: [{port: " + PORT + ", target: 127.0.0.1:" + PORT + "}]",
          "  heartbeat: 1s",
          ""));
      Sites.Payload data = Sites.payload(dir, 8L << 20);
      Path payload = data.file();
      String want = data.sha256();

      List<Spawned> procs = new ArrayList<>();
      try {
        // The target: reads the 8 MB, answers their SHA-256, closes. It listens on every address
        // of the database host: only the firewall keeps the DMZ from connecting to it directly.
        procs.add(db.spawn("socat", "TCP-LISTEN:" + PORT + ",reuseaddr,fork",
            "SYSTEM:head -c " + data.size() + " | sha256sum"));
        procs.add(dmz.spawn(command("forward", "-c", dir.resolve("outer.yaml").toString())));
        procs.add(db.spawn(command("forward", "-c", dir.resolve("inner.yaml").toString())));

        // Directly, the target is out of reach: the database host accepts no connection.
        ExecResult direct = dmz.exec(Duration.ofSeconds(10), "socat", "-T", "2", "-", "TCP:198.18.62.2:" + PORT
            + ",connect-timeout=2");
        assertThat(direct.ok()).as("a direct connection must not get through\n%s", direct.describe()).isFalse();

        // Through the outer side's port, once the inner side has asked for it (bounded).
        String answer = null;
        ExecResult r = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        for (int i = 0; i < 100 && answer == null && System.nanoTime() < deadline; i++) {
          r = dmz.exec(Duration.ofSeconds(40), "socat", "-t", "30", "-T", "30",
              "OPEN:" + payload + ",rdonly!!STDOUT", "TCP:198.18.62.1:" + PORT + ",connect-timeout=5,shut-none");
          Matcher m = SHA.matcher(r.stdout());
          if (m.find()) {
            answer = m.group(1);
          } else {
            Thread.sleep(200); // the port is not forwarded yet: the inner side is still connecting
          }
        }
        assertThat(answer).as("SHA-256 from the target through the forward\n%s\n%s\n%s", r == null ? "" : r.describe(),
            procs.get(1).describe(), procs.get(2).describe()).isEqualTo(want);
        for (Spawned p : procs) {
          assertThat(p.isAlive()).as(p.describe()).isTrue();
        }
      } finally {
        for (Spawned p : procs) {
          p.stop(Duration.ofSeconds(5));
        }
      }
    }
  }

  /** {@code dctun forward genkey KEY} in {@code ns}: the public line it prints. */
  static String genkey(NetNs ns, Path key) {
    ExecResult r = ns.run(Duration.ofSeconds(30), command("forward", "genkey", key.toString()));
    return r.stdout().strip();
  }

  /** {@code dctun} (this build's classes) with {@code args}. */
  static String[] command(String... args) {
    List<String> cmd = new ArrayList<>(Sites.javaCommand());
    cmd.add("io.dctun.appliance.Main");
    cmd.addAll(List.of(args));
    return cmd.toArray(String[]::new);
  }
}
