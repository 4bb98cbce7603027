package io.dctun.appliance.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusSource;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.InMemoryNetwork.MemoryTransport;
import io.dctun.core.transport.Transports;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A real scrape of {@code /metrics} over HTTP from two engines joined in memory, after a real
 * handshake and a ping: the WireGuard exporters' names carry the peer's bytes and handshake, and
 * module reports come out under the one naming rule.
 */
class MetricsEndpointTest {
  static final Duration WAIT = Duration.ofSeconds(5);
  final ManualClock clock = new ManualClock(1_000_000_000L, 1_790_000_000_000_000_000L);
  final InMemoryNetwork net = new InMemoryNetwork();
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  final class Node {
    final PrivateKey key = PrivateKey.generate();
    final InMemoryDevice tun;
    final MemoryTransport udp;
    final UdpEndpoint ep;
    final Device device;
    final Engine engine;

    Node(String name, String ip) {
      tun = new InMemoryDevice(name);
      ep = UdpEndpoint.of(ip, 51820);
      udp = net.bind(ep.address());
      device = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()), clock);
      engine = Engine.manuallyTicked(device, List.of(tun), Transports.of(udp), clock);
    }

    void start() {
      engine.start();
      open.add(engine);
    }
  }

  static byte[] ping(int src, int dst) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, src, dst, 7, 1, new byte[56]);
    return Arrays.copyOf(buf, n);
  }

  static String scrape(int port) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(WAIT).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  @Test
  void aScrapeShowsPeersUnderTheExportersNamesAndModuleReportsUnderDctuns() throws Exception {
    Node a = new Node("a", "198.18.0.1");
    Node b = new Node("b", "198.18.0.2");
    a.device.addPeer(PeerConfig.of(b.key.publicKey(), b.ep, "198.18.2.0/24").withName("site-b"));
    b.device.addPeer(PeerConfig.of(a.key.publicKey(), a.ep, "198.18.1.0/24").withName("site-a"));
    a.start();
    b.start();
    byte[] p = ping(0xC6120105, 0xC6120207); // 198.18.1.5 -> 198.18.2.7
    assertThat(a.tun.inject(p)).isTrue();
    assertThat(b.tun.takeWritten(WAIT)).as("the ping crossed").containsExactly(p);
    b.device.inbound(new byte[3], 0, 3, a.ep, clock.nanoTime()); // one malformed datagram: a drop

    StatusSource extra = s -> {
      s.section("ha").section("dctun-public").text("state", "MASTER");
      s.section("firewall").scope("rule", "pg-replication").counter("packets", 42);
      s.section("firewall").gauge("flows", 3);
      s.text("last-error", "a sentence, with spaces"); // not a state: left out
    };
    try (MetricsEndpoint m = MetricsEndpoint.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
        "dctun-b", b.device, () -> List.of(b.device, extra))) {
      String text = scrape(m.port());
      Peer atB = b.device.peer(a.key.publicKey());
      String key = a.key.publicKey().toBase64();
      assertThat(atB.rxBytes()).isPositive();
      assertThat(text)
          .contains("wireguard_device_info{device=\"dctun-b\",public_key=\"" + b.key.publicKey().toBase64() + "\"} 1")
          .contains("wireguard_peer_receive_bytes_total{device=\"dctun-b\",public_key=\"" + key + "\"} "
              + (double) atB.rxBytes())
          .contains("wireguard_peer_transmit_bytes_total{device=\"dctun-b\",public_key=\"" + key + "\"} "
              + (double) atB.txBytes())
          .contains("wireguard_received_bytes_total{allowed_ips=\"198.18.1.0/24\",friendly_name=\"site-a\","
              + "interface=\"dctun-b\",public_key=\"" + key + "\"} " + (double) atB.rxBytes())
          .contains("wireguard_peer_info{allowed_ips=\"198.18.1.0/24\",device=\"dctun-b\",endpoint=\"198.18.0.1:51820\","
              + "name=\"site-a\",public_key=\"" + key + "\"} 1")
          .contains("dctun_drop_total{reason=\"UNKNOWN_MESSAGE_TYPE\"} 1.0")
          .contains("dctun_drop_total{reason=\"NO_ROUTE\"} 0.0")
          .contains("dctun_peer_rx_bytes_total{peer=\"site-a\"} " + (double) atB.rxBytes())
          .contains("dctun_ha_dctun_public_state_info{value=\"MASTER\"} 1")
          .contains("dctun_firewall_rule_packets_total{rule=\"pg-replication\"} 42.0")
          .contains("dctun_firewall_flows 3.0")
          .doesNotContain("dctun_last_error")
          .doesNotContainIgnoringCase("private");
      double hs = Double.parseDouble(text.lines()
          .filter(l -> l.startsWith("wireguard_peer_last_handshake_seconds{")).findFirst().orElseThrow()
          .replaceAll(".*} ", ""));
      assertThat(hs).as("the handshake's wall-clock time, in seconds").isEqualTo(atB.lastHandshakeWallNanos() / 1e9);
    }
  }
}
