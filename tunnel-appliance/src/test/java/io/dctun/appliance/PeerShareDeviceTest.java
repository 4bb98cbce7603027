package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13 through real Devices, in memory: a site gateway with the configured firewall
 * ({@code max-flows-per-peer: 32}) and two remote peers. Peer A opens UDP flows to a server on
 * the gateway's LAN, which answers each (so every flow is assured), until A holds its share and
 * its next flow is refused; peer B's ping and UDP to the same server still pass both ways.
 */
class PeerShareDeviceTest {
  static final Duration WAIT = Duration.ofSeconds(5);
  static final String SERVER = "198.18.70.10";
  static final String A_HOST = "198.18.71.10";
  static final String B_HOST = "198.18.72.10";
  static final int SHARE = 32;

  @TempDir Path dir;
  final InMemoryNetwork net = new InMemoryNetwork();
  final List<Engine> engines = new ArrayList<>();
  final List<GatewayFirewall> firewalls = new ArrayList<>();

  record Node(PrivateKey key, UdpEndpoint ep, InMemoryDevice tun, Device device) {}

  Node node(String name, int n, PrivateKey key) {
    UdpEndpoint ep = UdpEndpoint.of("198.18.69." + n, 51820);
    InMemoryDevice tun = new InMemoryDevice(name);
    InMemoryNetwork.MemoryTransport udp = net.bind(ep.address());
    Device d = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()), Clock.SYSTEM);
    engines.add(new Engine(d, List.of(tun), udp, Clock.SYSTEM));
    return new Node(key, ep, tun, d);
  }

  @AfterEach
  void close() {
    firewalls.forEach(GatewayFirewall::close);
    engines.forEach(Engine::close);
  }

  GatewayConfig gatewayConfig(PrivateKey gw, PrivateKey a, PrivateKey b) throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), gw);
    String yaml = String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "addresses: [198.18.70.1/24]",
        "peers:",
        "  - name: siteA",
        "    public-key: " + a.publicKey().toBase64(),
        "    endpoint: 198.18.69.2:51820",
        "    allowed-ips: [198.18.71.0/24]",
        "  - name: siteB",
        "    public-key: " + b.publicKey().toBase64(),
        "    endpoint: 198.18.69.3:51820",
        "    allowed-ips: [198.18.72.0/24]",
        "firewall:",
        "  max-flows: 1024",
        "  max-flows-per-peer: " + SHARE,
        "  rules:",
        "    - name: to-server",
        "      direction: in",
        "      destination: " + SERVER,
        "      action: accept",
        "");
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f);
  }

  @Test
  void peerBStillPingsWhilePeerAHoldsItsWholeShare() throws Exception {
    PrivateKey gk = PrivateKey.generate();
    PrivateKey ak = PrivateKey.generate();
    PrivateKey bk = PrivateKey.generate();
    Node gw = node("gw", 1, gk);
    Node a = node("siteA", 2, ak);
    Node b = node("siteB", 3, bk);
    gw.device.addPeer(PeerConfig.of(ak.publicKey(), a.ep, "198.18.71.0/24").withName("siteA"));
    gw.device.addPeer(PeerConfig.of(bk.publicKey(), b.ep, "198.18.72.0/24").withName("siteB"));
    GatewayFirewall gf = GatewayFirewall.attach(gatewayConfig(gk, ak, bk), gw.device);
    firewalls.add(gf);
    Firewall fw = gf.firewall();
    a.device.addPeer(PeerConfig.of(gk.publicKey(), gw.ep, "198.18.70.0/24").withName("gw"));
    b.device.addPeer(PeerConfig.of(gk.publicKey(), gw.ep, "198.18.70.0/24").withName("gw"));
    engines.forEach(Engine::start);
    assertThat(fw.maxFlowsPerPeer()).isEqualTo(SHARE);

    // A: SHARE answered UDP flows (one source port each), every one through the tunnel and back.
    for (int i = 0; i < SHARE; i++) {
      assertThat(a.tun.inject(udp(A_HOST, 20000 + i, SERVER, 7000))).isTrue();
      byte[] got = gw.tun.takeWritten(WAIT);
      assertThat(got).as("A's flow %d reaches the server\n%s", i, status(gw)).isNotNull();
      assertThat(gw.tun.inject(udp(SERVER, 7000, A_HOST, 20000 + i))).isTrue();
      assertThat(a.tun.takeWritten(WAIT)).as("the server's answer %d returns to A", i).isNotNull();
    }
    assertThat(fw.peerFlowCount("siteA")).isEqualTo(SHARE);

    // A's next flow is refused for its share: counted, and nothing reaches the server.
    assertThat(a.tun.inject(udp(A_HOST, 30000, SERVER, 7000))).isTrue();
    await(() -> fw.reasonCount(Reason.PEER_SHARE_FULL), 1);
    assertThat(fw.peerFlowCount("siteA")).isEqualTo(SHARE);

    // B pings the server and sends it UDP: both pass, and the replies return.
    assertThat(b.tun.inject(ping(B_HOST, SERVER, 1))).isTrue();
    byte[] req = gw.tun.takeWritten(WAIT);
    assertThat(req).as("B's ping reaches the server\n%s", status(gw)).isNotNull();
    assertThat(IcmpEcho.sequence(req, 0, req.length)).isEqualTo(1);
    byte[] buf = new byte[1500];
    byte[] reply = Arrays.copyOf(buf, IcmpEcho.writeV4Reply(buf, 0, v4(SERVER), v4(B_HOST), 7, 1, new byte[16]));
    assertThat(gw.tun.inject(reply)).isTrue();
    assertThat(b.tun.takeWritten(WAIT)).as("the server's echo reply returns to B").isNotNull();
    assertThat(b.tun.inject(udp(B_HOST, 20000, SERVER, 7000))).isTrue();
    assertThat(gw.tun.takeWritten(WAIT)).as("B's UDP reaches the server").isNotNull();
    assertThat(fw.peerFlowCount("siteB")).isEqualTo(2);

    // A's established flows still pass, and nothing but the one flow was refused.
    assertThat(a.tun.inject(udp(A_HOST, 20000, SERVER, 7000))).isTrue();
    byte[] again = gw.tun.takeWritten(WAIT);
    assertThat(again).as("A's first flow still passes").isNotNull();
    assertThat(port(again, 20)).isEqualTo(20000);
    assertThat(fw.reasonCount(Reason.PEER_SHARE_FULL)).isEqualTo(1);
  }

  static int port(byte[] p, int off) {
    return ((p[off] & 0xFF) << 8) | (p[off + 1] & 0xFF);
  }

  static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[16]);
    return Arrays.copyOf(buf, n);
  }

  /** A minimal IPv4/UDP datagram (UDP checksum zero: allowed in IPv4, unchecked by the firewall). */
  static byte[] udp(String src, int sport, String dst, int dport) {
    byte[] p = new byte[28];
    p[0] = 0x45;
    p[3] = 28;
    p[8] = 64;
    p[9] = 17;
    put(p, 12, v4(src));
    put(p, 16, v4(dst));
    p[20] = (byte) (sport >> 8);
    p[21] = (byte) sport;
    p[22] = (byte) (dport >> 8);
    p[23] = (byte) dport;
    p[25] = 8;
    int sum = 0;
    for (int i = 0; i < 20; i += 2) sum += ((p[i] & 0xFF) << 8) | (p[i + 1] & 0xFF);
    while ((sum >>> 16) != 0) sum = (sum & 0xFFFF) + (sum >>> 16);
    p[10] = (byte) (~sum >> 8);
    p[11] = (byte) ~sum;
    return p;
  }

  static void put(byte[] b, int off, int v) {
    b[off] = (byte) (v >>> 24);
    b[off + 1] = (byte) (v >>> 16);
    b[off + 2] = (byte) (v >>> 8);
    b[off + 3] = (byte) v;
  }

  static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8
        | Integer.parseInt(p[3]);
  }

  /** Waits, bounded, for a counter to reach {@code atLeast}. */
  static void await(LongSupplier counter, long atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (counter.getAsLong() < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(counter.getAsLong()).isGreaterThanOrEqualTo(atLeast);
  }

  static String status(Node n) {
    return io.dctun.core.status.StatusText.of(n.device);
  }
}
