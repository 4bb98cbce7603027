package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.e2e.E2eMeshRoamingTest.Gw;
import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Three sites in a full mesh where site C sits behind NAT (nftables masquerade in a router
 * namespace) and only dials out (no listen-port): A and B learn C's translated address from its
 * handshakes, and every server reaches every other server.
 *
 * <pre>
 *   srvA .73.10 - gA 198.18.64.1 --+
 *                                  +-- WAN bridge 198.18.64.0/24
 *   srvB .74.10 - gB 198.18.64.2 --+
 *                                  +-- 198.18.64.3 nat (masquerade) 198.18.68.1 -- 198.18.68.2 gC - srvC .75.10
 * </pre>
 */
@Timeout(180)
class E2eNatFullMeshTest {
  static final String WAN = "198.18.64.";
  static final int PORT = 51820;
  static final String[] LANS = {null, "198.18.73", "198.18.74", "198.18.75"};

  Topology topology;
  final List<Gw> gws = new ArrayList<>();

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("nft"); // Debian package nftables
  }

  @AfterEach
  void cleanup() {
    if (topology != null) {
      topology.close();
    }
  }

  @Test
  void everyServerReachesEveryOtherWhenOneSiteOnlyDialsOutFromBehindNat() throws Exception {
    topology = new Topology();
    Path dir = Files.createTempDirectory("dctun-e2e-dm-" + topology.id());
    topology.own(() -> E2eMeshRoamingTest.deleteRecursively(dir));
    NetNs wan = topology.namespace("dm-nwan");
    String bridge = topology.bridge(wan);
    NetNs[] g = new NetNs[4];
    NetNs[] srv = new NetNs[4];
    for (int i = 1; i <= 3; i++) {
      g[i] = topology.namespace("dm-n" + i);
      srv[i] = topology.namespace("dm-ns" + i);
      topology.veth(srv[i], LANS[i] + ".10/24", g[i], LANS[i] + ".1/24");
      srv[i].run("ip", "route", "add", "198.18.72.0/21", "via", LANS[i] + ".1");
      g[i].run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    }
    for (int i = 1; i <= 2; i++) {
      Topology.Veth v = topology.veth(g[i], WAN + i + "/24", wan, null);
      topology.attach(wan, v.ifB(), bridge);
    }
    NetNs nat = topology.namespace("dm-nat");
    Topology.Veth nv = topology.veth(nat, WAN + "3/24", wan, null);
    topology.attach(wan, nv.ifB(), bridge);
    topology.veth(nat, "198.18.68.1/24", g[3], "198.18.68.2/24");
    g[3].run("ip", "route", "add", "default", "via", "198.18.68.1");
    nat.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    nat.run("nft", "add table ip dmnat");
    nat.run("nft", "add chain ip dmnat dmpost { type nat hook postrouting priority 100 ; }");
    nat.run("nft", "add rule ip dmnat dmpost oifname " + nv.ifA() + " masquerade");
    // Nothing new gets in from the WAN: only replies to what C sent out.
    nat.run("nft", "add chain ip dmnat dmfwd { type filter hook forward priority 0 ; policy drop ; }");
    nat.run("nft", "add rule ip dmnat dmfwd ct state established,related accept");
    nat.run("nft", "add rule ip dmnat dmfwd iifname != " + nv.ifA() + " accept");
    g[3].run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", WAN + "1");

    PrivateKey[] keys = new PrivateKey[4];
    for (int i = 1; i <= 3; i++) {
      keys[i] = PrivateKey.generate();
    }
    for (int i = 1; i <= 3; i++) {
      String tun = topology.ifName("dmn" + i);
      Path keyFile = dir.resolve("g" + i + ".key");
      KeyFiles.writePrivateKey(keyFile, keys[i]);
      StringBuilder y = new StringBuilder();
      y.append("interface: ").append(tun).append('\n');
      y.append("private-key-file: ").append(keyFile).append('\n');
      if (i != 3) {
        y.append("listen-port: ").append(PORT).append('\n'); // C only dials out
      }
      y.append("addresses: [198.18.81.").append(i).append("/24]\n");
      y.append("peers:\n");
      for (int m = 1; m <= 3; m++) {
        if (m == i) {
          continue;
        }
        y.append("  - name: site").append(m).append('\n');
        y.append("    public-key: ").append(keys[m].publicKey().toBase64()).append('\n');
        if (m != 3) {
          y.append("    endpoint: ").append(WAN).append(m).append(':').append(PORT).append('\n');
        }
        y.append("    allowed-ips: [").append(LANS[m]).append(".0/24, 198.18.81.").append(m).append("/32]\n");
        if (i == 3) {
          y.append("    persistent-keepalive: 1\n"); // holds C's NAT mappings open
        }
      }
      gws.add(E2eMeshRoamingTest.launch(dir, i, g[i], tun, keys[i], y.toString()));
    }

    // A and B learn where C is from C's own handshakes (its address after NAT).
    for (Gw gw : gws.subList(0, 2)) {
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (System.nanoTime() < deadline && !String.valueOf(gw.status().get("peer.site3.endpoint")).startsWith(WAN + "3:")) {
        Sites.sleep(100);
      }
      assertThat(gw.status().get("peer.site3.endpoint")).as("g%d learned C's NATed address\n%s", gw.n(), diag())
          .startsWith(WAN + "3:");
    }
    for (int from = 1; from <= 3; from++) {
      for (int to = 1; to <= 3; to++) {
        if (from == to) {
          continue;
        }
        ExecResult r = srv[from].exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-i", "0.2", "-w", "20",
            LANS[to] + ".10");
        assertThat(r.ok()).as("srv%d -> srv%d\n%s\n%s", from, to, r.describe(), diag()).isTrue();
      }
    }
    // Nothing reached C unsolicited: it listens on no port of its own.
    assertThat(g[3].exec("ss", "-H", "-lun", "sport = :" + PORT).stdout()).isBlank();
  }

  String diag() {
    StringBuilder b = new StringBuilder();
    for (Gw g : gws) {
      b.append("--- g").append(g.n()).append('\n');
      g.status().forEach((k, v) -> {
        if (!v.equals("0")) {
          b.append(k).append(' ').append(v).append('\n');
        }
      });
      b.append(g.process().output()).append('\n');
    }
    return b.toString();
  }
}
