package io.dctun.core.session;

import io.dctun.core.packet.IcmpEcho;
import io.dctun.crypto.PrivateKey;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Two devices, A (198.18.1.0/24 behind it) and B (198.18.2.0/24), joined by an in-memory
 * network that holds datagrams until the test delivers them, and a shared fake clock.
 */
final class Pair {
  static final UdpEndpoint EP_A = UdpEndpoint.of("198.18.0.1", 51820);
  static final UdpEndpoint EP_B = UdpEndpoint.of("198.18.0.2", 51820);

  static final class Net implements Output {
    final Endpoint self;
    final ArrayDeque<Object[]> wire;
    final List<byte[]> delivered = new ArrayList<>();
    final List<byte[]> sent = new ArrayList<>();

    Net(Endpoint self, ArrayDeque<Object[]> wire) {
      this.self = self;
      this.wire = wire;
    }

    @Override
    public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {
      byte[] d = Arrays.copyOfRange(buf, off, off + len);
      sent.add(d);
      wire.add(new Object[] {self, to, d});
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      delivered.add(Arrays.copyOfRange(buf, off, off + len));
    }
  }

  final FakeClock clock = new FakeClock();
  final ArrayDeque<Object[]> wire = new ArrayDeque<>();
  final PrivateKey keyA = PrivateKey.generate();
  final PrivateKey keyB = PrivateKey.generate();
  final Net netA = new Net(EP_A, wire);
  final Net netB = new Net(EP_B, wire);
  final Device a = new Device(keyA, 1420, netA, clock);
  final Device b = new Device(keyB, 1420, netB, clock);
  Peer bAtA;
  Peer aAtB;

  Pair(boolean bKnowsA) {
    bAtA = a.addPeer(PeerConfig.of(keyB.publicKey(), EP_B, "198.18.2.0/24"));
    aAtB = b.addPeer(PeerConfig.of(keyA.publicKey(), bKnowsA ? EP_A : null, "198.18.1.0/24"));
  }

  /** Delivers datagrams until the wire is empty (bounded). Returns how many moved. */
  int pump() {
    int moved = 0;
    while (!wire.isEmpty() && moved < 10_000) {
      Object[] d = wire.poll();
      Endpoint from = (Endpoint) d[0];
      Endpoint to = (Endpoint) d[1];
      byte[] data = (byte[]) d[2];
      byte[] buf = new byte[data.length + 64];
      System.arraycopy(data, 0, buf, 32, data.length);
      (to.equals(EP_A) ? a : b).inbound(buf, 32, data.length, from, clock.now);
      moved++;
    }
    return moved;
  }

  void advance(double s) {
    clock.advanceSeconds(s);
  }

  /** Drops everything in flight (a lossy moment). */
  int dropAll() {
    int n = wire.size();
    wire.clear();
    return n;
  }

  static byte[] ping(String src, String dst, int seq) {
    byte[] buf = new byte[16 + 1500];
    int n = IcmpEcho.writeV4Request(buf, 16, v4(src), v4(dst), 7, seq, new byte[56]);
    return Arrays.copyOfRange(buf, 16, 16 + n);
  }

  static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8 | Integer.parseInt(p[3]);
  }

  /** Sends an inner packet into {@code d} as the TUN would. */
  void send(Device d, byte[] pkt) {
    byte[] buf = new byte[16 + pkt.length + 48];
    System.arraycopy(pkt, 0, buf, 16, pkt.length);
    d.outbound(buf, 16, pkt.length, clock.now);
  }
}
