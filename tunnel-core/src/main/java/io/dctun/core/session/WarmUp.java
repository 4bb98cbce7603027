package io.dctun.core.session;

import io.dctun.core.Clock;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.crypto.Aead;
import io.dctun.crypto.PrivateKey;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * One throwaway handshake and a packet each way between two in-memory devices with fresh keys,
 * touching no network. The first handshake in a JVM pays for loading the crypto providers and
 * classes (measured here: an HA backup's first initiation on takeover left 140 ms after it
 * became master); a box that must act at once when it does, such as an HA backup that never
 * handshakes until it takes over, pays it at start instead.
 */
public final class WarmUp {
  private WarmUp() {}

  /** Runs the exchange; returns how many datagrams went between the two devices. */
  public static int handshake(Aead.Impl aead) {
    ArrayDeque<Object[]> wire = new ArrayDeque<>();
    InetSocketAddress epA = new InetSocketAddress("198.18.0.1", 51820);
    InetSocketAddress epB = new InetSocketAddress("198.18.0.2", 51820);
    Endpoint endA = UdpEndpoint.of(epA);
    Endpoint endB = UdpEndpoint.of(epB);
    int[] delivered = new int[1];
    PrivateKey ka = PrivateKey.generate();
    PrivateKey kb = PrivateKey.generate();
    Device a = new Device(ka, 1420, output(wire, endA, delivered), Clock.SYSTEM, aead);
    Device b = new Device(kb, 1420, output(wire, endB, delivered), Clock.SYSTEM, aead);
    try {
      a.addPeer(PeerConfig.of(kb.publicKey(), epB, "198.18.2.0/24"));
      b.addPeer(PeerConfig.of(ka.publicKey(), epA, "198.18.1.0/24"));
      byte[] buf = new byte[1600];
      int n = IcmpEcho.writeV4Request(buf, 16, 0xc6120101, 0xc6120201, 1, 1, new byte[56]);
      a.outbound(buf, 16, n, System.nanoTime()); // queued; starts the handshake
      int moved = deliver(wire, a, endA, b);
      n = IcmpEcho.writeV4Request(buf, 16, 0xc6120201, 0xc6120101, 1, 2, new byte[56]);
      b.outbound(buf, 16, n, System.nanoTime());
      moved += deliver(wire, a, endA, b);
      if (delivered[0] != 2) {
        throw new IllegalStateException("warm-up handshake delivered " + delivered[0] + " of 2 packets");
      }
      return moved;
    } finally {
      a.close();
      b.close();
    }
  }

  /** Delivers what is on the wire, both ways, until it is quiet (at most 16 datagrams). */
  private static int deliver(ArrayDeque<Object[]> wire, Device a, Endpoint epA, Device b) {
    int moved = 0;
    while (!wire.isEmpty() && moved < 16) {
      Object[] d = wire.poll();
      byte[] data = (byte[]) d[2];
      byte[] in = new byte[data.length + 64];
      System.arraycopy(data, 0, in, 32, data.length);
      (d[1].equals(epA) ? a : b).inbound(in, 32, data.length, (Endpoint) d[0], System.nanoTime());
      moved++;
    }
    return moved;
  }

  private static Output output(ArrayDeque<Object[]> wire, Endpoint self, int[] delivered) {
    return new Output() {
      @Override
      public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {
        wire.add(new Object[] {self, to, Arrays.copyOfRange(buf, off, off + len)});
      }

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {
        delivered[0]++;
      }
    };
  }
}
