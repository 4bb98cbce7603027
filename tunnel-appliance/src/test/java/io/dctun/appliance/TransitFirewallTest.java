package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.session.Device;
import io.dctun.core.session.DropReason;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
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
 * Transit through a hub's firewall, in memory: a hub Device with the real {@link GatewayFirewall}
 * between two spoke Devices. A packet from spoke A to spoke B passes the hub's inbound rules for
 * A, then its outbound rules for B (README, "Transit traffic"); rules may name the spokes'
 * addresses as {@code peer:NAME} and {@code group:NAME}.
 */
class TransitFirewallTest {
  static final Duration WAIT = Duration.ofSeconds(5);
  static final String A_HOST = "198.18.65.10";
  static final String B_HOST = "198.18.66.10";

  @TempDir Path dir;
  final InMemoryNetwork net = new InMemoryNetwork();
  final List<Engine> engines = new ArrayList<>();
  final List<GatewayFirewall> firewalls = new ArrayList<>();

  record Node(PrivateKey key, UdpEndpoint ep, InMemoryDevice tun, Device device) {}

  Node node(String name, int n, PrivateKey key) {
    UdpEndpoint ep = UdpEndpoint.of("198.18.64." + n, 51820);
    InMemoryDevice tun = new InMemoryDevice(name);
    InMemoryNetwork.MemoryTransport udp = net.bind(ep.address());
    Device d = new Device(key, InMemoryDevice.DEFAULT_MTU, Engine.output(udp, tun, new AtomicLong()), Clock.SYSTEM);
    Engine e = new Engine(d, List.of(tun), udp, Clock.SYSTEM);
    engines.add(e);
    return new Node(key, ep, tun, d);
  }

  @AfterEach
  void close() {
    firewalls.forEach(GatewayFirewall::close);
    engines.forEach(Engine::close);
  }

  /** The hub's configuration: spoke A is in group ops; {@code rules} is the firewall's rules list. */
  GatewayConfig hubConfig(PrivateKey hub, PrivateKey a, PrivateKey b, String rules) throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("hub.key"), hub);
    String yaml = String.join("\n",
        "private-key-file: hub.key",
        "listen-port: 51820",
        "addresses: [198.18.64.1/24]",
        "peers:",
        "  - name: spokeA",
        "    public-key: " + a.publicKey().toBase64(),
        "    endpoint: 198.18.64.2:51820",
        "    allowed-ips: [198.18.65.0/24]",
        "    groups: [ops]",
        "  - name: spokeB",
        "    public-key: " + b.publicKey().toBase64(),
        "    endpoint: 198.18.64.3:51820",
        "    allowed-ips: [198.18.66.0/24]",
        "firewall:",
        "  rules:",
        rules,
        "");
    Path f = dir.resolve("hub.yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f);
  }

  /** Hub and spokes wired and started; returns {hub, a, b} with the hub's firewall in {@link #firewalls}. */
  Node[] wire(String rules) throws Exception {
    PrivateKey hk = PrivateKey.generate();
    PrivateKey ak = PrivateKey.generate();
    PrivateKey bk = PrivateKey.generate();
    Node hub = node("hub", 1, hk);
    Node a = node("spokeA", 2, ak);
    Node b = node("spokeB", 3, bk);
    GatewayConfig cfg = hubConfig(hk, ak, bk, rules);
    hub.device.addPeer(PeerConfig.of(ak.publicKey(), a.ep, "198.18.65.0/24").withName("spokeA"));
    hub.device.addPeer(PeerConfig.of(bk.publicKey(), b.ep, "198.18.66.0/24").withName("spokeB"));
    firewalls.add(GatewayFirewall.attach(cfg, hub.device));
    a.device.addPeer(PeerConfig.of(hk.publicKey(), hub.ep, "198.18.64.0/24", "198.18.66.0/24").withName("hub"));
    b.device.addPeer(PeerConfig.of(hk.publicKey(), hub.ep, "198.18.64.0/24", "198.18.65.0/24").withName("hub"));
    engines.forEach(Engine::start);
    return new Node[] {hub, a, b};
  }

  static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[16]);
    return Arrays.copyOf(buf, n);
  }

  /** A minimal IPv4/UDP datagram (checksums zero: the firewall does not check them). */
  static byte[] udp(String src, String dst, int dport) {
    byte[] p = new byte[28];
    p[0] = 0x45;
    p[3] = 28;
    p[8] = 64;
    p[9] = 17;
    put(p, 12, v4(src));
    put(p, 16, v4(dst));
    p[20] = 0x30;
    p[21] = 0x39;
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

  static void await(LongSupplier counter, long atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (counter.getAsLong() < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(counter.getAsLong()).isGreaterThanOrEqualTo(atLeast);
  }

  static final String BOTH_LEGS = String.join("\n",
      "    - name: ops-in",
      "      direction: in",
      "      group: ops",
      "      source: group:ops",
      "      destination: peer:spokeB",
      "      protocol: icmp",
      "      action: accept",
      "    - name: to-b-out",
      "      direction: out",
      "      peer: spokeB",
      "      source: [peer:spokeA]",
      "      protocol: icmp",
      "      action: accept");

  @Test
  void anAllowedTransitFlowPassesBothLegsAndItsRepliesReturn() throws Exception {
    Node[] n = wire(BOTH_LEGS);
    Node hub = n[0];
    Node a = n[1];
    Node b = n[2];
    byte[] req = ping(A_HOST, B_HOST, 1);
    assertThat(a.tun.inject(req)).isTrue();
    byte[] got = b.tun.takeWritten(WAIT);
    assertThat(got).as("A's ping reaches B through the hub\n%s", status(hub)).isNotNull();
    assertThat(got[8]).as("the hub decremented the TTL").isEqualTo((byte) (req[8] - 1));
    assertThat(hub.device.forwarded()).isEqualTo(1);

    byte[] buf = new byte[1500];
    byte[] reply = Arrays.copyOf(buf, IcmpEcho.writeV4Reply(buf, 0, v4(B_HOST), v4(A_HOST), 7, 1, new byte[16]));
    assertThat(b.tun.inject(reply)).isTrue();
    assertThat(a.tun.takeWritten(WAIT)).as("B's reply returns to A as part of the flow\n%s", status(hub)).isNotNull();
    Firewall fw = firewall(0);
    assertThat(fw.reasonCount(Reason.ESTABLISHED)).as("the reply passed as established").isPositive();
    assertThat(hub.device.drops().count(DropReason.FILTERED)).isZero();
  }

  @Test
  void aDeniedTransitFlowIsDroppedAndCounted() throws Exception {
    Node[] n = wire(BOTH_LEGS);
    Node hub = n[0];
    Node a = n[1];
    Node b = n[2];
    Firewall fw = firewall(0);
    // UDP from A to B: no inbound rule for it.
    assertThat(a.tun.inject(udp(A_HOST, B_HOST, 5432))).isTrue();
    await(() -> hub.device.drops().count(DropReason.FILTERED), 1);
    assertThat(fw.reasonCount(Reason.NO_RULE)).isEqualTo(1);
    // A new ping from B to A: B is not in ops, and no rule lets anything out to A.
    assertThat(b.tun.inject(ping(B_HOST, A_HOST, 2))).isTrue();
    await(() -> hub.device.drops().count(DropReason.FILTERED), 2);
    assertThat(fw.reasonCount(Reason.NO_RULE)).isEqualTo(2);
    // An allowed one after them still passes, so nothing else was lost: the two above were dropped.
    assertThat(a.tun.inject(ping(A_HOST, B_HOST, 3))).isTrue();
    byte[] got = b.tun.takeWritten(WAIT);
    assertThat(got).isNotNull();
    assertThat(IcmpEcho.sequence(got, 0, got.length)).isEqualTo(3);
    assertThat(a.tun.pollWritten()).as("nothing reached A").isNull();
    assertThat(hub.device.forwarded()).isEqualTo(1);
  }

  @Test
  void theOutboundLegAppliesToo() throws Exception {
    // Only the inbound leg is allowed: the packet passes filterInbound for A, then meets the
    // outbound rules for B, where nothing matches.
    Node[] n = wire(BOTH_LEGS.substring(0, BOTH_LEGS.indexOf("    - name: to-b-out") - 1));
    Node hub = n[0];
    Node a = n[1];
    Node b = n[2];
    assertThat(a.tun.inject(ping(A_HOST, B_HOST, 1))).isTrue();
    await(() -> hub.device.drops().count(DropReason.FILTERED), 1);
    assertThat(b.tun.pollWritten()).isNull();
    assertThat(hub.device.forwarded()).isZero();
  }

  Firewall firewall(int i) {
    return new Firewall(firewalls.get(i).firewall());
  }

  /** The hub's firewall, by the counters the test reads. */
  record Firewall(io.dctun.firewall.Firewall fw) {
    long reasonCount(Reason r) {
      return fw.reasonCount(r);
    }
  }

  static String status(Node n) {
    return io.dctun.core.status.StatusText.of(n.device);
  }
}
