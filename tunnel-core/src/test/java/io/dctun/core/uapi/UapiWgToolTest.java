package io.dctun.core.uapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The stock {@code wg} (Debian wireguard-tools, {@code /usr/bin/wg}) drives a running dctun
 * {@link Device} + {@link Engine} in this JVM through {@code /var/run/wireguard/<if>.sock}. The
 * interface name is unique ({@code du} + 6 random characters) and exists in no kernel: {@code wg}
 * tries the userspace socket first and never needs netlink for it. The second engine, joined by an
 * in-memory network, gives a real handshake and real traffic. Needs root (the socket directory is
 * root's) and {@code wg}; skips with a message otherwise.
 */
class UapiWgToolTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.224.1", 51820);
  private static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.224.2", 51820);

  final InMemoryNetwork net = new InMemoryNetwork();
  final List<AutoCloseable> closeMe = new ArrayList<>();
  final String ifname = "du" + randomSuffix();
  final PrivateKey keyA = PrivateKey.generate();
  final PrivateKey keyB = PrivateKey.generate();
  InMemoryDevice tunA;
  InMemoryDevice tunB;
  Device a;
  Device b;
  UapiServer server;
  Path sock;

  static String randomSuffix() {
    String abc = "abcdefghijklmnopqrstuvwxyz0123456789";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      sb.append(abc.charAt(ThreadLocalRandom.current().nextInt(abc.length())));
    }
    return sb.toString();
  }

  @BeforeEach
  void up() throws Exception {
    Requirements.assumeRoot();
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/wg")),
        "needs the stock wg: /usr/bin/wg missing (apt-get install wireguard-tools)");
    assertThat(Shell.exec("ip", "link", "show", ifname).ok()).as("no kernel interface named " + ifname).isFalse();

    tunA = new InMemoryDevice("a");
    tunB = new InMemoryDevice("b");
    InMemoryNetwork.MemoryTransport udpA = net.bind(EP_A.address());
    InMemoryNetwork.MemoryTransport udpB = net.bind(EP_B.address());
    a = new Device(keyA, InMemoryDevice.DEFAULT_MTU, Engine.output(udpA, tunA, new AtomicLong()), Clock.SYSTEM);
    b = new Device(keyB, InMemoryDevice.DEFAULT_MTU, Engine.output(udpB, tunB, new AtomicLong()), Clock.SYSTEM);
    a.addPeer(PeerConfig.of(keyB.publicKey(), EP_B, "198.18.225.2/32"));
    b.addPeer(PeerConfig.of(keyA.publicKey(), (UdpEndpoint) null, "198.18.225.1/32"));
    Engine ea = new Engine(a, List.of(tunA), udpA, Clock.SYSTEM);
    Engine eb = new Engine(b, List.of(tunB), udpB, Clock.SYSTEM);
    closeMe.add(ea);
    closeMe.add(eb);
    ea.start();
    eb.start();
    server = UapiServer.start(new Uapi(a, keyA, SocketSettings.fixed(51820)), ifname);
    closeMe.add(0, server);
    sock = server.socketPath();
  }

  @AfterEach
  void down() throws Exception {
    for (AutoCloseable c : closeMe) {
      c.close();
    }
  }

  static ExecResult wg(String... args) {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/wg"));
    cmd.addAll(Arrays.asList(args));
    return Shell.exec(Duration.ofSeconds(10), cmd.toArray(String[]::new));
  }

  static String ok(ExecResult r) {
    assertThat(r.ok()).as(r.describe()).isTrue();
    return r.stdout();
  }

  byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[1500];
    int n = IcmpEcho.writeV4Request(buf, 0, v4(src), v4(dst), 7, seq, new byte[56]);
    return Arrays.copyOf(buf, n);
  }

  static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }

  /** A's TUN to B's TUN; the packet B's TUN got, or null within WAIT. */
  byte[] carry(byte[] pkt) throws InterruptedException {
    assertThat(tunA.inject(pkt)).isTrue();
    return tunB.takeWritten(WAIT);
  }

  Peer peerB() {
    return a.peer(keyB.publicKey());
  }

  Peer routeOf(String ip) {
    byte[] pkt = ping("198.18.225.1", ip, 0);
    return a.route(pkt, 0, pkt.length);
  }

  @Test
  void wgSetOfALowOrderPeerKeyFailsWithInvalidArgumentAndChangesNothing() {
    String before = ok(wg("showconf", ifname));
    ExecResult r = wg("set", ifname, "peer", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "allowed-ips", "198.18.226.0/24");
    assertThat(r.ok()).as(r.describe()).isFalse();
    assertThat(r.stderr()).contains("Invalid argument");
    assertThat(ok(wg("showconf", ifname))).isEqualTo(before);
    assertThat(a.peers()).hasSize(1);
  }

  @Test
  void wgShowShowconfSetAndSyncconfDriveARunningDevice() throws Exception {
    // the socket as wg finds it: root's, 0600
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))).isEqualTo("rw-------");
    assertThat(ok(wg("show", "interfaces")).trim().split("\\s+")).contains(ifname);

    // a real handshake and traffic
    byte[] p1 = ping("198.18.225.1", "198.18.225.2", 1);
    assertThat(carry(p1)).containsExactly(p1);
    long hs = peerB().lastHandshakeWallNanos();
    assertThat(hs).isPositive();

    // wg show <if> dump: device line, then one line per peer, tab-separated
    String[] dump = ok(wg("show", ifname, "dump")).split("\n");
    assertThat(dump).hasSize(2);
    assertThat(dump[0].split("\t")).containsExactly(keyA.toBase64(), keyA.publicKey().toBase64(), "51820", "off");
    String[] pb = dump[1].split("\t");
    assertThat(pb[0]).isEqualTo(keyB.publicKey().toBase64());
    assertThat(pb[1]).isEqualTo("(none)");
    assertThat(pb[2]).isEqualTo("198.18.224.2:51820");
    assertThat(pb[3]).isEqualTo("198.18.225.2/32");
    assertThat(Long.parseLong(pb[4])).isEqualTo(hs / 1_000_000_000L);
    assertThat(Long.parseLong(pb[5])).isLessThanOrEqualTo(peerB().rxBytes()); // nothing came back yet: B's TUN does not answer pings
    assertThat(Long.parseLong(pb[6])).isPositive().isLessThanOrEqualTo(peerB().txBytes()); // counters only grow
    assertThat(pb[7]).isEqualTo("off");

    // wg showconf: what wg-quick strip and syncconf work from
    String conf = ok(wg("showconf", ifname));
    assertThat(conf).contains("[Interface]\nListenPort = 51820\nPrivateKey = " + keyA.toBase64() + "\n")
        .contains("[Peer]\nPublicKey = " + keyB.publicKey().toBase64() + "\nAllowedIPs = 198.18.225.2/32\nEndpoint = 198.18.224.2:51820\n");

    // wg set: allowed IPs take effect on the next packet
    ok(wg("set", ifname, "peer", keyB.publicKey().toBase64(), "allowed-ips", "198.18.225.2/32,198.18.226.0/24"));
    assertThat(routeOf("198.18.226.5")).isSameAs(peerB());
    byte[] p2 = ping("198.18.225.1", "198.18.226.5", 2);
    assertThat(carry(p2)).as("B's TUN gets what now routes to B").containsExactly(p2);
    assertThat(peerB().lastHandshakeWallNanos()).as("the session survived").isEqualTo(hs);

    // wg set: a new peer, then its removal
    PublicKey c = PrivateKey.generate().publicKey();
    ok(wg("set", ifname, "peer", c.toBase64(), "allowed-ips", "198.18.227.0/24", "endpoint", "198.18.224.3:51820",
        "persistent-keepalive", "25"));
    assertThat(a.peer(c)).isNotNull();
    assertThat(a.peer(c).config().persistentKeepaliveSeconds()).isEqualTo(25);
    assertThat(routeOf("198.18.227.1")).isSameAs(a.peer(c));
    ok(wg("set", ifname, "peer", c.toBase64(), "remove"));
    assertThat(a.peer(c)).isNull();
    assertThat(routeOf("198.18.227.1")).isNull();

    // what dctun can't do live is refused, and says so the wg way
    ExecResult port = wg("set", ifname, "listen-port", "51821");
    assertThat(port.ok()).isFalse();
    assertThat(port.stderr()).contains("Invalid argument");

    // wg syncconf with a changed file: B loses 198.18.226.0/24 and gains 198.18.228.0/24; D appears
    PublicKey d = PrivateKey.generate().publicKey();
    Path file = Files.createTempFile("dctun-uapi", ".conf");
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      Files.writeString(file, "[Interface]\nPrivateKey = " + keyA.toBase64() + "\nListenPort = 51820\n\n"
          + "[Peer]\nPublicKey = " + keyB.publicKey().toBase64() + "\nAllowedIPs = 198.18.225.2/32, 198.18.228.0/24\n"
          + "Endpoint = 198.18.224.2:51820\n\n"
          + "[Peer]\nPublicKey = " + d.toBase64() + "\nAllowedIPs = 198.18.226.0/24\n");
      ok(wg("syncconf", ifname, file.toString()));
    } finally {
      Files.deleteIfExists(file);
    }
    assertThat(peerB().config().allowedIps()).containsExactly(Prefix.parse("198.18.225.2/32"), Prefix.parse("198.18.228.0/24"));
    assertThat(routeOf("198.18.226.5")).isSameAs(a.peer(d));
    assertThat(routeOf("198.18.228.5")).isSameAs(peerB());
    assertThat(peerB().lastHandshakeWallNanos()).as("syncconf keeps sessions").isEqualTo(hs);
    byte[] p3 = ping("198.18.225.1", "198.18.228.9", 3);
    assertThat(carry(p3)).containsExactly(p3);
    assertThat(ok(wg("show", ifname, "allowed-ips"))).contains(keyB.publicKey().toBase64() + "\t198.18.225.2/32 198.18.228.0/24")
        .contains(d.toBase64() + "\t198.18.226.0/24");

    // closed: the socket is gone and wg no longer finds the interface
    server.close();
    assertThat(sock).doesNotExist();
    assertThat(wg("show", ifname).ok()).isFalse();
  }
}
