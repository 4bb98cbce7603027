package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random interleavings of connects, moves, disconnects, restarts and deaths, over a network that
 * loses, duplicates and reorders, always converge to one owner per host: the gateway the host is
 * connected to. Each seed is a reproducible case; a failure names it.
 */
class HostDirectoryPropertyTest {
  static final int SEEDS = 1000; // 5,000 pass in about 3 s; CI runs 1,000

  @Test
  void everyInterleavingConvergesToTheGatewayEachHostIsAt() {
    for (int seed = 0; seed < SEEDS; seed++) {
      run(seed);
    }
  }

  private static void run(long seed) {
    Random r = new Random(seed);
    int n = 2 + r.nextInt(4);
    int hosts = 1 + r.nextInt(8);
    MeshSim s = new MeshSim(n);
    List<Prefix> host = new ArrayList<>();
    for (int h = 0; h < hosts; h++) {
      host.add(Prefix.parse("198.18.60." + (h + 1) + "/32"));
    }
    long[] version = new long[hosts];
    Map<Integer, Integer> truth = new HashMap<>(); // host index -> gateway, absent when nowhere
    List<String> log = new ArrayList<>();
    for (int step = 0; step < 150; step++) {
      int what = r.nextInt(100);
      List<Integer> live = new ArrayList<>(s.gateways.keySet());
      if (what < 35 && !live.isEmpty()) {
        int h = r.nextInt(hosts);
        int g = live.get(r.nextInt(live.size()));
        s.gateways.get(g).connected(host.get(h), ++version[h], s.now);
        truth.put(h, g);
        log.add("connect h" + h + " g" + g + " v" + version[h]);
      } else if (what < 45 && truth.size() > 0) {
        int h = new ArrayList<>(truth.keySet()).get(r.nextInt(truth.size()));
        s.gateways.get(truth.remove(h)).disconnected(host.get(h), s.now);
        log.add("disconnect h" + h);
      } else if (what < 49 && !live.isEmpty()) {
        int g = live.get(r.nextInt(live.size()));
        s.start(g);
        truth.values().removeIf(x -> x == g);
        log.add("restart g" + g);
      } else if (what < 51 && live.size() > 1) {
        int g = live.get(r.nextInt(live.size()));
        s.kill(g);
        truth.values().removeIf(x -> x == g);
        log.add("kill g" + g);
      } else if (what < 90) {
        for (int k = r.nextInt(6); k > 0; k--) {
          s.deliverOneChaotically(r, 0.2, 0.1);
        }
      } else {
        s.advanceMillis(r.nextInt(1500));
        s.tickAll();
      }
    }
    // A gateway the host left, and that never heard of the newer connection (every message about
    // it lost), still holds a live session; the driver reports the host gone when that session
    // expires (no handshake for minutes). Model that expiry here.
    for (Map.Entry<Integer, HostDirectory<Integer>> g : s.gateways.entrySet()) {
      for (Prefix p : g.getValue().localHosts().keySet()) {
        int h = host.indexOf(p);
        if (!Integer.valueOf(g.getKey()).equals(truth.get(h))) {
          g.getValue().disconnected(p, s.now);
          log.add("session of h" + h + " expires at g" + g.getKey());
        }
      }
    }
    s.settle(MeshSim.LEASE_MILLIS * 3L);
    for (Map.Entry<Integer, HostDirectory<Integer>> g : s.gateways.entrySet()) {
      for (int h = 0; h < hosts; h++) {
        assertThat(g.getValue().owner(host.get(h)))
            .as("seed %d: owner of host %d at gateway %d after %s", seed, h, g.getKey(), log)
            .isEqualTo(truth.get(h));
      }
    }
  }
}
