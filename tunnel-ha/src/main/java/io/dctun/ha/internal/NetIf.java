package io.dctun.ha.internal;

import io.dctun.tun.LibC;
import io.dctun.tun.NativeIoException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * Interface facts from the kernel (ioctl on a datagram socket): index, MAC, first IPv4 address,
 * link state; and the IPv6 link-local address (from {@code /proc/thread-self/net/if_inet6}).
 * Answers for the network namespace of the calling thread.
 */
public final class NetIf {
  private static final int IFREQ = 40;
  private static final int IFNAMSIZ = 16;
  private static final int SCOPE_LINK = 0x20;
  private static final int IFA_F_DADFAILED = 0x08;
  private static final int IFA_F_TENTATIVE = 0x40;

  private NetIf() {}

  public static int index(String ifname) throws NativeIoException {
    int i = LibC.get().if_nametoindex(ifname);
    if (i == 0) {
      throw new NativeIoException("find interface \"" + ifname + "\"", LibC.errno(),
          "no such interface in this network namespace");
    }
    return i;
  }

  /** The 6-byte hardware address. */
  public static byte[] mac(String ifname) throws NativeIoException {
    Pointer p = ifreq(ifname, LibC.SIOCGIFHWADDR, "read MAC of ");
    byte[] mac = new byte[6];
    p.get(IFNAMSIZ + 2, mac, 0, 6); // struct sockaddr: u16 family, then sa_data
    return mac;
  }

  /** The interface's first (primary) IPv4 address as a big-endian int. */
  public static int ipv4(String ifname) throws NativeIoException {
    Pointer p = ifreq(ifname, LibC.SIOCGIFADDR, "read IPv4 address of ");
    byte[] a = new byte[4];
    p.get(IFNAMSIZ + 4, a, 0, 4); // struct sockaddr_in: family, port, addr
    return (a[0] & 0xff) << 24 | (a[1] & 0xff) << 16 | (a[2] & 0xff) << 8 | (a[3] & 0xff);
  }

  /**
   * The interface's IPv6 link-local address (16 bytes) that is usable now (past duplicate
   * address detection) and is none of {@code exclude} (an instance's own link-local VIPs, which
   * the box may hold too). The lowest such address, so the choice is stable; null if none yet.
   */
  public static byte[] ipv6LinkLocal(String ifname, List<byte[]> exclude) throws IOException {
    Path p = Path.of("/proc/thread-self/net/if_inet6");
    if (!Files.exists(p)) {
      throw new IOException(p + " does not exist: IPv6 is disabled on this host");
    }
    byte[] best = null;
    for (String line : Files.readAllLines(p)) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 6 || !f[5].equals(ifname) || f[0].length() != 32) {
        continue;
      }
      int scope = Integer.parseInt(f[3], 16);
      int flags = Integer.parseInt(f[4], 16);
      if (scope != SCOPE_LINK || (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) != 0) {
        continue;
      }
      byte[] a = HexFormat.of().parseHex(f[0]);
      if (exclude.stream().anyMatch(x -> java.util.Arrays.equals(x, a))) {
        continue;
      }
      if (best == null || java.util.Arrays.compareUnsigned(a, best) < 0) {
        best = a;
      }
    }
    return best;
  }

  /** An IPv6 address as text (compressed form). */
  public static String format6(byte[] a) {
    try {
      return java.net.InetAddress.getByAddress(a).getHostAddress().replaceFirst("%.*$", "");
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** Whether the link is administratively up and has carrier (IFF_UP and IFF_RUNNING). */
  public static boolean isRunning(String ifname) throws NativeIoException {
    Pointer p = ifreq(ifname, LibC.SIOCGIFFLAGS, "read flags of ");
    int flags = p.getShort(IFNAMSIZ) & 0xffff;
    return (flags & LibC.IFF_UP) != 0 && (flags & LibC.IFF_RUNNING) != 0;
  }

  private static Pointer ifreq(String ifname, long request, String what)
      throws NativeIoException {
    byte[] name = ifname.getBytes(StandardCharsets.US_ASCII);
    if (name.length >= IFNAMSIZ) {
      throw new IllegalArgumentException("interface name too long: " + ifname);
    }
    LibC libc = LibC.get();
    int fd = libc.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_INET, SOCK_DGRAM)", LibC.errno(), null);
    }
    try {
      Pointer p = Memory.allocateDirect(LibC.runtime(), IFREQ, true);
      p.put(0, name, 0, name.length);
      if (libc.ioctl(fd, request, p) < 0) {
        throw new NativeIoException(what + ifname, LibC.errno(), null);
      }
      return p;
    } finally {
      libc.close(fd);
    }
  }
}
