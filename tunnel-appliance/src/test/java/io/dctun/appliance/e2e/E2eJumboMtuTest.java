package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.PrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code mtu: 9000} works end to end under {@code dctun up}: jumbo LANs on both sites, a WAN of
 * 1500 (the kernel fragments the tunnel's 8 KB datagrams and reassembles them), and packets of
 * 8000 bytes and more cross the tunnel whole. With receive slots of 2 KiB, as before, every one
 * of them was cut short at the receiving gateway and failed to decrypt. Names start with
 * {@code km}, addresses are in 198.18.0.0/15, everything is removed on failure too.
 */
@Timeout(150)
class E2eJumboMtuTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  @Test
  void packetsOf8000BytesCrossATunnelOfMtu9000Whole() throws Exception {
    try (Sites s = new Sites(new Topology("km"))) {
      for (Topology.Veth lan : List.of(s.lanA, s.lanB)) {
        lan.a().run("ip", "link", "set", "dev", lan.ifA(), "mtu", "9000");
        lan.b().run("ip", "link", "set", "dev", lan.ifB(), "mtu", "9000");
      }
      s.mtu = 9000;
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          publicKeyOf(kb), WAN_B + ":" + PORT, List.of(LAN_B, TUN_B + "/32"), 0)));
      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, PORT, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32"), 0)));
      assertThat(s.gwA.exec("ip", "link", "show", "dev", a.tun).stdout()).contains("mtu 9000");

      // Don't fragment: each echo is one IP packet of 8028 bytes (8000 of payload) through both TUNs.
      // ping checks every echoed byte against what it sent, and says "wrong data byte" otherwise.
      for (String dst : List.of(SRV_B)) {
        ExecResult r = s.srvA.exec(Duration.ofSeconds(30), "ping", "-n", "-M", "do", "-s", "8000", "-c", "3",
            "-w", "25", dst);
        assertThat(r.ok()).as("ping -M do -s 8000 %s\n%s\n%s\n%s", dst, r.describe(), a.describe(), b.describe())
            .isTrue();
        assertThat(r.stdout()).contains("8008 bytes from " + dst, " 0% packet loss").doesNotContain("wrong data");
      }
      ExecResult back = s.srvB.exec(Duration.ofSeconds(30), "ping", "-n", "-M", "do", "-s", "8972", "-c", "2",
          "-w", "25", SRV_A);
      assertThat(back.ok()).as("ping -M do -s 8972 (a 9000-byte packet)\n%s", back.describe()).isTrue();

      // TCP over the jumbo LANs: segments of ~8.9 KB, checked end to end by SHA-256.
      Payload p = s.payload(16L << 20);
      Duration took = s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(60), a, b);
      System.out.printf("16 MB srvA -> srvB at MTU 9000 over a 1500 WAN in %d ms (%.1f MB/s)%n", took.toMillis(),
          16.0 * 1000 / Math.max(1, took.toMillis()));

      assertThat(a.awaitNumber("peer.siteB.tx-bytes", 16L << 20, Duration.ofSeconds(5))).isGreaterThan(16L << 20);
      assertThat(b.drops("DECRYPT_FAILED")).isZero();
      assertThat(a.drops("DECRYPT_FAILED")).isZero();
      assertThat(a.drops("TOO_BIG")).isZero();
    }
  }
}
