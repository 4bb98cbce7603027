package io.dctun.ha.internal;

import io.dctun.tun.NativeIoException;
import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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
public final class GratuitousArp implements Closeable {
  public static final int FRAME_LENGTH = 42;
  private static final int ETH_P_ARP = 0x0806;

  private final HaLibC libc = HaLibC.get();
  private final byte[] mac;
  private final byte[] sll;
  private final byte[] frame = new byte[FRAME_LENGTH];
  private int fd;

  private GratuitousArp(int fd, int ifindex, byte[] mac) {
    this.fd = fd;
    this.mac = mac;
    // struct sockaddr_ll: u16 family, be16 protocol, s32 ifindex, u16 hatype, u8 pkttype,
    // u8 halen, u8 addr[8]
    ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
    b.putShort((short) HaLibC.AF_PACKET);
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) ETH_P_ARP);
    b.order(ByteOrder.nativeOrder()).putInt(ifindex).putShort((short) 1).put((byte) 0)
        .put((byte) 6);
    for (int i = 0; i < 6; i++) {
      b.put((byte) 0xff);
    }
    this.sll = b.array();
  }

  /** Opens an AF_PACKET socket for {@code ifname} (in the calling thread's namespace). */
  public static GratuitousArp open(String ifname) throws NativeIoException {
    int index = NetIf.index(ifname);
    byte[] mac = NetIf.mac(ifname);
    int proto = Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ARP)); // htons
    int fd = HaLibC.get().socket(HaLibC.AF_PACKET, HaLibC.SOCK_RAW | HaLibC.SOCK_CLOEXEC, proto);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_PACKET, SOCK_RAW) for gratuitous ARP on " + ifname,
          HaLibC.errno(), null);
    }
    return new GratuitousArp(fd, index, mac);
  }

  public byte[] mac() {
    return mac.clone();
  }

  /** Sends one gratuitous ARP for {@code vip} (big-endian int). */
  public synchronized void send(int vip) throws NativeIoException {
    int n = frame(frame, 0, mac, vip);
    if (libc.sendto(fd, frame, n, 0, sll, sll.length) < 0) {
      throw new NativeIoException("send gratuitous ARP", HaLibC.errno(), null);
    }
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
  public synchronized void close() {
    if (fd >= 0) {
      libc.close(fd);
      fd = -1;
    }
  }
}
