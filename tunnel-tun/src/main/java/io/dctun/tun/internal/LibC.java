package io.dctun.tun.internal;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.annotations.Variadic;

/**
 * The few libc calls the TUN device and netlink need, bound through jnr-ffi. jnr-posix has no
 * {@code ioctl}, hence this interface. Every call saves errno; read it with {@link #errno()}.
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
  int EAGAIN = 11;

  int AF_NETLINK = 16;
  int SOCK_RAW = 3;
  int SOCK_CLOEXEC = 0x80000;
  int NETLINK_ROUTE = 0;

  int CLONE_NEWNET = 0x40000000;

  int open(String path, int flags);

  int close(int fd);

  long read(int fd, Pointer buf, long count);

  long write(int fd, Pointer buf, long count);

  int poll(Pointer fds, long nfds, int timeoutMillis);

  int pipe2(@Out int[] fds, int flags);

  @Variadic(fixedCount = 2)
  int ioctl(int fd, long request, Pointer arg);

  int socket(int domain, int type, int protocol);

  int bind(int fd, @In byte[] addr, int addrlen);

  long send(int fd, @In byte[] buf, long len, int flags);

  long recv(int fd, @Out byte[] buf, long len, int flags);

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
