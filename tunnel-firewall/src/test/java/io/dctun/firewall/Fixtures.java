package io.dctun.firewall;

import io.dctun.core.packet.IpPacket;
import io.dctun.crypto.PublicKey;

/** Peers, addresses and helpers shared by the firewall tests. */
final class Fixtures {
  static final PublicKey PROD = key(1);
  static final PublicKey STAGING = key(2);
  static final PublicKey BACKUP = key(3);
  static final PublicKey STRANGER = key(99);

  static final long SEC = 1_000_000_000L;

  static final int SYN = IpPacket.TCP_SYN;
  static final int ACK = IpPacket.TCP_ACK;
  static final int SYN_ACK = IpPacket.TCP_SYN | IpPacket.TCP_ACK;
  static final int FIN_ACK = IpPacket.TCP_FIN | IpPacket.TCP_ACK;
  static final int RST = IpPacket.TCP_RST;

  private Fixtures() {}

  static PublicKey key(int n) {
    byte[] b = new byte[32];
    b[0] = (byte) n;
    b[31] = 1;
    return PublicKey.of(b);
  }

  static RuleSet.Builder peers() {
    return RuleSet.builder()
        .peer("prod", PROD, "dc")
        .peer("staging", STAGING, "dc")
        .peer("backup", BACKUP, "storage");
  }

  /** A packet with headroom and the tailroom the device guarantees, as the device hands it over. */
  static final class Buf {
    final byte[] b;
    final int off = 16;
    final int len;

    Buf(byte[] packet, int tail) {
      b = new byte[off + packet.length + tail];
      System.arraycopy(packet, 0, b, off, packet.length);
      len = packet.length;
    }

    Buf(byte[] packet) {
      this(packet, 32);
    }

    byte[] slice(int n) {
      byte[] r = new byte[n];
      System.arraycopy(b, off, r, 0, n);
      return r;
    }
  }

  static int in(Firewall fw, PublicKey peer, byte[] pkt, long now) {
    Buf x = new Buf(pkt);
    return fw.filterInbound(peer, x.b, x.off, x.len, now);
  }

  static int out(Firewall fw, PublicKey peer, byte[] pkt, long now) {
    Buf x = new Buf(pkt);
    return fw.filterOutbound(peer, x.b, x.off, x.len, now);
  }
}
