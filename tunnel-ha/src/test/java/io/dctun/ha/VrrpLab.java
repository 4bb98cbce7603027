package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Shell;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The namespaces, processes and files of one VRRP interop run: a dctun router ("dct") and a
 * keepalived router ("kad"), each on a veth whose other end is on a bridge in a third
 * namespace ("sw"), which also captures. Everything goes on {@link #close()}, also on failure.
 * The IPv4 and IPv6 tests add their addresses, VIPs and capture filters.
 */
abstract class VrrpLab implements AutoCloseable {
  private static final Pattern STATE = Pattern.compile("STATE (\\w+) (\\d+)");

  final Topology t = new Topology();
  final NetNs d;
  final NetNs k;
  final NetNs sw;
  final String ifD;
  final String ifK;
  final String br;
  final Path dir;
  /** The capture on the bridge, or null where tcpdump is missing. */
  Spawned tcpdump;
  private final List<Spawned> started = new ArrayList<>();

  /**
   * @param dCidr dctun's IPv4 address or null, likewise {@code kCidr}
   * @param ipv6 whether IPv6 is on in the three namespaces, with duplicate address detection off
   */
  VrrpLab(String label, String dCidr, String kCidr, boolean ipv6) throws IOException {
    boolean ok = false;
    try {
      dir = Files.createTempDirectory("dctun-" + label + "-" + t.id());
      sw = t.namespace("sw");
      d = t.namespace("dct");
      k = t.namespace("kad");
      if (ipv6) {
        for (NetNs n : List.of(sw, d, k)) {
          n.enableIpv6WithoutDad();
        }
      }
      br = t.bridge(sw);
      Topology.Veth vd = t.veth(d, dCidr, sw, null);
      Topology.Veth vk = t.veth(k, kCidr, sw, null);
      t.attach(sw, vd.ifB(), br);
      t.attach(sw, vk.ifB(), br);
      ifD = vd.ifA();
      ifK = vk.ifA();
      ok = true;
    } finally {
      if (!ok) {
        close();
      }
    }
  }

  /** Starts tcpdump on the bridge with this filter (link-layer headers shown). */
  void capture(String filter) {
    tcpdump = sw.spawn("tcpdump", "-l", "-n", "-e", "-i", br, filter);
  }

  /** {@link VrrpMain} with these arguments, as its own process in {@code ns}. */
  Spawned startVrrpMain(NetNs ns, String... args) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        VrrpMain.class.getName()));
    cmd.addAll(List.of(args));
    Spawned s = ns.spawn(cmd.toArray(String[]::new));
    started.add(s);
    return s;
  }

  /** keepalived in the "kad" namespace with one {@code vrrp_instance} whose body lines are given. */
  Spawned startKeepalived(String... instanceLines) throws IOException {
    Path conf = dir.resolve("keepalived.conf");
    List<String> c = new ArrayList<>(List.of("global_defs {", "  router_id kad" + t.id(), "  vrrp_version 3", "}",
        "vrrp_instance VI_" + t.id() + " {", "  state BACKUP", "  interface " + ifK));
    for (String l : instanceLines) {
      if (!l.isEmpty()) {
        c.add("  " + l);
      }
    }
    c.add("}");
    c.add("");
    Files.writeString(conf, String.join("\n", c));
    Spawned s = k.spawn("keepalived", "-n", "-l", "-D", "-G", "-P", "-f", conf.toString(),
        "-p", dir.resolve("k.pid").toString(), "-r", dir.resolve("k-vrrp.pid").toString(),
        "-c", dir.resolve("k-checkers.pid").toString());
    started.add(s);
    return s;
  }

  /**
   * keepalived's statistics: SIGUSR2 makes it write /tmp/keepalived.stats; returns "Section.Key"
   * -> value (e.g. "Advertisements.Received", "Packet Errors.TTL").
   */
  Map<String, Long> keepalivedStats() throws IOException, InterruptedException {
    Path stats = Path.of("/tmp/keepalived.stats");
    Files.deleteIfExists(stats);
    long pid = Long.parseLong(Files.readString(dir.resolve("k.pid")).strip());
    Shell.run("kill", "-USR2", Long.toString(pid));
    long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    Map<String, Long> out = new LinkedHashMap<>();
    while (System.nanoTime() < end) {
      if (Files.exists(stats) && Files.readString(stats).contains("Priority Zero")) {
        String section = "";
        for (String line : Files.readAllLines(stats)) {
          String s = line.strip();
          if (s.endsWith(":")) {
            section = s.substring(0, s.length() - 1);
          } else if (s.matches("[A-Za-z ]+: \\d+")) {
            int c = s.indexOf(':');
            out.put(section + "." + s.substring(0, c), Long.parseLong(s.substring(c + 2)));
          }
        }
        return out;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("keepalived wrote no statistics within 5 s");
  }

  /** keepalived's own counters show our adverts received and none counted as an error. */
  void assertKeepalivedAcceptedOurAdverts() throws IOException, InterruptedException {
    Map<String, Long> ks = keepalivedStats();
    assertThat(ks.get("Advertisements.Received")).as("keepalived stats %s", ks).isGreaterThan(5);
    assertThat(ks.entrySet().stream().filter(e -> e.getKey().contains("Errors.")).mapToLong(Map.Entry::getValue)
        .sum()).as("keepalived packet/authentication errors %s", ks).isZero();
  }

  /** Waits for dctun's {@code n}-th "STATE X" line; returns dctun's own nanoTime of it. */
  long awaitDctun(Spawned s, String state, int n, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      Matcher m = STATE.matcher(s.output());
      int seen = 0;
      while (m.find()) {
        if (m.group(1).equals(state) && ++seen == n) {
          return Long.parseLong(m.group(2)); // CLOCK_MONOTONIC, comparable across processes
        }
      }
      if (!s.isAlive()) {
        break;
      }
      Thread.sleep(5);
    }
    throw new AssertionError("dctun did not enter " + state + " (#" + n + ") within " + timeout
        + "\n" + s.describe() + "\n" + describe());
  }

  /** Waits until {@code needle} has appeared {@code n} times; returns when it was seen. */
  long awaitLog(Spawned s, String needle, int n, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      if (KeepalivedInteropTest.count(s.output(), needle) >= n) {
        return System.nanoTime();
      }
      Thread.sleep(5);
    }
    throw new AssertionError("'" + needle + "' (#" + n + ") not seen within " + timeout + "\n"
        + s.describe() + "\n" + describe());
  }

  /** Waits (up to 3 s: tcpdump's output arrives through a pipe) until the capture shows {@code line}. */
  void awaitWire(String line) throws InterruptedException {
    for (int i = 0; i < 150; i++) {
      if (tcpdump.output().contains(line)) {
        return;
      }
      Thread.sleep(20);
    }
    assertThat(tcpdump.output()).as("capture on the bridge").contains(line);
  }

  /** Whether the VIP is on {@code dev} in {@code ns}. */
  abstract boolean hasVip(NetNs ns, String dev);

  void awaitVip(NetNs ns, String dev, boolean present) throws InterruptedException {
    for (int i = 0; i < 300; i++) {
      if (hasVip(ns, dev) == present) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("VIP " + (present ? "not added" : "not removed") + " on " + dev
        + " in " + ns + "\n" + describe());
  }

  /** What to show of the namespaces when something fails: addresses, processes, the capture. */
  String describe() {
    StringBuilder sb = new StringBuilder();
    for (NetNs ns : List.of(d, k)) {
      sb.append(ns).append(": ").append(ns.exec("ip", "-o", "addr").stdout());
    }
    sb.append("bridge namespace neighbours: ").append(sw.exec("ip", "neigh").stdout()).append('\n');
    for (Spawned s : started) {
      sb.append(s.describe()).append('\n');
    }
    if (tcpdump != null) {
      sb.append("--- wire ---\n").append(tcpdump.output());
    }
    return sb.toString();
  }

  @Override
  public void close() {
    try {
      for (Spawned s : started) {
        try {
          s.close();
        } catch (RuntimeException e) {
          // the namespace close below kills what is left
        }
      }
      if (tcpdump != null) {
        tcpdump.close();
      }
      t.close();
    } finally {
      if (dir != null) {
        Shell.exec("rm", "-rf", dir.toString());
      }
    }
  }
}
