package io.dctun.core.mesh;

import io.dctun.core.route.Prefix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Gateways numbered 0..n-1 running {@link HostDirectory} over an in-memory network that can lose,
 * duplicate and reorder messages, on a simulated clock. Messages are passed through {@link
 * MeshCodec} both ways, so the wire form is exercised by every simulation.
 */
final class MeshSim {
  static final int LEASE_MILLIS = 3_000;

  record InFlight(int from, int to, byte[] payload) {}

  final Map<Integer, HostDirectory<Integer>> gateways = new TreeMap<>();
  final List<InFlight> wire = new ArrayList<>();
  final Map<Integer, Map<Prefix, Integer>> routeChanges = new HashMap<>();
  long now = 1_000_000_000L;
  long nextIncarnation = 1;
  long delivered;

  MeshSim(int n) {
    for (int g = 0; g < n; g++) {
      start(g);
    }
  }

  /** (Re)starts gateway {@code g} with a new incarnation and no state, in a mesh with every other live one. */
  HostDirectory<Integer> start(int g) {
    return start(g, nextIncarnation++);
  }

  /**
   * Starts gateway {@code g} with {@code incarnation}: lower than its last one, this is an HA twin
   * that shares g's identity, was started before the master it replaces, and now takes over.
   */
  HostDirectory<Integer> start(int g, long incarnation) {
    int id = g;
    HostDirectory<Integer> d = new HostDirectory<>(id, incarnation, LEASE_MILLIS, new MeshOutput<>() {
      @Override
      public void send(Integer to, MeshMessage m) {
        wire.add(new InFlight(id, to, MeshCodec.encode(m)));
      }

      @Override
      public void routeChanged(Prefix host, Integer owner) {
        routeChanges.computeIfAbsent(id, k -> new HashMap<>()).put(host, owner);
      }
    });
    gateways.put(g, d);
    for (int other : gateways.keySet()) {
      if (other != g) {
        d.addGateway(other, now);
        gateways.get(other).addGateway(g, now); // no-op if it knew g already
      }
    }
    return d;
  }

  void kill(int g) {
    gateways.remove(g);
  }

  /** Delivers the message at {@code i} (to a gateway that is gone: lost). */
  void deliver(int i) {
    InFlight f = wire.remove(i);
    HostDirectory<Integer> to = gateways.get(f.to());
    if (to == null) {
      return;
    }
    try {
      to.receive(f.from(), MeshCodec.decode(f.payload(), 0, f.payload().length), now);
    } catch (MeshCodec.MalformedMessageException e) {
      throw new AssertionError("the codec could not read its own message", e);
    }
    delivered++;
  }

  /** Delivers everything in flight (and what that causes), in order; bounded. */
  void deliverAll() {
    int guard = 0;
    while (!wire.isEmpty()) {
      deliver(0);
      if (++guard > 10_000_000) {
        throw new AssertionError("messages never stop: a loop");
      }
    }
  }

  /** Delivers one random message in flight: lost with {@code loss}, delivered twice with {@code dup}. */
  void deliverOneChaotically(Random r, double loss, double dup) {
    if (wire.isEmpty()) {
      return;
    }
    int i = r.nextInt(wire.size());
    double x = r.nextDouble();
    if (x < loss) {
      wire.remove(i);
    } else if (x < loss + dup) {
      InFlight f = wire.get(i);
      wire.add(new InFlight(f.from(), f.to(), f.payload().clone()));
      deliver(i);
    } else {
      deliver(i);
    }
  }

  void tickAll() {
    for (HostDirectory<Integer> d : new ArrayList<>(gateways.values())) {
      d.tick(now);
    }
  }

  void advanceMillis(long ms) {
    now += ms * 1_000_000L;
  }

  /** Runs the mesh without loss for {@code millis} of simulated time, in 100 ms ticks. */
  void settle(long millis) {
    for (long t = 0; t < millis; t += 100) {
      advanceMillis(100);
      tickAll();
      deliverAll();
    }
  }
}
