package io.dctun.appliance.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Two sites across a WAN bridge; site B is always a VRRP gateway pair sharing one static key, site
 * A is one gateway or (with {@code pairAtA}) a pair of its own:
 *
 * <pre>
 *  one gateway at A:
 *  srvA 198.18.10.10 -- 198.18.10.1 gwA 198.18.0.1 --|
 *  pair at A (key A, VRIDs 61/62):                     |  bridge "WAN" in namespace wan (198.18.0.254, a probe)
 *     bridge "LAN A" in srvA, 198.18.10.10             |-- 198.18.0.11 gwB1 198.18.20.2 --|
 *       |-- 198.18.10.2 gwA1 198.18.0.21 ------------|-- 198.18.0.12 gwB2 198.18.20.3 --|  bridge "LAN B" in
 *       |-- 198.18.10.3 gwA2 198.18.0.22 ------------|   (key B, VRIDs 51/52)               srvB, 198.18.20.10
 *
 *  site B: public VIP 198.18.0.100/24 (site A's peer endpoint), private VIP 198.18.20.1/24 (srvB's route to A)
 *  site A's pair: public VIP 198.18.0.101/24 (site B's peer endpoint), private VIP 198.18.10.1/24 (srvA's route)
 * </pre>
 *
 * The two public instances share the WAN segment, so site A's VRIDs differ from site B's. With one
 * gateway at A, site B's peer endpoint is gwA's own address 198.18.0.1. Everything is removed on
 * {@link #close()}, also when construction fails half way.
 */
final class HaSites implements AutoCloseable {
  /** Site B's VIPs. */
  static final String PUBLIC_VIP = "198.18.0.100";
  static final String PRIVATE_VIP = "198.18.20.1";
  static final String WAN_B1 = "198.18.0.11";
  static final String WAN_B2 = "198.18.0.12";
  /** Site A's pair (pairAtA only): its VIPs and the boxes' own addresses. */
  static final String PUBLIC_VIP_A = "198.18.0.101";
  static final String PRIVATE_VIP_A = "198.18.10.1";
  static final String WAN_A1 = "198.18.0.21";
  static final String WAN_A2 = "198.18.0.22";
  /** An address on the WAN bridge itself, to measure VIP failover alone (ping a public VIP from here). */
  static final String WAN_PROBE = "198.18.0.254";
  static final int VRID_B_PUBLIC = 51;
  static final int VRID_B_PRIVATE = 52;
  static final int VRID_A_PUBLIC = 61;
  static final int VRID_A_PRIVATE = 62;

  final Topology topology;
  final Path dir;
  final boolean pairAtA;
  /** The namespace that holds the WAN bridge, with {@link #WAN_PROBE} on it. */
  final NetNs wan;
  /** Site A's one gateway; null with a pair at A. */
  final NetNs gwA;
  /** Site A's pair; null with one gateway at A. */
  final NetNs gwA1;
  final NetNs gwA2;
  final NetNs srvA;
  final NetNs gwB1;
  final NetNs gwB2;
  final NetNs srvB;
  /** The WAN bridge (in {@link #wan}), site B's LAN bridge (in srvB), site A's (in srvA; pairAtA only). */
  final String wanBridge;
  final String lanBridge;
  final String lanBridgeA;
  /**
   * How long a {@code dctun up} may take to write its first status (a bound, not a delay): a
   * test that starts several JVMs at once on a busy machine raises it.
   */
  Duration launchTimeout = Duration.ofSeconds(30);
  /**
   * How a box's {@code dctun up} starts: from its label and the arguments after {@code dctun} (
   * {@code up -c FILE --status-file FILE}), the argument vector run in its namespace. By default
   * this module's classes in a JVM like the test's own ({@link #inTestJvm}).
   */
  java.util.function.BiFunction<String, List<String>, List<String>> upCommand = (label, args) -> inTestJvm(args);
  /** Every {@code dctun up} started, for {@link #close()}. */
  private final List<Spawned> gateways = new ArrayList<>();
  /** Set (before starting site B's boxes) to give site B's private side an IPv6 VIP too. */
  String privateVip6B;
  /** Site A's pair's interfaces (in gwA1 / gwA2; pairAtA only). */
  final String wanA1;
  final String lanA1;
  final String wanA2;
  final String lanA2;
  final String wanB1;
  final String lanB1;
  final String wanB2;
  final String lanB2;
  final PrivateKey keyA = PrivateKey.generate();
  final PrivateKey keyB = PrivateKey.generate();
  final Path keyFileA;
  final Path keyFileB;

  /** One gateway at site A, a pair at site B. */
  HaSites() {
    this(false);
  }

  /** A pair at site B; at site A a pair too if {@code pairAtA}, else one gateway. */
  HaSites(boolean pairAtA) {
    this(pairAtA, "");
  }

  /** As above, every namespace's label starting with {@code prefix} (an engineer's or a test's own). */
  HaSites(boolean pairAtA, String prefix) {
    this(pairAtA, prefix, new Topology());
  }

  /**
   * As above, on {@code topology}'s names: with {@code new Topology("pg")} every namespace and
   * interface name starts with that prefix. The sites own the topology and close it.
   */
  HaSites(boolean pairAtA, Topology topology) {
    this(pairAtA, "", topology);
  }

  private HaSites(boolean pairAtA, String prefix, Topology topology) {
    this.topology = topology;
    this.pairAtA = pairAtA;
    try {
      dir = Files.createTempDirectory("dctun-ha-" + topology.id());
      topology.own(() -> {
        try (var s = Files.walk(dir)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      });
      wan = topology.namespace(prefix + "wan");
      srvA = topology.namespace(prefix + "srvA");
      srvB = topology.namespace(prefix + "srvB");
      gwB1 = topology.namespace(prefix + "gwB1");
      gwB2 = topology.namespace(prefix + "gwB2");
      wanBridge = topology.bridge(wan);
      wan.addAddress(wanBridge, WAN_PROBE + "/24");
      lanBridge = topology.bridge(srvB);
      srvB.addAddress(lanBridge, Sites.SRV_B + "/24");
      List<NetNs> gateways = new ArrayList<>();
      if (pairAtA) {
        gwA = null;
        gwA1 = topology.namespace(prefix + "gwA1");
        gwA2 = topology.namespace(prefix + "gwA2");
        lanBridgeA = topology.bridge(srvA);
        srvA.addAddress(lanBridgeA, Sites.SRV_A + "/24");
        wanA1 = wanLink(gwA1, WAN_A1);
        wanA2 = wanLink(gwA2, WAN_A2);
        lanA1 = lanLink(srvA, lanBridgeA, gwA1, "198.18.10.2");
        lanA2 = lanLink(srvA, lanBridgeA, gwA2, "198.18.10.3");
        gateways.addAll(List.of(gwA1, gwA2));
      } else {
        gwA = topology.namespace(prefix + "gwA");
        gwA1 = null;
        gwA2 = null;
        lanBridgeA = null;
        wanA1 = null;
        wanA2 = null;
        lanA1 = null;
        lanA2 = null;
        topology.veth(srvA, Sites.SRV_A + "/24", gwA, "198.18.10.1/24");
        wanLink(gwA, Sites.WAN_A);
        gateways.add(gwA);
      }
      wanB1 = wanLink(gwB1, WAN_B1);
      wanB2 = wanLink(gwB2, WAN_B2);
      lanB1 = lanLink(srvB, lanBridge, gwB1, "198.18.20.2");
      lanB2 = lanLink(srvB, lanBridge, gwB2, "198.18.20.3");
      gateways.addAll(List.of(gwB1, gwB2));
      for (NetNs n : gateways) {
        n.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
      }
      List<NetNs> all = new ArrayList<>(gateways);
      all.addAll(List.of(wan, srvA, srvB));
      for (NetNs n : all) {
        n.run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
      }
      srvA.run("ip", "route", "add", Sites.LAN_B, "via", pairAtA ? PRIVATE_VIP_A : "198.18.10.1");
      srvB.run("ip", "route", "add", Sites.LAN_A, "via", PRIVATE_VIP);
      List<String> wanAddresses = pairAtA ? List.of(WAN_A1, WAN_A2, WAN_B1, WAN_B2)
          : List.of(Sites.WAN_A, WAN_B1, WAN_B2);
      for (String a : wanAddresses) {
        wan.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", a);
      }
      keyFileA = dir.resolve("gwA.key");
      KeyFiles.writePrivateKey(keyFileA, keyA);
      keyFileB = dir.resolve("gwB.key");
      KeyFiles.writePrivateKey(keyFileB, keyB);
    } catch (IOException e) {
      topology.close();
      throw new UncheckedIOException(e);
    } catch (RuntimeException | Error e) {
      try {
        topology.close();
      } catch (RuntimeException c) {
        e.addSuppressed(c);
      }
      throw e;
    }
  }

  /** A veth from the WAN bridge to {@code gw}, {@code address}/24 on gw's end; returns that end's name. */
  private String wanLink(NetNs gw, String address) {
    Topology.Veth v = topology.veth(wan, null, gw, address + "/24");
    topology.attach(wan, v.ifA(), wanBridge);
    return v.ifB();
  }

  /** A veth from {@code bridge} in {@code srv} to {@code gw}, {@code address}/24 on gw's end. */
  private String lanLink(NetNs srv, String bridge, NetNs gw, String address) {
    Topology.Veth v = topology.veth(srv, null, gw, address + "/24");
    topology.attach(srv, v.ifA(), bridge);
    return v.ifB();
  }

  // ------------------------------------------------------------------ dctun gateways

  /** A {@code dctun up} process and its status file. */
  record Gw(String label, NetNs ns, String tun, Path statusFile, Spawned process) {
    Map<String, String> status() {
      Map<String, String> m = new LinkedHashMap<>();
      try {
        for (String line : Files.readString(statusFile).split("\n")) {
          int sp = line.indexOf(' ');
          if (sp > 0) {
            m.put(line.substring(0, sp), line.substring(sp + 1).strip());
          }
        }
      } catch (IOException e) {
        // not written yet
      }
      return m;
    }

    String haState() {
      return status().getOrDefault("ha.dctun-public.state", "?");
    }

    /** A status counter ({@code ha.takeovers}, {@code drop.DECRYPT_FAILED}, ...); fails if absent. */
    long counter(String key) {
      String v = status().get(key);
      if (v == null) {
        throw new AssertionError(label + ": no " + key + " in status\n" + describe());
      }
      return Long.parseLong(v);
    }

    /** This box's IPv4 addresses, one {@code ip -o addr} line each. */
    String addresses() {
      return ns.exec("ip", "-4", "-o", "addr").stdout();
    }

    /** Waits until the public instance's state is {@code state}; fails with the log otherwise. */
    void awaitHaState(String state, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
        if (state.equals(haState())) {
          return;
        }
        if (!process.isAlive()) {
          break;
        }
        Sites.sleep(100);
      }
      throw new AssertionError(label + " not " + state + " within " + timeout + "; status " + status() + "\n"
          + process.describe());
    }

    String describe() {
      return process.describe() + "\nstatus: " + status();
    }
  }

  /** Site A's one gateway (not with a pair at A). */
  Gw startGwA() {
    return startGwA("");
  }

  /** As above, with {@code topExtra} appended at the top level (e.g. a firewall section). */
  Gw startGwA(String topExtra) {
    if (pairAtA) {
      throw new IllegalStateException("site A is a pair: startGwA(box, priority, advertMillis)");
    }
    String tun = topology.ifName("dta");
    StringBuilder y = new StringBuilder();
    y.append("interface: ").append(tun).append('\n');
    y.append("private-key-file: ").append(keyFileA).append('\n');
    y.append("listen-port: ").append(Sites.PORT).append('\n');
    y.append("addresses: [").append(Sites.TUN_A).append("/24]\n");
    y.append("peers:\n");
    y.append("  - name: siteB\n");
    y.append("    public-key: ").append(keyB.publicKey().toBase64()).append('\n');
    y.append("    endpoint: ").append(PUBLIC_VIP).append(':').append(Sites.PORT).append('\n');
    y.append("    allowed-ips: [").append(Sites.LAN_B).append(", ").append(Sites.TUN_B).append("/32]\n");
    y.append(topExtra);
    return launch(gwA, "gwA", tun, y.toString());
  }

  /** One box of site A's pair (pairAtA only): key A, its own WAN and LAN A interfaces, VRIDs 61/62. */
  Gw startGwA(int box, int priority, int advertMillis) {
    return startGwA(box, priority, advertMillis, "", "");
  }

  /** As above, with {@code haExtra} inside the {@code ha:} section and {@code topExtra} at the top level. */
  Gw startGwA(int box, int priority, int advertMillis, String haExtra, String topExtra) {
    if (!pairAtA) {
      throw new IllegalStateException("site A has one gateway: startGwA()");
    }
    String tun = topology.ifName("dta" + box);
    String yaml = pairMember(tun, keyFileA, Sites.TUN_A, "siteB", keyB, PUBLIC_VIP, Sites.LAN_B, Sites.TUN_B,
        priority, advertMillis, box == 1 ? wanA1 : wanA2, VRID_A_PUBLIC, PUBLIC_VIP_A,
        box == 1 ? lanA1 : lanA2, VRID_A_PRIVATE, PRIVATE_VIP_A, "", haExtra, topExtra);
    return launch(box == 1 ? gwA1 : gwA2, "gwA" + box, tun, yaml);
  }

  /** One box of site B's pair: the same key file, its own WAN and LAN interfaces. */
  Gw startGwB(int box, int priority, int advertMillis) {
    return startGwB(box, priority, advertMillis, "", "");
  }

  /**
   * As above, with {@code haExtra} appended inside the {@code ha:} section (two-space indent) and
   * {@code topExtra} at the top level (e.g. a firewall section).
   */
  Gw startGwB(int box, int priority, int advertMillis, String haExtra, String topExtra) {
    String tun = topology.ifName("dtb" + box);
    String yaml = pairMember(tun, keyFileB, Sites.TUN_B, "siteA", keyA, pairAtA ? PUBLIC_VIP_A : Sites.WAN_A,
        Sites.LAN_A, Sites.TUN_A, priority, advertMillis, box == 1 ? wanB1 : wanB2, VRID_B_PUBLIC, PUBLIC_VIP,
        box == 1 ? lanB1 : lanB2, VRID_B_PRIVATE, PRIVATE_VIP,
        privateVip6B == null ? "" : "    vip6: " + privateVip6B + "/64\n", haExtra, topExtra);
    return launch(box == 1 ? gwB1 : gwB2, "gwB" + box, tun, yaml);
  }

  /** The configuration of one box of a pair, whose one peer is the other site at {@code peerEndpoint}. */
  private static String pairMember(String tun, Path keyFile, String tunAddress, String peerName, PrivateKey peerKey,
      String peerEndpoint, String peerLan, String peerTun, int priority, int advertMillis, String wanIf,
      int publicVrid, String publicVip, String lanIf, int privateVrid, String privateVip, String privateExtra,
      String haExtra, String topExtra) {
    StringBuilder y = new StringBuilder();
    y.append("interface: ").append(tun).append('\n');
    y.append("private-key-file: ").append(keyFile).append('\n');
    y.append("listen-port: ").append(Sites.PORT).append('\n');
    y.append("addresses: [").append(tunAddress).append("/24]\n");
    y.append("peers:\n");
    y.append("  - name: ").append(peerName).append('\n');
    y.append("    public-key: ").append(peerKey.publicKey().toBase64()).append('\n');
    y.append("    endpoint: ").append(peerEndpoint).append(':').append(Sites.PORT).append('\n');
    y.append("    allowed-ips: [").append(peerLan).append(", ").append(peerTun).append("/32]\n");
    y.append("ha:\n");
    y.append("  priority: ").append(priority).append('\n');
    y.append("  advert-interval: ").append(advertMillis).append('\n');
    y.append("  public:\n");
    y.append("    interface: ").append(wanIf).append('\n');
    y.append("    vrid: ").append(publicVrid).append('\n');
    y.append("    vip: ").append(publicVip).append("/24\n");
    y.append("  private:\n");
    y.append("    interface: ").append(lanIf).append('\n');
    y.append("    vrid: ").append(privateVrid).append('\n');
    y.append("    vip: ").append(privateVip).append("/24\n");
    y.append(privateExtra);
    y.append("  track:\n");
    y.append("    peer-handshake: {within: 200, weight: 50}\n");
    y.append(haExtra);
    y.append(topExtra);
    return y.toString();
  }

  /**
   * Turns IPv6 on in site B (its two gateways and srvB, duplicate address detection off so the
   * link-local addresses are usable at once) for an IPv6 private VIP, and waits until each LAN
   * interface has its link-local address.
   */
  void enableIpv6AtSiteB() {
    gwB1.enableIpv6WithoutDad(lanB1);
    gwB2.enableIpv6WithoutDad(lanB2);
    srvB.enableIpv6WithoutDad(lanBridge);
    try {
      gwB1.awaitLinkLocal(lanB1);
      gwB2.awaitLinkLocal(lanB2);
      srvB.awaitLinkLocal(lanBridge);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for link-local addresses", e);
    }
  }

  Gw launch(NetNs ns, String label, String tun, String yaml) {
    try {
      Path cfg = dir.resolve(label + ".yaml");
      Files.writeString(cfg, yaml);
      Path status = dir.resolve(label + ".status");
      List<String> cmd = upCommand.apply(label, List.of("up", "-c", cfg.toString(), "--status-file",
          status.toString()));
      Spawned p = ns.spawn(cmd.toArray(String[]::new));
      synchronized (gateways) {
        gateways.add(p);
      }
      Gw gw = new Gw(label, ns, tun, status, p);
      long deadline = System.nanoTime() + launchTimeout.toNanos();
      while (System.nanoTime() < deadline) {
        if (!p.isAlive()) {
          throw new AssertionError(label + " exited\n" + p.describe());
        }
        if (gw.status().containsKey("listen")) {
          return gw;
        }
        Sites.sleep(50);
      }
      throw new AssertionError(label + " not up within " + launchTimeout + "\n" + p.describe());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code java ... io.dctun.appliance.Main ARGS} on the test's class path. */
  static List<String> inTestJvm(List<String> args) {
    List<String> cmd = new ArrayList<>(Sites.javaCommand());
    cmd.add("io.dctun.appliance.Main");
    cmd.addAll(args);
    return cmd;
  }

  // ------------------------------------------------------------------ measurements

  /** {@code ping -D -i 0.01} for {@code count} packets, started now. */
  Spawned ping(NetNs from, String dst, int count) {
    return from.spawn("ping", "-n", "-D", "-i", "0.01", "-c", Integer.toString(count), "-w",
        Integer.toString(count / 100 + 30), dst);
  }

  /** The result of one ping run: the longest gap in answered sequence numbers. */
  record Outage(int sent, int answered, int lost, double outageMillis, int firstLostSeq, int firstAnsweredSeq) {
    @Override
    public String toString() {
      return String.format("outage %.0f ms (%d of %d pings lost, seq %d..%d)", outageMillis, lost, sent,
          firstLostSeq, firstAnsweredSeq - 1);
    }
  }

  private static final Pattern REPLY = Pattern.compile(
      "^\\[(\\d+\\.\\d+)\\] \\d+ bytes from [^:]+: icmp_seq=(\\d+) .*time=([0-9.]+) ms(?! .*DUP)", Pattern.MULTILINE);
  private static final Pattern SENT = Pattern.compile("(\\d+) packets transmitted, (\\d+) (?:packets )?received");

  /**
   * The outage from the first lost ping to the first answered one after it: the answer's arrival
   * time minus the lost ping's send time (send times are reply time minus RTT; a lost ping's is
   * interpolated from the last answered one's at the mean send interval).
   */
  static Outage outage(String output) {
    TreeMap<Integer, double[]> replies = new TreeMap<>();
    Matcher m = REPLY.matcher(output);
    while (m.find()) {
      double ts = Double.parseDouble(m.group(1));
      double rtt = Double.parseDouble(m.group(3)) / 1000;
      replies.putIfAbsent(Integer.parseInt(m.group(2)), new double[] {ts - rtt, ts});
    }
    Matcher s = SENT.matcher(output);
    int sent = s.find() ? Integer.parseInt(s.group(1)) : -1;
    if (replies.size() < 2) {
      return new Outage(sent, replies.size(), sent - replies.size(), Double.NaN, -1, -1);
    }
    int firstSeq = replies.firstKey();
    int lastSeq = replies.lastKey();
    double interval = (replies.lastEntry().getValue()[0] - replies.firstEntry().getValue()[0]) / (lastSeq - firstSeq);
    int bestFrom = -1;
    int bestTo = -1;
    Integer prev = null;
    for (int seq : replies.keySet()) {
      if (prev != null && seq - prev > 1 && (bestFrom < 0 || seq - prev > bestTo - bestFrom)) {
        bestFrom = prev;
        bestTo = seq;
      }
      prev = seq;
    }
    if (bestFrom < 0) {
      return new Outage(sent, replies.size(), sent - replies.size(), 0, -1, -1);
    }
    double firstLostSent = replies.get(bestFrom)[0] + interval;
    double answered = replies.get(bestTo)[1];
    return new Outage(sent, replies.size(), sent - replies.size(), (answered - firstLostSent) * 1000, bestFrom + 1,
        bestTo);
  }

  Sites.Payload payload(long size) {
    return Sites.payload(dir, size);
  }

  /** A paced TCP transfer srvA -> srvB (socat), running in the background. */
  final class Transfer {
    final Spawned receiver;
    final Spawned sender;
    final Sites.Payload payload;

    Transfer(Sites.Payload payload, int bytesPerSecond, int port) {
      this.payload = payload;
      receiver = srvB.spawn("bash", "-c", "set -o pipefail; socat -u TCP-LISTEN:" + port + ",bind=" + Sites.SRV_B
          + ",reuseaddr STDOUT | sha256sum; echo rc=$?");
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (System.nanoTime() < deadline && srvB.exec("ss", "-H", "-ltn", "sport = :" + port).stdout().isBlank()) {
        Sites.sleep(20);
      }
      Path pacer = dir.resolve("pace.py");
      try {
        Files.writeString(pacer, String.join("\n",
            "import sys, time",
            "f = open(sys.argv[1], 'rb'); rate = int(sys.argv[2]); out = sys.stdout.buffer",
            "t0 = time.time(); sent = 0",
            "while True:",
            "    b = f.read(32768)",
            "    if not b: break",
            "    out.write(b); out.flush(); sent += len(b)",
            "    d = t0 + sent / rate - time.time()",
            "    if d > 0: time.sleep(d)",
            ""));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      sender = srvA.spawn("bash", "-c", "set -o pipefail; /usr/bin/python3 " + pacer + " " + payload.file() + " "
          + bytesPerSecond + " | socat -u STDIN TCP:" + Sites.SRV_B + ":" + port + ",connect-timeout=5; echo rc=$?");
    }

    /** Waits for both ends; asserts exit 0 on both (no reset) and the receiver's SHA-256. */
    void assertComplete(Duration timeout, Object context) throws InterruptedException {
      boolean s = sender.process().waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      boolean r = receiver.process().waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(s && r).as("transfer finished\n%s\n%s\n%s", sender.describe(), receiver.describe(), context).isTrue();
      assertThat(sender.output()).as("sender: no reset, exit 0\n%s", sender.describe()).contains("rc=0")
          .doesNotContain("reset");
      assertThat(receiver.output()).as("receiver exit 0\n%s", receiver.describe()).contains("rc=0");
      assertThat(receiver.output()).as("SHA-256 of %d bytes at srvB", payload.size()).contains(payload.sha256());
    }
  }

  /**
   * Stops the gateways first (they write status files into {@link #dir} every second, which
   * would race its removal), then removes everything else.
   */
  @Override
  public void close() {
    RuntimeException failure = null;
    List<Spawned> started;
    synchronized (gateways) {
      started = new ArrayList<>(gateways);
    }
    for (int i = started.size() - 1; i >= 0; i--) {
      try {
        started.get(i).close();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    try {
      topology.close();
    } catch (RuntimeException e) {
      if (failure != null) {
        e.addSuppressed(failure);
      }
      throw e;
    }
    if (failure != null) {
      throw failure;
    }
  }
}
