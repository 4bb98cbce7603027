package io.dctun.core.session;

import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Any number of devices on one in-memory wire, each at 198.18.0.N:51820, on one fake clock: for
 * hubs and meshes of more than the two devices {@link Pair} joins.
 */
final class Net3 {
  final FakeClock clock = new FakeClock();
  final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  final Map<String, Node> nodes = new LinkedHashMap<>();

  final class Node {
    final String name;
    final PrivateKey key = PrivateKey.generate();
    final UdpEndpoint ep;
    final Pair.Net net;
    final Device device;

    Node(String name, int n) {
      this.name = name;
      this.ep = UdpEndpoint.of("198.18.0." + n, 51820);
      this.net = new Pair.Net(ep, wire);
      this.device = new Device(key, 1420, net, clock);
    }

    /** Adds {@code other} as a peer with {@code allowed} prefixes. */
    Peer knows(Node other, boolean dctun, String... allowed) {
      return device.addPeer(PeerConfig.of(other.key.publicKey(), other.ep, allowed).withName(other.name).withDctun(dctun));
    }
  }

  Node node(String name) {
    Node n = new Node(name, nodes.size() + 1);
    nodes.put(name, n);
    return n;
  }

  /** Delivers datagrams until the wire is empty (bounded). */
  int pump() {
    int moved = 0;
    while (!wire.isEmpty() && moved < 10_000) {
      Object[] d = wire.poll();
      Endpoint from = (Endpoint) d[0];
      Endpoint to = (Endpoint) d[1];
      byte[] data = (byte[]) d[2];
      byte[] buf = new byte[data.length + 64];
      System.arraycopy(data, 0, buf, 32, data.length);
      for (Node n : nodes.values()) {
        if (n.ep.equals(to)) {
          n.device.inbound(buf, 32, data.length, from, clock.now);
        }
      }
      moved++;
    }
    return moved;
  }

  void send(Node n, byte[] pkt) {
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    n.device.outbound(buf, 16, pkt.length, clock.now);
  }
}
