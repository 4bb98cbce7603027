package io.dctun.tun;

import io.dctun.tun.internal.NetlinkMessage;
import java.io.Closeable;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Configures a network interface over rtnetlink ({@code AF_NETLINK}, {@code NETLINK_ROUTE}):
 * MTU, up/down, IPv4/IPv6 addresses, routes through the interface, deleting the link. Each
 * request asks for an ACK; a refusal becomes a {@link NativeIoException} carrying the errno
 * and, when the kernel gives one, its extended-ack text.
 *
 * <p>Removing what was added: a {@link LinuxTun} is not persistent, so closing it deletes the
 * interface and the kernel drops its addresses and the routes through it. {@link #close()}
 * only closes the netlink socket.
 *
 * <p>The socket belongs to the network namespace of the thread that opens it.
 *
 * <p>Thread-safety: requests are serialised; any thread may call any method.
 */
public final class LinkConfig implements Closeable {

  // <linux/rtnetlink.h>
  private static final short RTM_NEWLINK = 16;
  private static final short RTM_DELLINK = 17;
  private static final short RTM_NEWADDR = 20;
  private static final short RTM_DELADDR = 21;
  private static final short RTM_NEWROUTE = 24;
  private static final short RTM_DELROUTE = 25;

  private static final int AF_UNSPEC = 0;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;

  private static final int IFF_UP = 0x1;
  private static final int IFLA_MTU = 4;
  private static final int IFA_ADDRESS = 1;
  private static final int IFA_LOCAL = 2;
  private static final int IFA_F_NODAD = 0x02;
  private static final int RTA_DST = 1;
  private static final int RTA_OIF = 4;
  private static final int RT_TABLE_MAIN = 254;
  private static final int RTPROT_STATIC = 4;
  private static final int RT_SCOPE_UNIVERSE = 0;
  private static final int RT_SCOPE_LINK = 253;
  private static final int RT_SCOPE_NOWHERE = 255;
  private static final int RTN_UNICAST = 1;

  private static final int SOL_SOCKET = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final int SOL_NETLINK = 270;
  private static final int NETLINK_CAP_ACK = 10;
  private static final int NETLINK_EXT_ACK = 11;

  /** How long to wait for the kernel's ACK before giving up. */
  private static final int ACK_TIMEOUT_SECONDS = 5;

  private final LibC libc;
  private final byte[] recvBuf = new byte[65536];
  private int fd;
  private int seq;

  private LinkConfig(LibC libc, int fd) {
    this.libc = libc;
    this.fd = fd;
    this.seq = (int) (System.nanoTime() & 0x3fffffff);
  }

  /** Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
  public static LinkConfig open() throws IOException {
    LibC libc = LibC.get();
    int fd = libc.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.NETLINK_ROUTE);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_NETLINK, NETLINK_ROUTE)", LibC.errno(), null);
    }
    boolean ok = false;
    try {
      // struct sockaddr_nl { u16 family; u16 pad; u32 pid (0: kernel assigns); u32 groups; }
      byte[] sa = ByteBuffer.allocate(12).order(ByteOrder.nativeOrder())
          .putShort((short) LibC.AF_NETLINK).array();
      if (libc.bind(fd, sa, sa.length) < 0) {
        throw new NativeIoException("bind netlink socket", LibC.errno(), null);
      }
      // Best effort: older kernels lack these; errors then carry only the errno.
      byte[] one = intBytes(1);
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      byte[] tv = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder())
          .putLong(ACK_TIMEOUT_SECONDS).putLong(0).array();
      if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length) < 0) {
        throw new NativeIoException("setsockopt SO_RCVTIMEO on netlink socket", LibC.errno(), null);
      }
      ok = true;
      return new LinkConfig(libc, fd);
    } finally {
      if (!ok) {
        libc.close(fd);
      }
    }
  }

  /** Sets the interface MTU. */
  public synchronized void setMtu(String ifname, int mtu) throws IOException {
    if (mtu < 68 || mtu > 65535) {
      throw new IllegalArgumentException("MTU must be 68..65535: " + mtu);
    }
    int index = indexOf(ifname);
    NetlinkMessage m = ifinfo(RTM_NEWLINK, NetlinkMessage.NLM_F_ACK, index, 0, 0);
    m.attrU32(IFLA_MTU, mtu);
    request(m, "set MTU " + mtu + " on " + ifname);
  }

  /** Brings the interface up or down. */
  public synchronized void setUp(String ifname, boolean up) throws IOException {
    int index = indexOf(ifname);
    NetlinkMessage m =
        ifinfo(RTM_NEWLINK, NetlinkMessage.NLM_F_ACK, index, up ? IFF_UP : 0, IFF_UP);
    request(m, "set " + ifname + (up ? " up" : " down"));
  }

  /** Deletes the interface (and with it its addresses and routes). */
  public synchronized void deleteLink(String ifname) throws IOException {
    int index = indexOf(ifname);
    request(ifinfo(RTM_DELLINK, NetlinkMessage.NLM_F_ACK, index, 0, 0), "delete link " + ifname);
  }

  /** Adds {@code address/prefixLength}; fails with EEXIST if it is already there. */
  public synchronized void addAddress(String ifname, InetAddress address, int prefixLength)
      throws IOException {
    address(RTM_NEWADDR, ifname, address, prefixLength, "add address");
  }

  /** Removes {@code address/prefixLength}. */
  public synchronized void removeAddress(String ifname, InetAddress address, int prefixLength)
      throws IOException {
    address(RTM_DELADDR, ifname, address, prefixLength, "remove address");
  }

  /**
   * Adds a route to {@code destination/prefixLength} through the interface (no gateway), in the
   * main table; fails with EEXIST rather than replacing an existing route, and with ENETDOWN
   * while the link is down (bring it up first).
   */
  public synchronized void addRoute(String ifname, InetAddress destination, int prefixLength)
      throws IOException {
    route(RTM_NEWROUTE, ifname, destination, prefixLength, "add route");
  }

  /** Removes a route added by {@link #addRoute}. */
  public synchronized void removeRoute(String ifname, InetAddress destination, int prefixLength)
      throws IOException {
    route(RTM_DELROUTE, ifname, destination, prefixLength, "remove route");
  }

  @Override
  public synchronized void close() {
    if (fd >= 0) {
      libc.close(fd);
      fd = -1;
    }
  }

  private void address(short type, String ifname, InetAddress a, int prefix, String what)
      throws IOException {
    int family = family(a, prefix);
    int index = indexOf(ifname);
    short flags = NetlinkMessage.NLM_F_ACK;
    if (type == RTM_NEWADDR) {
      flags |= NetlinkMessage.NLM_F_CREATE | NetlinkMessage.NLM_F_EXCL;
    }
    // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index; }
    NetlinkMessage m = new NetlinkMessage(type, (short) (NetlinkMessage.NLM_F_REQUEST | flags), ++seq)
        .u8(family).u8(prefix).u8(family == AF_INET6 ? IFA_F_NODAD : 0).u8(RT_SCOPE_UNIVERSE)
        .u32(index);
    m.attr(IFA_LOCAL, a.getAddress()).attr(IFA_ADDRESS, a.getAddress());
    request(m, what + " " + a.getHostAddress() + "/" + prefix + " on " + ifname);
  }

  private void route(short type, String ifname, InetAddress dst, int prefix, String what)
      throws IOException {
    int family = family(dst, prefix);
    int index = indexOf(ifname);
    byte[] net = network(dst.getAddress(), prefix);
    boolean add = type == RTM_NEWROUTE;
    short flags = NetlinkMessage.NLM_F_ACK;
    if (add) {
      flags |= NetlinkMessage.NLM_F_CREATE | NetlinkMessage.NLM_F_EXCL;
    }
    int scope = !add ? RT_SCOPE_NOWHERE : family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
    NetlinkMessage m = new NetlinkMessage(type, (short) (NetlinkMessage.NLM_F_REQUEST | flags), ++seq)
        .u8(family).u8(prefix).u8(0).u8(0)
        .u8(RT_TABLE_MAIN).u8(add ? RTPROT_STATIC : 0).u8(scope).u8(RTN_UNICAST)
        .u32(0);
    m.attr(RTA_DST, net).attrU32(RTA_OIF, index);
    InetAddress shown = InetAddress.getByAddress(net);
    request(m, what + " " + shown.getHostAddress() + "/" + prefix + " dev " + ifname);
  }

  private NetlinkMessage ifinfo(short type, short flags, int index, int ifFlags, int change) {
    // struct ifinfomsg { u8 family, pad; u16 type; s32 index; u32 flags; u32 change; }
    return new NetlinkMessage(type, (short) (NetlinkMessage.NLM_F_REQUEST | flags), ++seq)
        .u8(AF_UNSPEC).u8(0).u16(0).u32(index).u32(ifFlags).u32(change);
  }

  private void request(NetlinkMessage m, String what) throws IOException {
    if (fd < 0) {
      throw new IOException("netlink socket closed; cannot " + what);
    }
    int mySeq = seq;
    byte[] msg = m.finish();
    while (libc.send(fd, msg, msg.length, 0) < 0) {
      int e = LibC.errno();
      if (e != LibC.EINTR) {
        throw new NativeIoException(what + ": netlink send", e, null);
      }
    }
    while (true) {
      long n = libc.recv(fd, recvBuf, recvBuf.length, 0);
      if (n < 0) {
        int e = LibC.errno();
        if (e == LibC.EINTR) {
          continue;
        }
        if (e == LibC.EAGAIN) {
          throw new NativeIoException(
              what, e, "no netlink ACK within " + ACK_TIMEOUT_SECONDS + " s");
        }
        throw new NativeIoException(what + ": netlink recv", e, null);
      }
      Object[] ack = NetlinkMessage.findAck(recvBuf, (int) n, mySeq);
      if (ack == null) {
        continue; // a stale reply to an earlier request that timed out
      }
      int errno = (Integer) ack[0];
      if (errno != 0) {
        String text = (String) ack[1];
        throw new NativeIoException(what, errno, text.isEmpty() ? null : "kernel says: " + text);
      }
      return;
    }
  }

  private int indexOf(String ifname) throws IOException {
    int index = libc.if_nametoindex(ifname);
    if (index == 0) {
      int e = LibC.errno();
      throw new NativeIoException("find interface \"" + ifname + "\"", e,
          "no such interface in this network namespace");
    }
    return index;
  }

  private static int family(InetAddress a, int prefix) {
    int bits = a instanceof Inet4Address ? 32 : 128;
    if (prefix < 0 || prefix > bits) {
      throw new IllegalArgumentException(
          "prefix length must be 0.." + bits + " for " + a.getHostAddress() + ": " + prefix);
    }
    return bits == 32 ? AF_INET : AF_INET6;
  }

  /** The address with host bits cleared: the kernel refuses a route whose host bits are set. */
  static byte[] network(byte[] addr, int prefix) {
    byte[] out = addr.clone();
    for (int i = 0; i < out.length; i++) {
      int keep = Math.max(0, Math.min(8, prefix - 8 * i));
      out[i] &= (byte) (0xff00 >> keep);
    }
    return out;
  }

  private static byte[] intBytes(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }
}
