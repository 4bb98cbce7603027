package io.dctun.ha.internal;

import io.dctun.core.packet.IpPacket;

import io.dctun.tun.NativeIoException;

/**
 * Unsolicited neighbour advertisements (RFC 4861 4.4) for IPv6 virtual addresses, sent as whole
 * Ethernet frames through AF_PACKET, from the interface's MAC to all nodes (ff02::1), so that
 * hosts and switches move the address to this box at once.
 *
 * <pre>
 *  Ethernet: dst 33:33:00:00:00:01 | src MAC | type 0x86dd
 *  IPv6:     ver 6 | payload 32 | next header 58 | hop limit 255 | src VIP | dst ff02::1
 *  ICMPv6:   type 136 | code 0 | checksum | flags R+O (0xa0) | 3 reserved bytes | target VIP
 *            option 2 (target link-layer address) | length 1 | MAC
 * </pre>
 *
 * Flags as RFC 5798 6.4.2 asks: Router set, Solicited clear, Override set. keepalived 2.2.7
 * sends Override only (see the capture in the tests); the rest of its frame is the same.
 *
 * <p>Thread-safety: {@link #announce} is serialised.
 */
public final class UnsolicitedNa implements Announcer {
  public static final int FRAME_LENGTH = 86;
  private static final int ETH_P_IPV6 = 0x86dd;
  private static final byte[] ALL_NODES_MAC = {0x33, 0x33, 0, 0, 0, 1};
  private static final byte[] ALL_NODES = {(byte) 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  /** Router and Override. */
  public static final int FLAGS = 0xa0;

  private final LinkLayerSocket socket;
  private final byte[] mac;
  private final byte[] frame = new byte[FRAME_LENGTH];

  private UnsolicitedNa(LinkLayerSocket socket, byte[] mac) {
    this.socket = socket;
    this.mac = mac;
  }

  /** Opens an AF_PACKET socket for {@code ifname} (in the calling thread's namespace). */
  public static UnsolicitedNa open(String ifname) throws NativeIoException {
    int index = NetIf.index(ifname);
    byte[] mac = NetIf.mac(ifname);
    return new UnsolicitedNa(LinkLayerSocket.open(ifname, index, ETH_P_IPV6, ALL_NODES_MAC,
        "unsolicited neighbour advertisement"), mac);
  }

  @Override
  public synchronized void announce(byte[] addresses, int off) throws NativeIoException {
    int n = frame(frame, 0, mac, addresses, off, FLAGS);
    socket.send(frame, n);
  }

  /**
   * Writes the 86-byte frame for the 16-byte {@code target} at {@code t} into {@code f} at
   * {@code off}, with these NA flags (the byte after the checksum); returns its length.
   */
  public static int frame(byte[] f, int off, byte[] mac, byte[] target, int t, int flags) {
    int i = off;
    System.arraycopy(ALL_NODES_MAC, 0, f, i, 6);
    System.arraycopy(mac, 0, f, i + 6, 6);
    f[i + 12] = (byte) 0x86;
    f[i + 13] = (byte) 0xdd;
    int ip = i + 14;
    f[ip] = 0x60;
    f[ip + 1] = 0;
    f[ip + 2] = 0;
    f[ip + 3] = 0;
    f[ip + 4] = 0;
    f[ip + 5] = 32; // payload length
    f[ip + 6] = 58; // ICMPv6
    f[ip + 7] = (byte) 255;
    System.arraycopy(target, t, f, ip + 8, 16); // source: the VIP itself, as keepalived
    System.arraycopy(ALL_NODES, 0, f, ip + 24, 16);
    int icmp = ip + 40;
    f[icmp] = (byte) 136;
    f[icmp + 1] = 0;
    f[icmp + 2] = 0;
    f[icmp + 3] = 0;
    f[icmp + 4] = (byte) flags;
    f[icmp + 5] = 0;
    f[icmp + 6] = 0;
    f[icmp + 7] = 0;
    System.arraycopy(target, t, f, icmp + 8, 16);
    f[icmp + 24] = 2; // target link-layer address
    f[icmp + 25] = 1; // in units of 8 bytes
    System.arraycopy(mac, 0, f, icmp + 26, 6);
    int c = IpPacket.pseudoHeaderChecksum(f, ip, 6, IpPacket.PROTO_ICMPV6, icmp, 32);
    f[icmp + 2] = (byte) (c >>> 8);
    f[icmp + 3] = (byte) c;
    return FRAME_LENGTH;
  }

  @Override
  public void close() {
    socket.close();
  }
}
