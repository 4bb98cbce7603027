package io.dctun.tun;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.annotations.Variadic;

/**
 * dctun's one libc binding, through jnr-ffi: the calls the TUN device, netlink, VRRP's raw
 * sockets, gratuitous ARP and interface queries need (jnr-posix has no {@code ioctl}, no raw
 * sockets and no {@code recvmsg}). Calls that take Java arrays copy them in or out per call: fine
 * for control traffic (netlink, VRRP's few packets a second); the packet path uses the
 * {@link Pointer} forms on native memory. Every call saves errno; read it with {@link #errno()}.
 *
 * <p>Linux x86-64 and aarch64 values (the two the launcher supports).
 *
 * <p>Thread-safety: the binding is stateless; errno is per thread.
 */
@SaveError
public interface LibC {
  int O_RDWR = 0x2;
  int O_NONBLOCK = 0x800;
  int O_CLOEXEC = 0x80000;

  short POLLIN = 0x1;
  short POLLERR = 0x8;
  short POLLHUP = 0x10;
  short POLLNVAL = 0x20;

  int EINTR = 4;
  int EBADF = 9;
  int EAGAIN = 11;
  int EEXIST = 17;
  int EADDRNOTAVAIL = 99;

  int AF_INET = 2;
  int AF_INET6 = 10;
  int AF_NETLINK = 16;
  int AF_PACKET = 17;
  int SOCK_DGRAM = 2;
  int SOCK_RAW = 3;
  int SOCK_CLOEXEC = 0x80000;
  int NETLINK_ROUTE = 0;
  int MSG_TRUNC = 0x20;
  int MSG_DONTWAIT = 0x40;

  int SOL_SOCKET = 1;
  int SO_BINDTODEVICE = 25;
  int IPPROTO_IP = 0;
  int IP_TTL = 2;
  int IP_HDRINCL = 3;
  int IP_MULTICAST_IF = 32;
  int IP_MULTICAST_TTL = 33;
  int IP_MULTICAST_LOOP = 34;
  int IP_ADD_MEMBERSHIP = 35;

  int IPPROTO_IPV6 = 41;
  int IPV6_UNICAST_HOPS = 16;
  int IPV6_MULTICAST_IF = 17;
  int IPV6_MULTICAST_HOPS = 18;
  int IPV6_MULTICAST_LOOP = 19;
  int IPV6_ADD_MEMBERSHIP = 20;
  int IPV6_RECVPKTINFO = 49;
  int IPV6_PKTINFO = 50;
  int IPV6_RECVHOPLIMIT = 51;
  int IPV6_HOPLIMIT = 52;
  int IPV6_TCLASS = 67;

  long SIOCGIFFLAGS = 0x8913;
  long SIOCGIFADDR = 0x8915;
  long SIOCGIFHWADDR = 0x8927;
  int IFF_UP = 0x1;
  int IFF_RUNNING = 0x40;

  int CLONE_NEWNET = 0x40000000;

  int open(String path, int flags);

  int close(int fd);

  long read(int fd, Pointer buf, long count);

  long read(int fd, @Out byte[] buf, long count);

  long write(int fd, Pointer buf, long count);

  long write(int fd, @In byte[] buf, long count);

  int poll(Pointer fds, long nfds, int timeoutMillis);

  /** {@code struct pollfd[]} as bytes: int fd, short events, short revents (native order). */
  int poll(@In @Out byte[] fds, long nfds, int timeoutMillis);

  int pipe2(@Out int[] fds, int flags);

  @Variadic(fixedCount = 2)
  int ioctl(int fd, long request, Pointer arg);

  int socket(int domain, int type, int protocol);

  int bind(int fd, @In byte[] addr, int addrlen);

  long send(int fd, @In byte[] buf, long len, int flags);

  long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);

  long recv(int fd, @Out byte[] buf, long len, int flags);

  /** {@code struct msghdr} and everything it points to live in native memory. */
  long recvmsg(int fd, Pointer msghdr, int flags);

  int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

  int if_nametoindex(String name);

  int unshare(int flags);

  long syscall(long number);

  /** The bound library, loaded on first use. */
  static LibC get() {
    return Holder.LIBC;
  }

  /** errno saved by the last call on this thread. */
  static int errno() {
    return Runtime.getRuntime(Holder.LIBC).getLastError();
  }

  /** The runtime, for allocating native memory. */
  static Runtime runtime() {
    return Runtime.getRuntime(Holder.LIBC);
  }

  /** Lazy holder: loading fails with a clear error only when native I/O is first used. */
  final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");

    private Holder() {}
  }
}
