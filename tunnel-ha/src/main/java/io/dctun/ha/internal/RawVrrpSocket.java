package io.dctun.ha.internal;

import io.dctun.ha.VrrpCodec;
import io.dctun.tun.LibC;
import io.dctun.tun.NativeIoException;
import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * A raw socket for protocol 112 bound to one interface.
 *
 * <p>IPv4: it sends whole IP packets ({@code IP_HDRINCL}: the codec writes TTL 255 and the source
 * address the checksum covers) and receives whole IP packets. Multicast mode joins 224.0.0.18 on
 * the interface, with loopback off so our own adverts do not come back; TTL 255 is set for
 * multicast and unicast alike.
 *
 * <p>IPv6: the kernel writes the header, so the socket is bound to the link-local source the
 * codec's checksum covers, with hop limit 255 and traffic class 0xc0 for multicast and unicast;
 * multicast mode joins ff02::12. A received advert comes with its source (the socket address),
 * its destination ({@code IPV6_PKTINFO}) and its hop limit ({@code IPV6_HOPLIMIT}), from which
 * {@link #receive} rebuilds a 40-byte IPv6 header in front of the VRRP message, so the codec
 * checks both families the same way (hop limit 255, checksum over the pseudo-header).
 *
 * <p>Reads never block: the owner polls {@link #fd()} (with its wake-up pipe) and then calls
 * {@link #receive}.
 *
 * <p>Thread-safety: send and receive may run on different threads; close once, after both stop.
 */
public final class RawVrrpSocket implements Closeable {
  private static final int MSGHDR = 56;
  private static final int IOVEC = 16;
  private static final int NAME6 = 28;
  private static final int CONTROL = 128;
  private static final int DATA = 4096;

  private final LibC libc = LibC.get();
  private final String ifname;
  private final int family;
  private final int ifindex;
  private final byte[] sockaddr;
  /** IPv6 receive: msghdr, iovec, name, control and data in one native block. */
  private final Pointer rx;
  private volatile int fd;

  private RawVrrpSocket(int fd, String ifname, int family, int ifindex) {
    this.fd = fd;
    this.ifname = ifname;
    this.family = family;
    this.ifindex = ifindex;
    this.sockaddr = new byte[family == 6 ? NAME6 : 16];
    this.rx = family == 6
        ? Memory.allocateDirect(LibC.runtime(), MSGHDR + IOVEC + NAME6 + 4 + CONTROL + DATA, true)
        : null;
  }

  /** Opens an IPv4 socket on {@code ifname} (in the calling thread's network namespace). */
  public static RawVrrpSocket open(String ifname, boolean multicast) throws NativeIoException {
    LibC libc = LibC.get();
    int index = NetIf.index(ifname);
    int fd = libc.socket(LibC.AF_INET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC,
        VrrpCodec.IP_PROTO_VRRP);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_INET, SOCK_RAW, 112)", LibC.errno(),
          "raw sockets need CAP_NET_RAW");
    }
    boolean ok = false;
    try {
      byte[] dev = (ifname + "\0").getBytes(StandardCharsets.US_ASCII);
      opt(libc, fd, LibC.SOL_SOCKET, LibC.SO_BINDTODEVICE, dev, "SO_BINDTODEVICE " + ifname);
      opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_HDRINCL, intOpt(1), "IP_HDRINCL");
      opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_TTL, intOpt(255), "IP_TTL 255");
      opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_MULTICAST_TTL, intOpt(255), "IP_MULTICAST_TTL");
      opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_MULTICAST_LOOP, intOpt(0), "IP_MULTICAST_LOOP");
      opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_MULTICAST_IF, mreqn(0, index),
          "IP_MULTICAST_IF " + ifname);
      if (multicast) {
        opt(libc, fd, LibC.IPPROTO_IP, LibC.IP_ADD_MEMBERSHIP,
            mreqn(VrrpCodec.VRRP_MULTICAST, index), "IP_ADD_MEMBERSHIP 224.0.0.18 on " + ifname);
      }
      ok = true;
      return new RawVrrpSocket(fd, ifname, 4, index);
    } finally {
      if (!ok) {
        libc.close(fd);
      }
    }
  }

  /**
   * Opens an IPv6 socket on {@code ifname} bound to {@code source} (the interface's link-local
   * address, 16 bytes), in the calling thread's network namespace.
   */
  public static RawVrrpSocket open6(String ifname, boolean multicast, byte[] source)
      throws NativeIoException {
    LibC libc = LibC.get();
    int index = NetIf.index(ifname);
    int fd = libc.socket(LibC.AF_INET6, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC,
        VrrpCodec.IP_PROTO_VRRP);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_INET6, SOCK_RAW, 112)", LibC.errno(),
          "raw sockets need CAP_NET_RAW, and IPv6 must be enabled");
    }
    boolean ok = false;
    try {
      byte[] dev = (ifname + "\0").getBytes(StandardCharsets.US_ASCII);
      opt(libc, fd, LibC.SOL_SOCKET, LibC.SO_BINDTODEVICE, dev, "SO_BINDTODEVICE " + ifname);
      int v6 = LibC.IPPROTO_IPV6;
      opt(libc, fd, v6, LibC.IPV6_UNICAST_HOPS, intOpt(255), "IPV6_UNICAST_HOPS 255");
      opt(libc, fd, v6, LibC.IPV6_MULTICAST_HOPS, intOpt(255), "IPV6_MULTICAST_HOPS 255");
      opt(libc, fd, v6, LibC.IPV6_MULTICAST_LOOP, intOpt(0), "IPV6_MULTICAST_LOOP");
      opt(libc, fd, v6, LibC.IPV6_MULTICAST_IF, intOpt(index), "IPV6_MULTICAST_IF " + ifname);
      opt(libc, fd, v6, LibC.IPV6_TCLASS, intOpt(VrrpCodec.TOS_NETWORK_CONTROL), "IPV6_TCLASS");
      opt(libc, fd, v6, LibC.IPV6_RECVPKTINFO, intOpt(1), "IPV6_RECVPKTINFO");
      opt(libc, fd, v6, LibC.IPV6_RECVHOPLIMIT, intOpt(1), "IPV6_RECVHOPLIMIT");
      byte[] bind = sockaddr6(new byte[NAME6], source, index);
      if (libc.bind(fd, bind, bind.length) < 0) {
        throw new NativeIoException("bind the VRRP socket to " + NetIf.format6(source) + "%" + ifname,
            LibC.errno(), "the address must be on the interface and past duplicate address detection");
      }
      if (multicast) {
        ByteBuffer m = ByteBuffer.allocate(20);
        m.put(VrrpCodec.vrrpMulticast6()).order(ByteOrder.nativeOrder()).putInt(index);
        opt(libc, fd, v6, LibC.IPV6_ADD_MEMBERSHIP, m.array(), "IPV6_ADD_MEMBERSHIP ff02::12 on " + ifname);
      }
      ok = true;
      return new RawVrrpSocket(fd, ifname, 6, index);
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

  /** 4 or 6. */
  public int family() {
    return family;
  }

  /**
   * IPv6: sends the VRRP message of a packet {@link VrrpCodec#encodeIpv6} wrote ({@code len}
   * bytes in all; the 40-byte header stays ours, the kernel writes its own) to the 16-byte
   * {@code destination}.
   */
  public void send6(byte[] packet, int len, byte[] destination) throws NativeIoException {
    byte[] msg = java.util.Arrays.copyOfRange(packet, VrrpCodec.IPV6_HEADER, len);
    long n;
    synchronized (sockaddr) {
      sockaddr6(sockaddr, destination, ifindex);
      do {
        n = libc.sendto(fd, msg, msg.length, 0, sockaddr, sockaddr.length);
      } while (n < 0 && LibC.errno() == LibC.EINTR);
    }
    if (n < 0) {
      throw new NativeIoException("send VRRP advert on " + ifname, LibC.errno(), null);
    }
  }

  /** Sends {@code len} bytes of a whole IPv4 packet to {@code destination} (big-endian int). */
  public void send(byte[] packet, int len, int destination) throws NativeIoException {
    // struct sockaddr_in: u16 family (native), be16 port, be32 addr, 8 zero bytes
    ByteBuffer b = ByteBuffer.wrap(sockaddr).order(ByteOrder.nativeOrder());
    b.putShort(0, (short) LibC.AF_INET);
    b.order(ByteOrder.BIG_ENDIAN).putShort(2, (short) 0).putInt(4, destination);
    long n;
    synchronized (sockaddr) {
      do {
        n = libc.sendto(fd, packet, len, 0, sockaddr, sockaddr.length);
      } while (n < 0 && LibC.errno() == LibC.EINTR);
    }
    if (n < 0) {
      throw new NativeIoException("send VRRP advert on " + ifname, LibC.errno(), null);
    }
  }

  /**
   * One packet if one is queued, else 0 (never blocks): the whole IPv4 packet, or for IPv6 a
   * rebuilt 40-byte header and the VRRP message. A message longer than {@code buf} (or than 4 KiB
   * for IPv6) comes back with a header whose length exceeds what follows, so it is dropped as a
   * bad header.
   */
  public int receive(byte[] buf) throws NativeIoException {
    if (family == 6) {
      return receive6(buf);
    }
    long n = libc.recv(fd, buf, buf.length, LibC.MSG_DONTWAIT);
    if (n < 0) {
      int e = LibC.errno();
      if (e == LibC.EAGAIN || e == LibC.EINTR) {
        return 0;
      }
      throw new NativeIoException("receive on VRRP socket on " + ifname, e, null);
    }
    return (int) n;
  }

  private int receive6(byte[] buf) throws NativeIoException {
    // layout in rx: msghdr | iovec | name (28 + 4 pad) | control | data
    long base = rx.address();
    int iov = MSGHDR;
    int name = iov + IOVEC;
    int control = name + NAME6 + 4;
    int data = control + CONTROL;
    rx.putLong(0, base + name);
    rx.putInt(8, NAME6);
    rx.putInt(12, 0);
    rx.putLong(16, base + iov);
    rx.putLong(24, 1);
    rx.putLong(32, base + control);
    rx.putLong(40, CONTROL);
    rx.putInt(48, 0);
    rx.putLong(iov, base + data);
    rx.putLong(iov + 8, DATA);
    long n = libc.recvmsg(fd, rx, LibC.MSG_DONTWAIT);
    if (n < 0) {
      int e = LibC.errno();
      if (e == LibC.EAGAIN || e == LibC.EINTR) {
        return 0;
      }
      throw new NativeIoException("receive on VRRP socket on " + ifname, e, null);
    }
    int hdr = VrrpCodec.IPV6_HEADER;
    boolean truncated = (rx.getInt(48) & LibC.MSG_TRUNC) != 0;
    int copy = (int) Math.min(n, buf.length - hdr);
    java.util.Arrays.fill(buf, 0, hdr, (byte) 0);
    buf[0] = 0x60;
    int payload = truncated || copy < n ? 0xffff : (int) n;
    buf[4] = (byte) (payload >>> 8);
    buf[5] = (byte) payload;
    buf[6] = (byte) VrrpCodec.IP_PROTO_VRRP;
    buf[7] = 0; // hop limit unknown until the ancillary data says: a missing one fails the check
    rx.get(name + 8, buf, 8, 16); // sockaddr_in6.sin6_addr
    long clen = rx.getLong(40);
    int c = 0;
    while (c + 16 <= clen) { // struct cmsghdr: size_t len, int level, int type, data
      long len = rx.getLong(control + c);
      int level = rx.getInt(control + c + 8);
      int type = rx.getInt(control + c + 12);
      if (len < 16 || c + len > clen) {
        break;
      }
      if (level == LibC.IPPROTO_IPV6 && type == LibC.IPV6_HOPLIMIT && len >= 20) {
        buf[7] = (byte) rx.getInt(control + c + 16);
      } else if (level == LibC.IPPROTO_IPV6 && type == LibC.IPV6_PKTINFO && len >= 32) {
        rx.get(control + c + 16, buf, 24, 16); // in6_pktinfo.ipi6_addr
      }
      c += (int) ((len + 7) & ~7L);
    }
    rx.get(data, buf, hdr, copy);
    return hdr + copy;
  }

  /** struct sockaddr_in6: u16 family, be16 port, be32 flow info, 16-byte address, u32 scope id. */
  private static byte[] sockaddr6(byte[] into, byte[] address, int scope) {
    ByteBuffer b = ByteBuffer.wrap(into).order(ByteOrder.nativeOrder());
    b.putShort((short) LibC.AF_INET6).putShort((short) 0).putInt(0).put(address, 0, 16);
    b.putInt(scope);
    return into;
  }

  @Override
  public void close() {
    int f = fd;
    if (f >= 0) {
      fd = -1;
      libc.close(f);
    }
  }

  private static void opt(LibC libc, int fd, int level, int name, byte[] v, String what)
      throws NativeIoException {
    if (libc.setsockopt(fd, level, name, v, v.length) < 0) {
      throw new NativeIoException("setsockopt " + what, LibC.errno(), null);
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
