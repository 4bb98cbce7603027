package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Automatic UDP-then-TCP between two sites: site A reaches site B at {@code endpoints: [udp, tcp://]}
 * (UDP preferred); site B also listens for WireGuard over TCP. nftables in B's namespace then drops
 * the tunnel's UDP: A moves to TCP by itself and a 100 MB transfer crosses with a matching
 * checksum; the rule goes, and A moves back to UDP.
 */
class E2eTcpFallbackTest {
  static final int TCP_PORT = 8080;

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("nft"); // Debian package nftables
  }

  static Sites.Gw start(Sites s, NetNs ns, String label, PrivateKey key, String yamlTail) throws Exception {
    String tun = s.topology().ifName("dt" + Character.toLowerCase(label.charAt(label.length() - 1)));
    Path keyFile = s.dir().resolve(label + ".key");
    KeyFiles.writePrivateKey(keyFile, key);
    Path cfg = s.dir().resolve(label + ".yaml");
    Files.writeString(cfg, "interface: " + tun + "\nprivate-key-file: " + keyFile + "\nlisten-port: " + PORT
        + "\nuapi: false\n" + yamlTail);
    return s.launch(ns, label, tun, key, cfg);
  }

  /** Pings (bounded) until {@code gw}'s endpoint for {@code peer} reads {@code want}; returns the time it took. */
  static Duration pingUntilEndpoint(Sites s, Sites.Gw gw, String peer, String want, Duration bound) {
    long t0 = System.nanoTime();
    long deadline = t0 + bound.toNanos();
    for (int i = 0; i < 2_000 && System.nanoTime() < deadline; i++) {
      if (want.equals(gw.endpoint(peer))) {
        return Duration.ofNanos(System.nanoTime() - t0);
      }
      s.srvA.exec(Duration.ofSeconds(3), "ping", "-c", "1", "-W", "1", SRV_B); // traffic the move is judged by
      try {
        Thread.sleep(50); // at most ~20 pings a second, so the bound is the time, not the count
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    throw new AssertionError(gw.label + "'s endpoint for " + peer + " is " + gw.endpoint(peer) + ", not " + want
        + " after " + bound + "\n" + gw.status());
  }

  /** Over plain TCP, and over TLS (Netty's SslHandler, for networks that only let HTTPS through). */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"tcp", "tls"})
  void udpBlockedMovesTheTunnelToTcpAndBackWhenUdpReturns(String carrier) throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw b = start(s, s.gwB, "gwB", kb, "listen-" + carrier + ": " + TCP_PORT + "\naddresses: [" + TUN_B + "/24]\npeers:\n"
          + "  - name: siteA\n    public-key: " + publicKeyOf(ka) + "\n    allowed-ips: [" + LAN_A + ", " + TUN_A + "/32]\n");
      Sites.Gw a = start(s, s.gwA, "gwA", ka, "addresses: [" + TUN_A + "/24]\npeers:\n"
          + "  - name: siteB\n    public-key: " + publicKeyOf(kb) + "\n    endpoints: [" + WAN_B + ":" + PORT
          + ", " + carrier + "://" + WAN_B + ":" + TCP_PORT + "]\n    allowed-ips: [" + LAN_B + ", " + TUN_B + "/32]\n"
          + "    persistent-keepalive: 1\n");
      String udp = WAN_B + ":" + PORT;
      String tcp = carrier + "://" + WAN_B + ":" + TCP_PORT;

      assertPing(s.srvA, SRV_B, a, b);
      assertThat(a.endpoint("siteB")).as("UDP first, while it answers").isEqualTo(udp);
      Payload p = s.payload(100L << 20);
      Duration overUdp = s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(180), a, b);
      System.out.printf("100 MB over WireGuard over UDP in %d ms (%.1f MB/s)%n", overUdp.toMillis(),
          100.0 * 1000 / Math.max(1, overUdp.toMillis()));

      // The site's network starts dropping the tunnel's UDP.
      s.gwB.run("nft", "add table inet dtblock");
      s.gwB.run("nft", "add chain inet dtblock in { type filter hook input priority 0 ; }");
      s.gwB.run("nft", "add rule inet dtblock in udp dport " + PORT + " drop");
      Duration toTcp = pingUntilEndpoint(s, a, "siteB", tcp, Duration.ofSeconds(30));
      System.out.printf("UDP dropped: moved to %s in %d ms%n", carrier, toTcp.toMillis());

      Duration took = s.assertTcpTransfer(s.srvA, s.srvB, SRV_B, p, Duration.ofSeconds(180), a, b);
      System.out.printf("100 MB over WireGuard over %s in %d ms (%.1f MB/s)%n", carrier, took.toMillis(),
          100.0 * 1000 / Math.max(1, took.toMillis()));
      System.out.printf("%s/UDP throughput ratio: %.2f%n", carrier, (double) overUdp.toMillis() / Math.max(1, took.toMillis()));
      assertThat(a.endpoint("siteB")).as("still on TCP while UDP is dropped").isEqualTo(tcp);

      s.gwB.run("nft", "delete table inet dtblock");
      Duration back = pingUntilEndpoint(s, a, "siteB", udp, Duration.ofSeconds(40));
      System.out.printf("UDP returned: moved back in %d ms%n", back.toMillis());
      assertPing(s.srvA, SRV_B, a, b);
    }
  }
}
