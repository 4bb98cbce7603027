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
 * Site A with one gateway, site B with a VRRP gateway pair sharing one static key:
 *
 * <pre>
 *  srvA 198.18.10.10 -- 198.18.10.1 gwA 198.18.0.1 (bridge "WAN", in gwA)
 *                                          |-- 198.18.0.11 gwB1 198.18.20.2 --|
 *                                          |-- 198.18.0.12 gwB2 198.18.20.3 --|  bridge "LAN B" in srvB, 198.18.20.10
 *  public VIP 198.18.0.100/24 (gwA's peer endpoint), private VIP 198.18.20.1/24 (srvB's route to site A)
 * </pre>
 *
 * Everything is removed on {@link #close()}.
 */
final class HaSites implements AutoCloseable {
  static final String PUBLIC_VIP = "198.18.0.100";
  static final String PRIVATE_VIP = "198.18.20.1";
  static final String WAN_B1 = "198.18.0.11";
  static final String WAN_B2 = "198.18.0.12";

  final Topology topology = new Topology();
  final Path dir;
  final NetNs gwA;
  final NetNs srvA;
  final NetNs gwB1;
  final NetNs gwB2;
  final NetNs srvB;
  final String wanB1;
  /** The WAN bridge (in gwA) and site B's LAN bridge (in srvB). */
  final String wanBridge;
  final String lanBridge;
  final String lanB1;
  final String wanB2;
  final String lanB2;
  final PrivateKey keyA = PrivateKey.generate();
  final PrivateKey keyB = PrivateKey.generate();
  final Path keyFileB;

  HaSites() {
    try {
      dir = Files.createTempDirectory("dctun-ha-" + topology.id());
      topology.own(() -> {
        try (var s = Files.walk(dir)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      });
      gwA = topology.namespace("gwA");
      srvA = topology.namespace("srvA");
      gwB1 = topology.namespace("gwB1");
      gwB2 = topology.namespace("gwB2");
      srvB = topology.namespace("srvB");
      topology.veth(srvA, Sites.SRV_A + "/24", gwA, "198.18.10.1/24");
      String wan = topology.bridge(gwA);
      gwA.addAddress(wan, Sites.WAN_A + "/24");
      String lan = topology.bridge(srvB);
      srvB.addAddress(lan, Sites.SRV_B + "/24");
      Topology.Veth w1 = topology.veth(gwA, null, gwB1, WAN_B1 + "/24");
      Topology.Veth w2 = topology.veth(gwA, null, gwB2, WAN_B2 + "/24");
      Topology.Veth l1 = topology.veth(srvB, null, gwB1, "198.18.20.2/24");
      Topology.Veth l2 = topology.veth(srvB, null, gwB2, "198.18.20.3/24");
      topology.attach(gwA, w1.ifA(), wan);
      topology.attach(gwA, w2.ifA(), wan);
      topology.attach(srvB, l1.ifA(), lan);
      topology.attach(srvB, l2.ifA(), lan);
      wanBridge = wan;
      lanBridge = lan;
      wanB1 = w1.ifB();
      wanB2 = w2.ifB();
      lanB1 = l1.ifB();
      lanB2 = l2.ifB();
      for (NetNs n : List.of(gwA, gwB1, gwB2)) {
        n.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
      }
      for (NetNs n : List.of(gwA, gwB1, gwB2, srvA, srvB)) {
        n.run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
      }
      srvA.run("ip", "route", "add", Sites.LAN_B, "via", "198.18.10.1");
      srvB.run("ip", "route", "add", Sites.LAN_A, "via", PRIVATE_VIP);
      gwA.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", WAN_B1);
      gwA.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", WAN_B2);
      keyFileB = dir.resolve("gwB.key");
      KeyFiles.writePrivateKey(keyFileB, keyB);
    } catch (IOException e) {
      topology.close();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      topology.close();
      throw e;
    }
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

  Gw startGwA() {
    String tun = topology.ifName("dta");
    StringBuilder y = new StringBuilder();
    Path key = dir.resolve("gwA.key");
    try {
      KeyFiles.writePrivateKey(key, keyA);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    y.append("interface: ").append(tun).append('\n');
    y.append("private-key-file: ").append(key).append('\n');
    y.append("listen-port: ").append(Sites.PORT).append('\n');
    y.append("addresses: [").append(Sites.TUN_A).append("/24]\n");
    y.append("peers:\n");
    y.append("  - name: siteB\n");
    y.append("    public-key: ").append(keyB.publicKey().toBase64()).append('\n');
    y.append("    endpoint: ").append(PUBLIC_VIP).append(':').append(Sites.PORT).append('\n');
    y.append("    allowed-ips: [").append(Sites.LAN_B).append(", ").append(Sites.TUN_B).append("/32]\n");
    return launch(gwA, "gwA", tun, y.toString());
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
    NetNs ns = box == 1 ? gwB1 : gwB2;
    String tun = topology.ifName("dtb" + box);
    StringBuilder y = new StringBuilder();
    y.append("interface: ").append(tun).append('\n');
    y.append("private-key-file: ").append(keyFileB).append('\n');
    y.append("listen-port: ").append(Sites.PORT).append('\n');
    y.append("addresses: [").append(Sites.TUN_B).append("/24]\n");
    y.append("peers:\n");
    y.append("  - name: siteA\n");
    y.append("    public-key: ").append(keyA.publicKey().toBase64()).append('\n');
    y.append("    endpoint: ").append(Sites.WAN_A).append(':').append(Sites.PORT).append('\n');
    y.append("    allowed-ips: [").append(Sites.LAN_A).append(", ").append(Sites.TUN_A).append("/32]\n");
    y.append("ha:\n");
    y.append("  priority: ").append(priority).append('\n');
    y.append("  advert-interval: ").append(advertMillis).append('\n');
    y.append("  public:\n");
    y.append("    interface: ").append(box == 1 ? wanB1 : wanB2).append('\n');
    y.append("    vrid: 51\n");
    y.append("    vip: ").append(PUBLIC_VIP).append("/24\n");
    y.append("  private:\n");
    y.append("    interface: ").append(box == 1 ? lanB1 : lanB2).append('\n');
    y.append("    vrid: 52\n");
    y.append("    vip: ").append(PRIVATE_VIP).append("/24\n");
    y.append("  track:\n");
    y.append("    peer-handshake: {within: 200, weight: 50}\n");
    y.append(haExtra);
    y.append(topExtra);
    return launch(ns, "gwB" + box, tun, y.toString());
  }

  Gw launch(NetNs ns, String label, String tun, String yaml) {
    try {
      Path cfg = dir.resolve(label + ".yaml");
      Files.writeString(cfg, yaml);
      Path status = dir.resolve(label + ".status");
      List<String> cmd = new ArrayList<>(Sites.javaCommand());
      cmd.addAll(List.of("io.dctun.appliance.Main", "up", "-c", cfg.toString(), "--status-file", status.toString()));
      Spawned p = ns.spawn(cmd.toArray(String[]::new));
      Gw gw = new Gw(label, ns, tun, status, p);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        if (!p.isAlive()) {
          throw new AssertionError(label + " exited\n" + p.describe());
        }
        if (gw.status().containsKey("listen")) {
          return gw;
        }
        Sites.sleep(50);
      }
      throw new AssertionError(label + " not up within 30 s\n" + p.describe());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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

  @Override
  public void close() {
    topology.close();
  }
}
