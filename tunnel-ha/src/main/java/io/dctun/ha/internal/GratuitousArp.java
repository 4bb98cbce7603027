package io.dctun.ha.internal;

import io.dctun.tun.NativeIoException;

/**
 * Gratuitous ARP in the request form keepalived sends ("who-has VIP tell VIP", target hardware
 * address ff:ff:ff:ff:ff:ff), from the interface's MAC to broadcast, through an AF_PACKET socket.
 *
 * <pre>
 *  Ethernet: dst ff:ff:ff:ff:ff:ff | src MAC | type 0x0806
 *  ARP:      htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op 1 (request)
 *            sha MAC | spa VIP | tha ff:ff:ff:ff:ff:ff | tpa VIP
 * </pre>
 *
 * <p>Thread-safety: {@link #send} may be called from one thread at a time.
 */
public final class GratuitousArp implements Announcer {
  public static final int FRAME_LENGTH = 42;
  private static final int ETH_P_ARP = 0x0806;
  private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

  private final LinkLayerSocket socket;
  private final byte[] mac;
  private final byte[] frame = new byte[FRAME_LENGTH];

  private GratuitousArp(LinkLayerSocket socket, byte[] mac) {
    this.socket = socket;
    this.mac = mac;
  }

  /** Opens an AF_PACKET socket for {@code ifname} (in the calling thread's namespace). */
  public static GratuitousArp open(String ifname) throws NativeIoException {
    int index = NetIf.index(ifname);
    byte[] mac = NetIf.mac(ifname);
    return new GratuitousArp(
        LinkLayerSocket.open(ifname, index, ETH_P_ARP, BROADCAST, "gratuitous ARP"), mac);
  }

  public byte[] mac() {
    return mac.clone();
  }

  /** Sends one gratuitous ARP for {@code vip} (big-endian int). */
  public synchronized void send(int vip) throws NativeIoException {
    int n = frame(frame, 0, mac, vip);
    socket.send(frame, n);
  }

  /** One gratuitous ARP for the 4-byte address at {@code addresses[off]}. */
  @Override
  public void announce(byte[] addresses, int off) throws NativeIoException {
    send((addresses[off] & 0xff) << 24 | (addresses[off + 1] & 0xff) << 16
        | (addresses[off + 2] & 0xff) << 8 | (addresses[off + 3] & 0xff));
  }

  /** Writes the 42-byte frame at {@code off}; returns its length. */
  public static int frame(byte[] f, int off, byte[] mac, int vip) {
    int i = off;
    for (int k = 0; k < 6; k++) {
      f[i++] = (byte) 0xff;
    }
    System.arraycopy(mac, 0, f, i, 6);
    i += 6;
    f[i++] = 0x08;
    f[i++] = 0x06;
    f[i++] = 0x00; // htype Ethernet
    f[i++] = 0x01;
    f[i++] = 0x08; // ptype IPv4
    f[i++] = 0x00;
    f[i++] = 6;
    f[i++] = 4;
    f[i++] = 0x00; // op request
    f[i++] = 0x01;
    System.arraycopy(mac, 0, f, i, 6);
    i += 6;
    i = putIp(f, i, vip);
    for (int k = 0; k < 6; k++) {
      f[i++] = (byte) 0xff;
    }
    i = putIp(f, i, vip);
    return i - off;
  }

  private static int putIp(byte[] f, int i, int a) {
    f[i] = (byte) (a >>> 24);
    f[i + 1] = (byte) (a >>> 16);
    f[i + 2] = (byte) (a >>> 8);
    f[i + 3] = (byte) a;
    return i + 4;
  }

  @Override
  public void close() {
    socket.close();
  }
}
