package io.dctun.benchmarks;

import io.dctun.core.mesh.HostDirectory;
import io.dctun.core.mesh.MeshMessage;
import io.dctun.core.mesh.MeshOutput;
import io.dctun.core.route.Prefix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * The route-sharing protocol at fleet scale, in memory: G gateways in a full mesh, H hosts spread
 * over them, then M host moves, one at a time, over a network with a one-way latency drawn
 * uniformly from [min, max] ms. For each move it measures the simulated time until every gateway
 * routes the host to its new gateway, and the messages the move caused. Run by hand:
 *
 * <pre>
 *   java -Xmx16g -cp benchmarks/target/benchmarks.jar io.dctun.benchmarks.MeshSimulation 1000 100000 200 1 20
 *   args: gateways hosts moves min-latency-ms max-latency-ms
 * </pre>
 *
 * Lease refreshes are left out of the measured window (the lease is far longer than a move takes
 * to converge); their cost is the fleet's steady background load and is printed by formula:
 * every gateway sends its local hosts to every other gateway once per third of a lease.
 */
public final class MeshSimulation {
  private record Delivery(long at, long seq, int from, int to, MeshMessage m) {}

  private final HostDirectory<Integer>[] gateways;
  private final PriorityQueue<Delivery> wire =
      new PriorityQueue<>((a, b) -> a.at != b.at ? Long.compare(a.at, b.at) : Long.compare(a.seq, b.seq));
  private final Random random = new Random(42);
  private final long minLatency;
  private final long maxLatency;
  private long now = 1_000_000_000L;
  private long seq;
  private long sent;
  private boolean muted;
  // Convergence bookkeeping for the move being measured.
  private Prefix watched;
  private int watchedOwner = -1;
  private int converged;
  private long lastConvergedAt;

  @SuppressWarnings("unchecked")
  private MeshSimulation(int g, long minLatencyNanos, long maxLatencyNanos) {
    this.minLatency = minLatencyNanos;
    this.maxLatency = maxLatencyNanos;
    gateways = new HostDirectory[g];
    for (int i = 0; i < g; i++) {
      int id = i;
      gateways[i] = new HostDirectory<>(id, 1, 3_600_000, new MeshOutput<>() {
        @Override
        public void send(Integer to, MeshMessage m) {
          if (muted) {
            return;
          }
          sent++;
          long lat = minLatency + (long) (random.nextDouble() * (maxLatency - minLatency));
          wire.add(new Delivery(now + lat, seq++, id, to, m));
        }

        @Override
        public void routeChanged(Prefix host, Integer owner) {
          if (host.equals(watched) && owner != null && owner == watchedOwner) {
            converged++;
            lastConvergedAt = now;
          }
        }
      });
    }
    for (int i = 0; i < g; i++) {
      for (int j = 0; j < g; j++) {
        if (i != j) {
          gateways[i].addGateway(j, now);
        }
      }
    }
    drain();
  }

  private void drain() {
    Delivery d;
    while ((d = wire.poll()) != null) {
      now = Math.max(now, d.at);
      gateways[d.to].receive(d.from, d.m, now);
    }
  }

  private static Prefix host(int h) {
    return Prefix.of(new byte[] {(byte) 198, (byte) (18 + (h >>> 16)), (byte) (h >>> 8), (byte) h}, 32);
  }

  public static void main(String[] args) {
    int g = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    int hosts = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    int moves = args.length > 2 ? Integer.parseInt(args[2]) : 100;
    double minMs = args.length > 3 ? Double.parseDouble(args[3]) : 1;
    double maxMs = args.length > 4 ? Double.parseDouble(args[4]) : 20;
    if (hosts > 2 * 65536) {
      throw new IllegalArgumentException("at most 131072 hosts (198.18.0.0/15)");
    }
    long t0 = System.nanoTime();
    MeshSimulation s = new MeshSimulation(g, (long) (minMs * 1e6), (long) (maxMs * 1e6));
    long[] version = new long[hosts];
    int[] at = new int[hosts];
    // Setup: hosts connect while announcements are held back, then one refresh round carries
    // them in full messages (as a gateway that starts with connected hosts would).
    s.muted = true;
    for (int h = 0; h < hosts; h++) {
      at[h] = s.random.nextInt(g);
      s.gateways[at[h]].connected(host(h), ++version[h], s.now);
    }
    s.muted = false;
    for (HostDirectory<Integer> d : s.gateways) {
      d.tick(s.now);
      s.drain();
    }
    long setupMessages = s.sent;
    long[] convergeNanos = new long[moves];
    long[] messages = new long[moves];
    for (int m = 0; m < moves; m++) {
      int h = s.random.nextInt(hosts);
      int to = (at[h] + 1 + s.random.nextInt(g - 1)) % g;
      s.watched = host(h);
      s.watchedOwner = to;
      s.converged = 0;
      long before = s.sent;
      long start = s.now;
      s.gateways[to].connected(host(h), ++version[h], s.now);
      s.drain();
      if (s.converged != g) {
        throw new AssertionError("move " + m + ": " + s.converged + " of " + g + " gateways converged");
      }
      for (HostDirectory<Integer> d : s.gateways) {
        if (d.owner(host(h)) != to) {
          throw new AssertionError("move " + m + ": gateway " + d.self() + " routes to " + d.owner(host(h)));
        }
      }
      convergeNanos[m] = s.lastConvergedAt - start;
      messages[m] = s.sent - before;
      at[h] = to;
    }
    Arrays.sort(convergeNanos);
    long totalMsgs = Arrays.stream(messages).sum();
    int perMessage = HostDirectory.MAX_ENTRIES_PER_MESSAGE;
    double refreshPerSecond = (double) g * (g - 1) * Math.ceil((double) hosts / g / perMessage)
        / (HostDirectory.DEFAULT_LEASE_MILLIS / 3000.0);
    System.out.printf("JDK %s, %d gateways (full mesh), %d hosts, %d moves, latency %.1f-%.1f ms one way%n",
        Runtime.version(), g, hosts, moves, minMs, maxMs);
    System.out.printf("setup: %d messages%n", setupMessages);
    System.out.printf("convergence after a move (all gateways route to the new one): median %.1f ms, p99 %.1f ms, max %.1f ms%n",
        convergeNanos[moves / 2] / 1e6, convergeNanos[Math.min(moves - 1, (int) (moves * 0.99))] / 1e6,
        convergeNanos[moves - 1] / 1e6);
    System.out.printf("messages per move: %.1f (the announcement to each other gateway)%n", (double) totalMsgs / moves);
    System.out.printf("steady refresh load at the default %d s lease: %.0f messages/s fleet-wide, %.0f per gateway%n",
        HostDirectory.DEFAULT_LEASE_MILLIS / 1000, refreshPerSecond, refreshPerSecond / g);
    System.out.printf("wall time %.1f s, heap used %d MB%n", (System.nanoTime() - t0) / 1e9,
        (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20);
  }
}
