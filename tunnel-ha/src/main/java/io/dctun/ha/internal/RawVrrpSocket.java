package io.dctun.ha.internal;

import io.dctun.ha.VrrpCodec;
import io.dctun.tun.NativeIoException;
import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A raw IPv4 socket for protocol 112 bound to one interface. It sends whole IP packets
 * ({@code IP_HDRINCL}: the codec writes TTL 255 and the source address the checksum covers) and
 * receives whole IP packets. Multicast mode joins 224.0.0.18 on the interface, with loopback off
 * so our own adverts do not come back; TTL 255 is set for multicast and unicast alike.
 *
 * <p>Reads never block: the owner polls {@link #fd()} (with its wake-up pipe) and then calls
 * {@link #receive}.
 *
 * <p>Thread-safety: send and receive may run on different threads; close once, after both stop.
 */
public final class RawVrrpSocket implements Closeable {
  private final HaLibC libc = HaLibC.get();
  private final String ifname;
  private final byte[] sockaddr = new byte[16];
  private volatile int fd;

  private RawVrrpSocket(int fd, String ifname) {
    this.fd = fd;
    this.ifname = ifname;
  }

  /** Opens the socket on {@code ifname} (in the calling thread's network namespace). */
  public static RawVrrpSocket open(String ifname, boolean multicast) throws NativeIoException {
    HaLibC libc = HaLibC.get();
    int index = NetIf.index(ifname);
    int fd = libc.socket(HaLibC.AF_INET, HaLibC.SOCK_RAW | HaLibC.SOCK_CLOEXEC,
        VrrpCodec.IP_PROTO_VRRP);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_INET, SOCK_RAW, 112)", HaLibC.errno(),
          "raw sockets need CAP_NET_RAW");
    }
    boolean ok = false;
    try {
      byte[] dev = (ifname + "\0").getBytes(StandardCharsets.US_ASCII);
      opt(libc, fd, HaLibC.SOL_SOCKET, HaLibC.SO_BINDTODEVICE, dev, "SO_BINDTODEVICE " + ifname);
      opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_HDRINCL, intOpt(1), "IP_HDRINCL");
      opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_TTL, intOpt(255), "IP_TTL 255");
      opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_MULTICAST_TTL, intOpt(255), "IP_MULTICAST_TTL");
      opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_MULTICAST_LOOP, intOpt(0), "IP_MULTICAST_LOOP");
      opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_MULTICAST_IF, mreqn(0, index),
          "IP_MULTICAST_IF " + ifname);
      if (multicast) {
        opt(libc, fd, HaLibC.IPPROTO_IP, HaLibC.IP_ADD_MEMBERSHIP,
            mreqn(VrrpCodec.VRRP_MULTICAST, index), "IP_ADD_MEMBERSHIP 224.0.0.18 on " + ifname);
      }
      ok = true;
      return new RawVrrpSocket(fd, ifname);
    } finally {
      if (!ok) {
        libc.close(fd);
      }
    }
  }

  public int fd() {
    return fd;
  }

  public String interfaceName() {
    return ifname;
  }

  /** Sends {@code len} bytes of a whole IP packet to {@code destination} (big-endian int). */
  public void send(byte[] packet, int len, int destination) throws NativeIoException {
    // struct sockaddr_in: u16 family (native), be16 port, be32 addr, 8 zero bytes
    ByteBuffer b = ByteBuffer.wrap(sockaddr).order(ByteOrder.nativeOrder());
    b.putShort(0, (short) HaLibC.AF_INET);
    b.order(ByteOrder.BIG_ENDIAN).putShort(2, (short) 0).putInt(4, destination);
    long n;
    synchronized (sockaddr) {
      do {
        n = libc.sendto(fd, packet, len, 0, sockaddr, sockaddr.length);
      } while (n < 0 && HaLibC.errno() == HaLibC.EINTR);
    }
    if (n < 0) {
      throw new NativeIoException("send VRRP advert on " + ifname, HaLibC.errno(), null);
    }
  }

  /** One packet if one is queued, else 0 (never blocks). */
  public int receive(byte[] buf) throws NativeIoException {
    long n = libc.recv(fd, buf, buf.length, HaLibC.MSG_DONTWAIT);
    if (n < 0) {
      int e = HaLibC.errno();
      if (e == HaLibC.EAGAIN || e == HaLibC.EINTR) {
        return 0;
      }
      throw new NativeIoException("receive on VRRP socket on " + ifname, e, null);
    }
    return (int) n;
  }

  @Override
  public void close() {
    int f = fd;
    if (f >= 0) {
      fd = -1;
      libc.close(f);
    }
  }

  private static void opt(HaLibC libc, int fd, int level, int name, byte[] v, String what)
      throws NativeIoException {
    if (libc.setsockopt(fd, level, name, v, v.length) < 0) {
      throw new NativeIoException("setsockopt " + what, HaLibC.errno(), null);
    }
  }

  private static byte[] intOpt(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }

  /** struct ip_mreqn { be32 multiaddr; be32 address; int ifindex; } */
  private static byte[] mreqn(int group, int ifindex) {
    ByteBuffer b = ByteBuffer.allocate(12);
    b.putInt(group).putInt(0);
    b.order(ByteOrder.nativeOrder()).putInt(ifindex);
    return b.array();
  }
}
