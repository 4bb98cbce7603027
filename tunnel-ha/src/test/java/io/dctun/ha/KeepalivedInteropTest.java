package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * dctun's VRRP router against keepalived 2.2.x: two router namespaces on a bridge in a third,
 * VRID 51, VIP 198.18.51.100/24, both advertising every 200 ms (VRRPv3 centiseconds).
 * dctun runs as its own process ({@link VrrpMain}) inside its namespace. A tcpdump on the
 * bridge records what went over the wire. Link failures are made on the router's side of its
 * veth, so the other router's link stays up.
 */
@Timeout(150)
class KeepalivedInteropTest {
  private static final String VIP = "198.18.51.100";
  private static final String D_ADDR = "198.18.51.1";
  private static final String K_ADDR = "198.18.51.2";
  private static final int VRID = 51;
  private static final int INTERVAL_CS = 20;

  @BeforeEach
  void requirements() {
    Requirements.assumeNetNs();
    Requirements.assumeCommand("keepalived");
  }

  /** dctun priority 150, keepalived 100. */
  @Test
  void dctunMasterKeepalivedBackupTakeoverAndPreemption() throws Exception {
    try (Lab lab = new Lab()) {
      Spawned d = lab.startDctun(150, true);
      long dMaster = lab.awaitDctun(d, "MASTER", 1, Duration.ofSeconds(5));
      Spawned k = lab.startKeepalived(100, true);
      lab.awaitLog(k, "Entering BACKUP STATE", 1, Duration.ofSeconds(10));
      // a stream of invalid adverts (10 a second, unicast to dctun so keepalived does not see
      // them) must not stretch dctun's advert interval as it stretched keepalived 2.2.7's
      lab.junk(Duration.ofSeconds(3));
      // (a) keepalived accepts dctun's adverts: it stays backup, the VIP is only on dctun
      assertThat(count(k.output(), "Entering MASTER STATE")).as(lab.describe()).isZero();
      assertThat(lab.hasVip(lab.d, lab.ifD)).isTrue();
      assertThat(lab.hasVip(lab.k, lab.ifK)).isFalse();
      // keepalived's own counters (SIGUSR2 -> /tmp/keepalived.stats): dctun's adverts received,
      // none counted as a packet or authentication error.
      lab.assertKeepalivedAcceptedOurAdverts();

      // (b) dctun's link goes down: keepalived takes over within its Master_Down_Interval
      long kMdi = masterDownNanos(100, INTERVAL_CS);
      long down = System.nanoTime();
      lab.d.run("ip", "link", "set", "dev", lab.ifD, "down");
      long kTook = lab.awaitLog(k, "Entering MASTER STATE", 1, Duration.ofSeconds(5)) - down;
      lab.awaitDctun(d, "FAULT", 1, Duration.ofSeconds(2));
      report("keepalived takeover after dctun link down", kTook, kMdi);
      assertThat(kTook).as("keepalived takeover").isLessThan(kMdi + 300_000_000L);
      lab.awaitVip(lab.k, lab.ifK, true);
      assertThat(lab.hasVip(lab.d, lab.ifD)).as("dctun in FAULT holds no VIP").isFalse();

      // (c) dctun's link returns: it preempts after its own Master_Down_Interval
      long up = System.nanoTime();
      lab.d.run("ip", "link", "set", "dev", lab.ifD, "up");
      long dTook = lab.awaitDctun(d, "MASTER", 2, Duration.ofSeconds(5)) - up;
      lab.awaitLog(k, "Entering BACKUP STATE", 2, Duration.ofSeconds(3));
      report("dctun preemption after link up (incl. up to 100 ms link poll)", dTook,
          masterDownNanos(150, INTERVAL_CS));
      lab.awaitVip(lab.k, lab.ifK, false);
      assertThat(lab.hasVip(lab.d, lab.ifD)).isTrue();

      // dctun shuts down: priority-0 advert, keepalived takes over after Skew_Time only
      long stop = System.nanoTime();
      d.stop(Duration.ofSeconds(5));
      long kTook0 = lab.awaitLog(k, "Entering MASTER STATE", 2, Duration.ofSeconds(5)) - stop;
      report("keepalived takeover after dctun shutdown (prio 0, incl. JVM exit)", kTook0,
          skewNanos(100, INTERVAL_CS));
      assertThat(d.output()).contains("STATE INITIALIZE");
      String dStats = lastStats(d.output());
      assertThat(stat(dStats, "adverts_accepted")).as(dStats).isPositive();
      assertThat(stat(dStats, "lower_priority_ignored")).as(dStats).isPositive();
      // one on entering FAULT (refused by the down link, ENETDOWN) and one at shutdown
      assertThat(stat(dStats, "priority_zero_sent")).as(dStats).isEqualTo(2);
      if (lab.junkSent > 0) {
        assertThat(stat(dStats, "drop_ttl_not_255")).as(dStats).isPositive();
        assertThat(stat(dStats, "drop_bad_checksum")).as(dStats).isPositive();
        assertThat(stat(dStats, "drop_wrong_version")).as(dStats).isPositive();
        assertThat(stat(dStats, "drop_wrong_vrid")).as(dStats).isPositive();
      } else {
        assertThat(dStats).as("no drops: %s", dStats).doesNotContain("drop_");
      }

      // (c') with preempt off, the returning dctun stays backup behind keepalived
      Spawned d2 = lab.startDctun(150, false);
      lab.awaitDctun(d2, "BACKUP", 1, Duration.ofSeconds(5));
      Thread.sleep(2000);
      assertThat(d2.output()).doesNotContain("STATE MASTER");
      assertThat(count(k.output(), "Entering BACKUP STATE")).isEqualTo(2);
      assertThat(lab.hasVip(lab.k, lab.ifK)).isTrue();
      assertThat(lab.hasVip(lab.d, lab.ifD)).isFalse();
      assertThat(stat(lastStats(d2.output()), "adverts_accepted")).isPositive();

      lab.assertKeepalivedHappy(k);
      lab.assertWireShowsDctun(150);
    }
  }

  /** Roles swapped: keepalived priority 150, dctun 100. */
  @Test
  void keepalivedMasterDctunBackupTakeoverAndPreemption() throws Exception {
    try (Lab lab = new Lab()) {
      Spawned k = lab.startKeepalived(150, true);
      lab.awaitLog(k, "Entering MASTER STATE", 1, Duration.ofSeconds(10));
      // A VIP left behind on dctun's interface (as by a predecessor killed while master): dctun
      // must remove it when it starts, not hold it beside keepalived.
      lab.d.run("ip", "addr", "add", VIP + "/24", "dev", lab.ifD);
      assertThat(lab.hasVip(lab.d, lab.ifD)).isTrue();
      Spawned d = lab.startDctun(100, true);
      lab.awaitDctun(d, "BACKUP", 1, Duration.ofSeconds(5));
      Thread.sleep(2000);
      assertThat(d.output()).doesNotContain("STATE MASTER");
      assertThat(lab.hasVip(lab.k, lab.ifK)).isTrue();
      assertThat(lab.hasVip(lab.d, lab.ifD)).isFalse();
      // dctun's counters: keepalived's adverts accepted, no drops of any reason.
      String stats = lastStats(d.output());
      assertThat(stat(stats, "adverts_accepted")).as(stats).isGreaterThan(5);
      assertThat(stats).as("no drop_* counters").doesNotContain("drop_");

      long dMdi = masterDownNanos(100, INTERVAL_CS);
      long down = System.nanoTime();
      lab.k.run("ip", "link", "set", "dev", lab.ifK, "down");
      long dTook = lab.awaitDctun(d, "MASTER", 1, Duration.ofSeconds(5)) - down;
      report("dctun takeover after keepalived link down", dTook, dMdi);
      assertThat(dTook).as("dctun takeover").isLessThan(dMdi + 300_000_000L);
      lab.awaitVip(lab.d, lab.ifD, true);

      lab.k.run("ip", "link", "set", "dev", lab.ifK, "up");
      long up = System.nanoTime();
      long dBack = lab.awaitDctun(d, "BACKUP", 2, Duration.ofSeconds(8)) - up;
      report("keepalived preemption seen by dctun after link up", dBack,
          masterDownNanos(150, INTERVAL_CS));
      lab.awaitVip(lab.d, lab.ifD, false);
      lab.awaitVip(lab.k, lab.ifK, true);

      long stop = System.nanoTime();
      k.stop(Duration.ofSeconds(5));
      long dTook0 = lab.awaitDctun(d, "MASTER", 2, Duration.ofSeconds(5)) - stop;
      report("dctun takeover after keepalived shutdown (prio 0)", dTook0,
          skewNanos(100, INTERVAL_CS));
      assertThat(dTook0).isLessThan(masterDownNanos(100, INTERVAL_CS));
      Thread.sleep(1100);
      String s = lastStats(d.output());
      assertThat(stat(s, "adverts_accepted")).as(s).isPositive();
      assertThat(stat(s, "priority_zero_received")).as(s).isEqualTo(1);
      assertThat(s).as("no drops: %s", s).doesNotContain("drop_");
      lab.assertWireShowsDctun(100);
    }
  }

  /** Unicast mode (no multicast on the segment): each side sends to and accepts only the other. */
  @Test
  void unicastPeersBothWays() throws Exception {
    Requirements.assumeCommand("tcpdump"); // the wire must show no multicast
    try (Lab lab = new Lab()) {
      Spawned d = lab.startDctun(150, true, K_ADDR);
      lab.awaitDctun(d, "MASTER", 1, Duration.ofSeconds(5));
      Spawned k = lab.startKeepalived(100, true, D_ADDR);
      lab.awaitLog(k, "Entering BACKUP STATE", 1, Duration.ofSeconds(10));
      Thread.sleep(2000);
      assertThat(count(k.output(), "Entering MASTER STATE")).as(lab.describe()).isZero();
      lab.assertKeepalivedAcceptedOurAdverts();
      // dctun stops: its priority-0 advert goes to keepalived's address, which takes over at once
      long stop = System.nanoTime();
      d.stop(Duration.ofSeconds(5));
      long took = lab.awaitLog(k, "Entering MASTER STATE", 1, Duration.ofSeconds(5)) - stop;
      report("keepalived takeover after dctun shutdown, unicast (prio 0, incl. JVM exit)", took,
          skewNanos(100, INTERVAL_CS));
      assertThat(took).isLessThan(masterDownNanos(100, INTERVAL_CS));
      // and back: dctun at 100 accepts keepalived's unicast adverts and stays backup (with its
      // default TTL check on: keepalived sends IPv4 unicast adverts at TTL 255, so no drop)
      Spawned d2 = lab.startDctun(100, true, K_ADDR);
      lab.awaitDctun(d2, "BACKUP", 1, Duration.ofSeconds(5));
      Thread.sleep(2000);
      assertThat(d2.output()).doesNotContain("STATE MASTER");
      String s = lastStats(d2.output());
      assertThat(stat(s, "adverts_accepted")).as(s).isPositive();
      assertThat(s).as("no drops: %s", s).doesNotContain("drop_");
      lab.awaitWire(K_ADDR + " > " + D_ADDR + ": VRRPv3, Advertisement, vrid " + VRID + ", prio 100");
      String w = lab.tcpdump.output();
      assertThat(w).as(w).contains(D_ADDR + " > " + K_ADDR + ": VRRPv3, Advertisement, vrid " + VRID + ", prio 150")
          .contains(K_ADDR + " > " + D_ADDR + ": VRRPv3, Advertisement, vrid " + VRID + ", prio 100")
          .doesNotContain("> 224.0.0.18: VRRPv3");
    }
  }

  // ---------------------------------------------------------------------------------------------

  static long masterDownNanos(int prio, int cs) {
    return 3L * cs * 10_000_000L + skewNanos(prio, cs);
  }

  static long skewNanos(int prio, int cs) {
    return (256L - prio) * cs * 10_000_000L / 256;
  }

  private static void report(String what, long tookNanos, long boundNanos) {
    System.out.printf("MEASURED %s: %.0f ms (RFC bound %.0f ms)%n", what, tookNanos / 1e6,
        boundNanos / 1e6);
  }

  static int count(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  static String lastStats(String out) {
    String last = "";
    for (String line : out.split("\n")) {
      if (line.startsWith("STATS ")) {
        last = line;
      }
    }
    return last;
  }

  static long stat(String stats, String key) {
    Matcher m = Pattern.compile("\\b" + key + "=(\\d+)").matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /** The IPv4 lab: 198.18.51.1 (dctun) and .2 (keepalived), VIP 198.18.51.100/24. */
  static final class Lab extends VrrpLab {
    Lab() throws IOException {
      super("vrrp", D_ADDR + "/24", K_ADDR + "/24", false);
      boolean ok = false;
      try {
        d.run(Duration.ofSeconds(10), "ping", "-c", "1", "-W", "2", K_ADDR);
        if (Requirements.findCommand("tcpdump").isPresent()) {
          capture("arp or ip proto 112");
        }
        ok = true;
      } finally {
        if (!ok) {
          close();
        }
      }
    }

    Spawned startDctun(int prio, boolean preempt) {
      return startDctun(prio, preempt, null);
    }

    /** With {@code peer} non-null: unicast mode, adverts to that address only. */
    Spawned startDctun(int prio, boolean preempt, String peer) {
      List<String> args = new ArrayList<>(List.of(ifD, String.valueOf(VRID), String.valueOf(prio),
          String.valueOf(INTERVAL_CS), VIP + "/24", preempt ? "preempt" : "nopreempt"));
      if (peer != null) {
        args.add(peer);
      }
      return startVrrpMain(d, args.toArray(String[]::new));
    }

    Spawned startKeepalived(int prio, boolean preempt) throws IOException {
      return startKeepalived(prio, preempt, null);
    }

    /** With {@code peer} non-null: unicast mode (unicast_src_ip, unicast_peer). */
    Spawned startKeepalived(int prio, boolean preempt, String peer) throws IOException {
      return startKeepalived("virtual_router_id " + VRID, "priority " + prio,
          "advert_int " + (INTERVAL_CS / 100.0), preempt ? "" : "nopreempt",
          peer == null ? "" : "unicast_src_ip " + K_ADDR, peer == null ? "" : "unicast_peer {",
          peer == null ? "" : "  " + peer, peer == null ? "" : "}",
          "virtual_ipaddress {", "  " + VIP + "/24", "}");
    }

    @Override
    boolean hasVip(NetNs ns, String dev) {
      return ns.run("ip", "-4", "-o", "addr", "show", "dev", dev).stdout().contains(VIP + "/24");
    }

    /** keepalived logged nothing about bad packets (it logs every invalid advert with -D). */
    void assertKeepalivedHappy(Spawned k) {
      String log = k.output().toLowerCase();
      assertThat(log).as(k.describe()).doesNotContain("invalid", "bogus", "ttl", "checksum");
    }

    int junkSent;

    /** Sends invalid adverts to dctun from keepalived's namespace, 10 a second (needs python3). */
    void junk(Duration howLong) throws InterruptedException {
      if (Requirements.findCommand("python3").isEmpty()) {
        System.out.println("python3 not installed: invalid-advert stream skipped");
        Thread.sleep(howLong.toMillis());
        return;
      }
      int src = VrrpAdvert.ipv4(K_ADDR);
      int dst = VrrpAdvert.ipv4(D_ADDR);
      int vip = VrrpAdvert.ipv4(VIP);
      List<String> hex = new ArrayList<>();
      for (int kind = 0; kind < 4; kind++) {
        byte[] p = new byte[VrrpCodec.ipv4Length(1)];
        VrrpCodec.encodeIpv4(p, 0, kind, src, dst, kind == 3 ? VRID + 1 : VRID, 250,
            INTERVAL_CS, new int[] {vip}, 1);
        switch (kind) {
          case 0 -> p[8] = 64; // TTL
          case 1 -> p[27] ^= 0x55; // checksum
          case 2 -> p[20] = 0x21; // VRRPv2
          default -> { } // another VRID
        }
        hex.add(java.util.HexFormat.of().formatHex(p));
      }
      String py = "import socket,sys,time,binascii\n"
          + "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,112)\n"
          + "s.setsockopt(socket.IPPROTO_IP,socket.IP_HDRINCL,1)\n"
          + "p=[binascii.unhexlify(h) for h in sys.argv[3:]]\n"
          + "for i in range(int(sys.argv[2])):\n"
          + "  s.sendto(p[i%len(p)],(sys.argv[1],0)); time.sleep(0.1)\n";
      int n = (int) (howLong.toMillis() / 100);
      List<String> cmd = new ArrayList<>(List.of("python3", "-c", py, D_ADDR, String.valueOf(n)));
      cmd.addAll(hex);
      k.run(howLong.plusSeconds(10), cmd.toArray(String[]::new));
      junkSent = n;
    }

    /**
     * The largest gap between consecutive adverts dctun sent while it stayed master, from
     * tcpdump's timestamps. A sequence ends at a priority-0 advert, at any advert from the other
     * router (an election is going on) and at gaps over 500 ms (dctun was not master).
     */
    long maxMasterAdvertGapMicros() {
      Pattern p = Pattern.compile("^(\\d\\d):(\\d\\d):(\\d\\d)\\.(\\d{6}) .* ([\\d.]+) > "
          + "224\\.0\\.0\\.18: VRRPv3, Advertisement.*prio (\\d+)");
      long prev = -1;
      long max = 0;
      String maxAt = "";
      int n = 0;
      for (String line : tcpdump.output().split("\n")) {
        Matcher m = p.matcher(line);
        if (!m.find()) {
          continue;
        }
        long t = ((Long.parseLong(m.group(1)) * 60 + Long.parseLong(m.group(2))) * 60
            + Long.parseLong(m.group(3))) * 1_000_000 + Long.parseLong(m.group(4));
        if (!m.group(5).equals(D_ADDR) || Integer.parseInt(m.group(6)) == 0) {
          prev = -1;
          continue;
        }
        if (prev >= 0 && t - prev < 500_000) {
          if (t - prev > max) {
            maxAt = line;
          }
          max = Math.max(max, t - prev);
          n++;
        }
        prev = t;
      }
      assertThat(n).as("advert pairs on the wire").isGreaterThan(5);
      System.out.println("largest gap ends at: " + maxAt);
      return max;
    }

    /** tcpdump decodes dctun's adverts as VRRPv3 and saw the gratuitous ARPs, when present. */
    void assertWireShowsDctun(int prio) throws InterruptedException {
      if (tcpdump == null) {
        System.out.println("tcpdump not installed: wire check skipped");
        return;
      }
      Thread.sleep(200);
      String w = tcpdump.output();
      assertThat(w).as(w).contains(D_ADDR + " > 224.0.0.18: VRRPv3, Advertisement, vrid " + VRID
          + ", prio " + prio + ", intvl " + INTERVAL_CS + "cs");
      String mac = d.run("cat", "/sys/class/net/" + ifD + "/address").stdout().strip();
      long gap = maxMasterAdvertGapMicros();
      System.out.printf("MEASURED largest gap between dctun master adverts on the wire: %.1f ms"
          + " (interval %d ms)%n", gap / 1e3, INTERVAL_CS * 10);
      assertThat(gap).as("advert gap, us").isLessThan(INTERVAL_CS * 10_000L + 40_000L);
      assertThat(w).as(w).contains(mac + " > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: "
          + "Request who-has " + VIP + " (ff:ff:ff:ff:ff:ff) tell " + VIP);
    }
  }
}
