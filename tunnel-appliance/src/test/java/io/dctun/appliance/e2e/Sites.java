package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Two sites joined across a WAN, as in the design's test hosts:
 *
 * <pre>
 *  srvA 198.18.10.10 --LAN A-- 198.18.10.1 gwA 198.18.0.1 --WAN-- 198.18.0.2 gwB 198.18.20.1 --LAN B-- 198.18.20.10 srvB
 * </pre>
 *
 * The gateways forward IPv4; the servers route the other site's LAN via their gateway and know
 * nothing of the tunnel. Everything (namespaces, links, gateways, captures, temporary files) is
 * removed on {@link #close()}, also when the test fails.
 */
final class Sites implements AutoCloseable {
  static final String LAN_A = "198.18.10.0/24";
  static final String LAN_B = "198.18.20.0/24";
  static final String SRV_A = "198.18.10.10";
  static final String SRV_B = "198.18.20.10";
  static final String WAN_A = "198.18.0.1";
  static final String WAN_B = "198.18.0.2";
  static final String TUN_A = "198.19.0.1";
  static final String TUN_B = "198.19.0.2";
  static final int PORT = 51820;

  private static final AtomicInteger TCP_PORTS = new AtomicInteger(5001);

  final Topology topology;
  final NetNs gwA;
  final NetNs srvA;
  final NetNs gwB;
  final NetNs srvB;
  /** gwA's and gwB's ends of the WAN veth. */
  final String wanIfA;
  final String wanIfB;
  /** The LAN links: srvA (end A) to gwA (end B), srvB to gwB. */
  final Topology.Veth lanA;
  final Topology.Veth lanB;
  final Path dir;
  /** The {@code mtu:} of the gateways started from now on. */
  int mtu = 1420;

  /** Skips unless root, namespaces, TUN, ping, sysctl and socat are all available. */
  static void assumeRequirements() {
    Requirements.assumeNetNs();
    Requirements.assumeTun();
    Requirements.assumeCommand("ping");
    Requirements.assumeCommand("sysctl");
    Requirements.assumeCommand("ss");
    Requirements.assumeCommand("sha256sum");
    Requirements.assumeCommand("socat"); // Debian package socat
  }

  Sites() {
    this(new Topology());
  }

  /** The two sites on {@code topology}'s names (a team's prefix, say). */
  Sites(Topology topology) {
    this.topology = topology;
    try {
      dir = Files.createTempDirectory("dctun-e2e-" + topology.id());
      topology.own(() -> deleteRecursively(dir));
      gwA = topology.namespace("gwA");
      srvA = topology.namespace("srvA");
      gwB = topology.namespace("gwB");
      srvB = topology.namespace("srvB");
      lanA = topology.veth(srvA, SRV_A + "/24", gwA, "198.18.10.1/24");
      lanB = topology.veth(srvB, SRV_B + "/24", gwB, "198.18.20.1/24");
      Topology.Veth wan = topology.veth(gwA, WAN_A + "/24", gwB, WAN_B + "/24");
      wanIfA = wan.ifA();
      wanIfB = wan.ifB();
      for (NetNs gw : List.of(gwA, gwB)) {
        gw.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
      }
      gwA.run("sysctl", "-q", "-w", "net.ipv6.conf." + wanIfA + ".disable_ipv6=1");
      gwB.run("sysctl", "-q", "-w", "net.ipv6.conf." + wanIfB + ".disable_ipv6=1");
      srvA.run("ip", "route", "add", LAN_B, "via", "198.18.10.1");
      srvB.run("ip", "route", "add", LAN_A, "via", "198.18.20.1");
      gwA.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", WAN_B);
    } catch (IOException e) {
      topology.close();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      try {
        topology.close();
      } catch (RuntimeException s) {
        e.addSuppressed(s);
      }
      throw e;
    }
  }

  // ------------------------------------------------------------------ gateways

  /** One peer of a dctun configuration; endpoint may be null, keepalive 0 for none. */
  record PeerSpec(String name, String publicKey, String endpoint, List<String> allowedIps, int keepalive) {}

  /** A dctun gateway process in a namespace, with its status file. */
  final class Gw {
    final NetNs ns;
    final String label;
    final String tun;
    final PrivateKey key;
    final Path status;
    final Spawned process;

    Gw(NetNs ns, String label, String tun, PrivateKey key, Path status, Spawned process) {
      this.ns = ns;
      this.label = label;
      this.tun = tun;
      this.key = key;
      this.status = status;
      this.process = process;
    }

    String publicKey() {
      return key.publicKey().toBase64();
    }

    /** The last status snapshot, {@code key -> value}; empty if not written yet. */
    Map<String, String> status() {
      Map<String, String> m = new LinkedHashMap<>();
      String text;
      try {
        text = Files.readString(status);
      } catch (java.nio.file.NoSuchFileException e) {
        return m;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      for (String line : text.split("\n")) {
        int sp = line.indexOf(' ');
        if (sp > 0) {
          m.put(line.substring(0, sp), line.substring(sp + 1).strip());
        }
      }
      return m;
    }

    long number(String key) {
      String v = status().get(key);
      return v == null ? -1 : Long.parseLong(v);
    }

    /**
     * Waits (bounded) until the status value {@code key} reaches {@code atLeast}; the status file
     * is rewritten once a second, so a counter read right after traffic may be a second old.
     */
    long awaitNumber(String key, long atLeast, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      long v = number(key);
      for (int i = 0; i < 10_000 && v < atLeast && System.nanoTime() < deadline; i++) {
        sleep(100);
        v = number(key);
      }
      return v;
    }

    long drops(String reason) {
      return number("drop." + reason);
    }

    long latestHandshake(String peer) {
      return number("peer." + peer + ".latest-handshake-unix");
    }

    String endpoint(String peer) {
      return status().get("peer." + peer + ".endpoint");
    }

    /** Waits (bounded) until the status file shows the listening socket. */
    void awaitUp(Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
        if (!process.isAlive()) {
          throw new AssertionError("dctun " + label + " exited before it was up\n" + process.describe());
        }
        if (status().containsKey("listen") && ns.hasLink(tun)) {
          return;
        }
        sleep(50);
      }
      throw new AssertionError("dctun " + label + " not up after " + timeout + "\n" + process.describe());
    }

    /** Waits (bounded) until the status shows a completed handshake with {@code peer}; returns its time. */
    long awaitHandshake(String peer, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
        long t = latestHandshake(peer);
        if (t > 0) {
          return t;
        }
        if (!process.isAlive()) {
          break;
        }
        sleep(100);
      }
      throw new AssertionError("dctun " + label + ": no handshake with " + peer + " within " + timeout
          + "\nstatus: " + status() + "\n" + process.describe());
    }

    /** SIGTERM; asserts the process ended, its TUN interface is gone and the status file removed. */
    void stopAndAssertClean() {
      Process p = process.process();
      p.toHandle().destroy(); // SIGTERM
      boolean exited;
      try {
        exited = p.waitFor(15, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        exited = false;
      }
      String threads = "";
      if (!exited) {
        // Say why before forcing it: a thread dump of the stuck shutdown.
        Path jstack = Path.of(System.getProperty("java.home"), "bin", "jstack");
        threads = Files.isExecutable(jstack)
            ? io.dctun.core.testing.Shell.exec(Duration.ofSeconds(10), jstack.toString(), Long.toString(p.pid())).stdout()
            : "(no jstack)";
        process.stop(Duration.ZERO);
      }
      assertThat(exited).as("dctun %s exits within 15 s of SIGTERM\n%s", label, threads).isTrue();
      assertThat(ns.hasLink(tun)).as("TUN %s of %s left behind after SIGTERM\n%s", tun, label, process.output())
          .isFalse();
      assertThat(Files.exists(status)).as("status file of %s removed on shutdown", label).isFalse();
      assertThat(process.output()).as("log of %s", label).doesNotContain("Exception");
    }

    String describe() {
      return process.describe() + "\nstatus: " + status();
    }
  }

  /** Writes a configuration and key, starts {@code dctun up} in {@code ns} and waits until it is up. */
  Gw startGateway(NetNs ns, String label, PrivateKey key, Integer listenPort, String address,
      List<PeerSpec> peers) {
    return startGateway(ns, label, key, listenPort, address, peers, "");
  }

  /** As above, with {@code extraYaml} (top-level fields) appended to the configuration. */
  Gw startGateway(NetNs ns, String label, PrivateKey key, Integer listenPort, String address,
      List<PeerSpec> peers, String extraYaml) {
    try {
      String tun = topology.ifName("dt" + Character.toLowerCase(label.charAt(label.length() - 1)));
      Path keyFile = dir.resolve(label + ".key");
      KeyFiles.writePrivateKey(keyFile, key);
      StringBuilder y = new StringBuilder();
      y.append("interface: ").append(tun).append('\n');
      y.append("private-key-file: ").append(keyFile).append('\n');
      if (listenPort != null) {
        y.append("listen-port: ").append(listenPort).append('\n');
      }
      y.append("addresses: [").append(address).append("]\n");
      y.append("mtu: ").append(mtu).append('\n');
      y.append("peers:\n");
      for (PeerSpec p : peers) {
        y.append("  - name: ").append(p.name()).append('\n');
        y.append("    public-key: ").append(p.publicKey()).append('\n');
        if (p.endpoint() != null) {
          y.append("    endpoint: ").append(p.endpoint()).append('\n');
        }
        y.append("    allowed-ips: [").append(String.join(", ", p.allowedIps())).append("]\n");
        if (p.keepalive() > 0) {
          y.append("    persistent-keepalive: ").append(p.keepalive()).append('\n');
        }
      }
      y.append(extraYaml);
      Path cfg = dir.resolve(label + ".yaml");
      Files.writeString(cfg, y.toString());
      return launch(ns, label, tun, key, cfg);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts {@code dctun up -c cfg} in {@code ns} (its interface is {@code tun}) and waits until it is up. */
  Gw launch(NetNs ns, String label, String tun, PrivateKey key, Path cfg) {
    Path status = dir.resolve(label + ".status");
    List<String> cmd = new ArrayList<>(javaCommand());
    cmd.addAll(List.of("io.dctun.appliance.Main", "up", "-c", cfg.toString(), "--status-file", status.toString()));
    Spawned p = ns.spawn(cmd.toArray(String[]::new));
    Gw gw = new Gw(ns, label, tun, key, status, p);
    gw.awaitUp(Duration.ofSeconds(20));
    return gw;
  }

  Path dir() {
    return dir;
  }

  Topology topology() {
    return topology;
  }

  /** A key for a gateway started later: lets two configurations name each other. */
  static String publicKeyOf(PrivateKey k) {
    return k.publicKey().toBase64();
  }

  /** {@code java <flags> -cp <test classpath>}: runs a main class of this module in a namespace. */
  static List<String> javaCommand() {
    String java = ProcessHandle.current().info().command().orElseThrow(
        () -> new IllegalStateException("cannot tell this JVM's executable"));
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path")));
    return cmd;
  }

  // ------------------------------------------------------------------ traffic

  /** {@code ping -c 3 -W 2 dst} from {@code from}; asserts it exits 0. */
  static void assertPing(NetNs from, String dst, Object... context) {
    ExecResult r = from.exec(Duration.ofSeconds(25), "ping", "-n", "-c", "3", "-w", "20", dst);
    StringBuilder ctx = new StringBuilder();
    for (Object o : context) {
      ctx.append('\n').append(o instanceof Gw g ? g.describe() : String.valueOf(o));
    }
    assertThat(r.ok()).as("ping %s -> %s\n%s%s", from.name(), dst, r.describe(), ctx).isTrue();
  }

  /** A file of {@code size} pseudo-random bytes in the test directory, and its SHA-256. */
  record Payload(Path file, long size, String sha256) {}

  Payload payload(long size) {
    return payload(dir, size);
  }

  /** Writes {@code size} pseudo-random bytes to {@code dir/payload-SIZE}; shared with {@link HaSites}. */
  static Payload payload(Path dir, long size) {
    Path f = dir.resolve("payload-" + size);
    try (OutputStream out = Files.newOutputStream(f)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      SplittableRandom rnd = new SplittableRandom();
      byte[] buf = new byte[1 << 16];
      long left = size;
      while (left > 0) {
        for (int i = 0; i < buf.length; i += 8) {
          long v = rnd.nextLong();
          for (int j = 0; j < 8; j++) {
            buf[i + j] = (byte) (v >>> (8 * j));
          }
        }
        int n = (int) Math.min(buf.length, left);
        out.write(buf, 0, n);
        md.update(buf, 0, n);
        left -= n;
      }
      return new Payload(f, size, HexFormat.of().formatHex(md.digest()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final Pattern SHA = Pattern.compile("\\b([0-9a-f]{64})\\b");

  /**
   * Sends {@code payload} over TCP from {@code from} to {@code toAddr} (in {@code to}) with socat, and
   * asserts that the receiver's SHA-256 matches. Returns the transfer time.
   */
  Duration assertTcpTransfer(NetNs from, NetNs to, String toAddr, Payload payload, Duration timeout,
      Object... context) {
    int port = TCP_PORTS.getAndIncrement();
    Spawned server = to.spawn("sh", "-c",
        "socat -u TCP-LISTEN:" + port + ",bind=" + toAddr + ",reuseaddr STDOUT | sha256sum");
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      boolean listening = false;
      for (int i = 0; i < 500 && System.nanoTime() < deadline && !listening; i++) {
        listening = !to.exec("ss", "-H", "-ltn", "sport = :" + port).stdout().isBlank();
        if (!listening) {
          sleep(20);
        }
      }
      assertThat(listening).as("socat listening on %s:%d\n%s", toAddr, port, server.describe()).isTrue();
      long t0 = System.nanoTime();
      ExecResult c = from.exec(timeout, "socat", "-u", "FILE:" + payload.file(),
          "TCP:" + toAddr + ":" + port + ",connect-timeout=5");
      StringBuilder ctx = new StringBuilder();
      for (Object o : context) {
        ctx.append('\n').append(o instanceof Gw g ? g.describe() : String.valueOf(o));
      }
      assertThat(c.ok()).as("TCP sender %s -> %s:%d\n%s%s", from.name(), toAddr, port, c.describe(), ctx).isTrue();
      boolean done;
      try {
        done = server.process().waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      assertThat(done).as("receiver finished\n%s", server.describe()).isTrue();
      Matcher m = SHA.matcher(server.output());
      assertThat(m.find()).as("receiver printed a SHA-256\n%s", server.describe()).isTrue();
      assertThat(m.group(1)).as("SHA-256 of %d bytes received at %s", payload.size(), toAddr)
          .isEqualTo(payload.sha256());
      return took;
    } finally {
      server.close();
    }
  }

  // ------------------------------------------------------------------ captures

  /** A tcpdump writing to a file, started and known to be listening. */
  final class Capture {
    final Path file;
    final Spawned process;

    Capture(Path file, Spawned process) {
      this.file = file;
      this.process = process;
    }

    /** Stops tcpdump (SIGTERM flushes the file) unless it has already exited (-c reached). */
    Path stop() {
      try {
        process.process().waitFor(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process.stop(Duration.ofSeconds(5));
      return file;
    }

    /** Waits (bounded) for tcpdump to exit by itself, e.g. after {@code -c}. */
    boolean awaitExit(Duration timeout) {
      try {
        return process.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  /** {@code tcpdump -i IF -w FILE -c maxPackets [filter]} in {@code ns}; waits until it listens. */
  Capture capture(NetNs ns, String ifName, int snaplen, int maxPackets, String filter) {
    Path f = dir.resolve("cap-" + TCP_PORTS.getAndIncrement() + ".pcap");
    List<String> cmd = new ArrayList<>(List.of("tcpdump", "-i", ifName, "-n", "-U", "-Z", "root",
        "-s", Integer.toString(snaplen), "-c", Integer.toString(maxPackets), "-w", f.toString()));
    if (filter != null) {
      cmd.add(filter);
    }
    Spawned p = ns.spawn(cmd.toArray(String[]::new));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    for (int i = 0; i < 500 && System.nanoTime() < deadline; i++) {
      if (p.output().contains("listening on")) {
        return new Capture(f, p);
      }
      if (!p.isAlive()) {
        break;
      }
      sleep(20);
    }
    String d = p.describe();
    p.close();
    throw new AssertionError("tcpdump did not start listening on " + ifName + "\n" + d);
  }

  // ------------------------------------------------------------------ misc

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  private static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Override
  public void close() {
    topology.close();
  }
}
