package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Unicast peers for real, dctun against dctun: two {@link VrrpMain} processes that list each
 * other, on one bridge with a third host that forges owner adverts (priority 255, unicast to
 * the master). The forger's adverts are dropped and counted as from an unknown peer, the pair
 * elects and hands over with unicast adverts only (TTL 255 checked). Needs root and ip netns.
 */
class VrrpUnicastNetnsTest {
  static final Pattern DROPS = Pattern.compile("drop_unknown_peer=(\\d+)");

  @Test
  void forgedOwnerAdvertsFromAnUnlistedHostAreDroppedAndThePairElectsOverUnicast() throws Exception {
    Requirements.assumeNetNs();
    List<Spawned> started = new ArrayList<>();
    try (Topology t = new Topology()) {
      NetNs sw = t.namespace("hh-sw");
      NetNs a = t.namespace("hh-ua");
      NetNs b = t.namespace("hh-ub");
      NetNs f = t.namespace("hh-uf");
      String br = t.bridge(sw);
      Topology.Veth va = t.veth(a, "198.18.73.1/24", sw, null);
      Topology.Veth vb = t.veth(b, "198.18.73.2/24", sw, null);
      Topology.Veth vf = t.veth(f, "198.18.73.66/24", sw, null);
      for (Topology.Veth v : List.of(va, vb, vf)) {
        t.attach(sw, v.ifB(), br);
      }
      String vip = "198.18.73.100/24";
      Spawned pa = start(a, va.ifA(), 150, vip, "198.18.73.2");
      started.add(pa);
      awaitLine(pa, "STATE MASTER", Duration.ofSeconds(10));
      Spawned pb = start(b, vb.ifA(), 100, vip, "198.18.73.1");
      started.add(pb);
      awaitLine(pb, "STATE BACKUP", Duration.ofSeconds(10));

      // the forger: an "address owner" (priority 255) that adverts unicast to A only
      Spawned forger = start(f, vf.ifA(), 255, vip, "198.18.73.1");
      started.add(forger);
      awaitLine(forger, "STATE MASTER", Duration.ofSeconds(10));
      long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (unknownPeerDrops(pa.output()) < 10 && System.nanoTime() - end < 0 && pa.isAlive()) {
        Thread.sleep(50);
      }
      assertThat(unknownPeerDrops(pa.output())).as(pa.output()).isGreaterThanOrEqualTo(10);
      assertThat(SyncGroupSplitNetnsTest.count(pa.output(), "STATE BACKUP")).as("A kept the VIP: only its start "
          + "was BACKUP: " + pa.output()).isEqualTo(1);
      assertThat(a.exec("ip", "-4", "addr", "show", "dev", va.ifA()).stdout()).contains("198.18.73.100");
      forger.stop(Duration.ofSeconds(5));

      // A leaves: its priority-0 advert goes to B's address, B takes over
      pa.stop(Duration.ofSeconds(5));
      awaitLine(pb, "STATE MASTER", Duration.ofSeconds(5));
      assertThat(b.exec("ip", "-4", "addr", "show", "dev", vb.ifA()).stdout()).contains("198.18.73.100");
      assertThat(pb.output()).as("B heard only A").doesNotContain("drop_");
    } finally {
      for (Spawned s : started) {
        s.stop(Duration.ofSeconds(5));
      }
    }
  }

  static Spawned start(NetNs ns, String ifName, int prio, String vip, String peer) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        VrrpMain.class.getName(), ifName, "61", Integer.toString(prio), "10", vip, "preempt", peer));
    return ns.spawn(cmd.toArray(String[]::new));
  }

  static void awaitLine(Spawned s, String line, Duration within) throws InterruptedException {
    long end = System.nanoTime() + within.toNanos();
    while (!s.output().contains(line) && System.nanoTime() - end < 0 && s.isAlive()) {
      Thread.sleep(20);
    }
    assertThat(s.output()).as("'" + line + "' within " + within).contains(line);
  }

  static long unknownPeerDrops(String out) {
    long n = 0;
    Matcher m = DROPS.matcher(out);
    while (m.find()) {
      n = Math.max(n, Long.parseLong(m.group(1)));
    }
    return n;
  }
}
