package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Spawned;
import io.dctun.core.testing.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SyncGroupSplitTest}'s main case for real: two boxes (namespaces "hh-a", "hh-b"), each
 * a {@link VrrpPairMain} process with a public and a private instance, on two bridges in a
 * third namespace. Splitting a segment takes one box's port off its bridge: its link stays up
 * (no FAULT), it just hears nothing. Adverts every 100 ms; each observation window is bounded.
 * Needs root and ip netns (skipped otherwise).
 */
class SyncGroupSplitNetnsTest {
  static final int INTERVAL_CS = 10;

  @Test
  void aSplitPublicSegmentDoesNotFlapTheVipsAndASplitOfBothMovesThemOnce() throws Exception {
    Requirements.assumeNetNs();
    List<Spawned> started = new ArrayList<>();
    try (Topology t = new Topology()) {
      NetNs sw = t.namespace("hh-sw");
      NetNs a = t.namespace("hh-a");
      NetNs b = t.namespace("hh-b");
      String brPub = t.bridge(sw);
      String brPriv = t.bridge(sw);
      Topology.Veth aPub = t.veth(a, "198.18.71.1/24", sw, null);
      Topology.Veth bPub = t.veth(b, "198.18.71.2/24", sw, null);
      Topology.Veth aPriv = t.veth(a, "198.18.72.1/24", sw, null);
      Topology.Veth bPriv = t.veth(b, "198.18.72.2/24", sw, null);
      t.attach(sw, aPub.ifB(), brPub);
      t.attach(sw, bPub.ifB(), brPub);
      t.attach(sw, aPriv.ifB(), brPriv);
      t.attach(sw, bPriv.ifB(), brPriv);

      Spawned pa = start(a, 200, aPub.ifA(), "198.18.71.100/24", aPriv.ifA(), "198.18.72.100/24");
      started.add(pa);
      await(pa, "INSTANCE private MASTER", 1, Duration.ofSeconds(10));
      Spawned pb = start(b, 100, bPub.ifA(), "198.18.71.100/24", bPriv.ifA(), "198.18.72.100/24");
      started.add(pb);
      await(pb, "INSTANCE private BACKUP", 1, Duration.ofSeconds(10));
      assertThat(masters(pb)).as(pb.output()).isZero();

      // public split: B's public instance hears nobody, its private one still hears A
      sw.run("ip", "link", "set", "dev", bPub.ifB(), "nomaster");
      Thread.sleep(5000); // 50 advert intervals: the old code flapped about 12 times in this window
      assertThat(masters(pb)).as("B flapped: " + pb.output()).isZero();
      assertThat(count(pa.output(), "INSTANCE")).as(pa.output()).isEqualTo(4); // BACKUP, MASTER per instance
      assertThat(a.exec("ip", "-4", "addr", "show", "dev", aPub.ifA()).stdout()).contains("198.18.71.100");
      assertThat(b.exec("ip", "-4", "addr", "show", "dev", bPub.ifA()).stdout()).doesNotContain("198.18.71.100");

      // the private segment splits too: B hears no master anywhere and takes both, once
      sw.run("ip", "link", "set", "dev", bPriv.ifB(), "nomaster");
      await(pb, "INSTANCE private MASTER", 1, Duration.ofSeconds(5));
      Thread.sleep(2000);
      assertThat(count(pb.output(), "INSTANCE public MASTER")).as(pb.output()).isEqualTo(1);
      assertThat(count(pb.output(), "INSTANCE private MASTER")).as(pb.output()).isEqualTo(1);

      // healed: B hears A's priority 200 and gives both back, once
      t.attach(sw, bPub.ifB(), brPub);
      t.attach(sw, bPriv.ifB(), brPriv);
      await(pb, "INSTANCE private BACKUP", 2, Duration.ofSeconds(5));
      Thread.sleep(2000);
      assertThat(masters(pb)).as(pb.output()).isEqualTo(2);
      assertThat(count(pa.output(), "INSTANCE")).as("A never moved: " + pa.output()).isEqualTo(4);
    } finally {
      for (Spawned s : started) {
        s.stop(Duration.ofSeconds(5));
      }
    }
  }

  static Spawned start(NetNs ns, int prio, String pubIf, String pubVip, String privIf, String privVip) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        VrrpPairMain.class.getName(), Integer.toString(prio), Integer.toString(INTERVAL_CS), pubIf, pubVip,
        privIf, privVip));
    return ns.spawn(cmd.toArray(String[]::new));
  }

  static void await(Spawned s, String line, int times, Duration within) throws InterruptedException {
    long end = System.nanoTime() + within.toNanos();
    while (count(s.output(), line) < times && System.nanoTime() - end < 0 && s.isAlive()) {
      Thread.sleep(20);
    }
    assertThat(count(s.output(), line)).as("'" + line + "' x" + times + " within " + within + ": " + s.output())
        .isGreaterThanOrEqualTo(times);
  }

  /** Changes to MASTER of either instance (each one a gratuitous ARP burst). */
  static int masters(Spawned s) {
    return count(s.output(), "INSTANCE public MASTER") + count(s.output(), "INSTANCE private MASTER");
  }

  static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
