package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import io.dctun.core.testing.Spawned;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dctun up} in a namespace of its own, driven by the stock {@code wg} from outside it (the
 * socket directory is the host's, not the namespace's): {@code wg show} sees it, {@code wg set}
 * changes what the status file shows at once, and the socket goes away with the gateway. One
 * interface {@code du*} in a {@code du-*} namespace, addresses in 198.18.224.0/19; no traffic.
 */
@Timeout(120)
class E2eWgToolTest {
  @TempDir Path dir;

  static ExecResult wg(String... args) {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/wg"));
    cmd.addAll(List.of(args));
    return Shell.exec(Duration.ofSeconds(10), cmd.toArray(String[]::new));
  }

  /** Waits (bounded) until {@code file} contains {@code text}; returns its last content. */
  static String awaitContains(Path file, String text, Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    String s = "";
    while (System.nanoTime() < deadline) {
      s = Files.exists(file) ? Files.readString(file) : "";
      if (s.contains(text)) {
        return s;
      }
      Thread.sleep(50);
    }
    return s;
  }

  @Test
  void wgShowsAndSetsARunningGateway() throws Exception {
    Requirements.assumeNetNs();
    Requirements.assumeTun();
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/wg")), "needs the stock wg: /usr/bin/wg missing (apt-get install wireguard-tools)");
    String id = NetNs.randomId(6);
    String ifname = "du" + id;
    Path sock = Path.of("/var/run/wireguard", ifname + ".sock");
    PrivateKey key = PrivateKey.generate();
    PrivateKey peer = PrivateKey.generate();
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), key);
    Path cfg = dir.resolve("gw.yaml");
    Files.writeString(cfg, "interface: " + ifname + "\nprivate-key-file: gw.key\nlisten-port: 51820\n"
        + "addresses: [198.18.224.1/24]\npeers:\n  - name: remote\n    public-key: " + peer.publicKey().toBase64()
        + "\n    allowed-ips: [198.18.225.0/24]\n");
    Path status = dir.resolve("gw.status");
    try (NetNs ns = NetNs.createNamed("du-" + id)) {
      ns.run("ip", "link", "set", "lo", "up");
      List<String> cmd = new ArrayList<>(Sites.javaCommand());
      cmd.addAll(List.of("io.dctun.appliance.Main", "up", "-c", cfg.toString(), "--status-file", status.toString()));
      try (Spawned gw = ns.spawn(cmd.toArray(String[]::new))) {
        String st = awaitContains(status, "uapi.socket", Duration.ofSeconds(30));
        assertThat(st).as(gw.describe()).contains("uapi.socket " + sock);

        ExecResult dump = wg("show", ifname, "dump");
        assertThat(dump.ok()).as(dump.describe()).isTrue();
        String[] lines = dump.stdout().split("\n");
        assertThat(lines[0].split("\t")).containsExactly(key.toBase64(), key.publicKey().toBase64(), "51820", "off");
        assertThat(lines[1].split("\t")[0]).isEqualTo(peer.publicKey().toBase64());
        assertThat(lines[1].split("\t")[3]).isEqualTo("198.18.225.0/24");

        ExecResult set = wg("set", ifname, "peer", peer.publicKey().toBase64(), "allowed-ips", "198.18.225.0/24,198.18.226.0/24");
        assertThat(set.ok()).as(set.describe()).isTrue();
        assertThat(awaitContains(status, "198.18.225.0/24,198.18.226.0/24", Duration.ofSeconds(10)))
            .contains("peer.remote.allowed-ips 198.18.225.0/24,198.18.226.0/24");

        ExecResult rm = wg("set", ifname, "peer", peer.publicKey().toBase64(), "remove");
        assertThat(rm.ok()).as(rm.describe()).isTrue();
        assertThat(wg("show", ifname, "peers").stdout().trim()).isEmpty();

        gw.stop(Duration.ofSeconds(20));
        assertThat(sock).as("the socket goes with the gateway").doesNotExist();
      }
    } finally {
      Files.deleteIfExists(sock); // only if the gateway died without its shutdown hook
    }
  }
}
