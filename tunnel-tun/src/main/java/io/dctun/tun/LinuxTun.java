package io.dctun.tun;

import io.dctun.core.device.PacketDevice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * A Linux TUN interface ({@code /dev/net/tun}, {@code IFF_TUN | IFF_NO_PI}), optionally
 * multi-queue: one file descriptor per queue, each a {@link PacketDevice} from {@link
 * #queue(int)}. This object itself reads and writes queue 0.
 *
 * <p>The interface is not persistent: closing the device closes every queue, and the kernel
 * then deletes the interface with its addresses and routes. Configure the link (MTU, addresses,
 * routes, up) with {@link LinkConfig}.
 *
 * <p>Reads never block in the kernel: each queue fd is non-blocking and a reader waits in
 * {@code poll(2)} on it and on a wake-up pipe that {@link #close()} writes, so a reader blocked
 * in {@link #read} returns -1 promptly after close.
 *
 * <p>Network namespace: the interface lives in the namespace of the thread that opens it.
 *
 * <p>Thread-safety: one reader per queue; {@link #write} from any number of threads; {@link
 * #close()} from any thread.
 */
public final class LinuxTun implements PacketDevice {

  /** Longest interface name, bytes (IFNAMSIZ - 1). */
  public static final int MAX_NAME_LENGTH = 15;

  static final String TUN_PATH = "/dev/net/tun";

  // <linux/if_tun.h>
  static final long TUNSETIFF = 0x400454caL; // _IOW('T', 202, int)
  static final short IFF_TUN = 0x0001;
  static final short IFF_NO_PI = 0x1000;
  static final short IFF_MULTI_QUEUE = 0x0100;

  // <linux/sockios.h>
  static final long SIOCGIFMTU = 0x8921;
  static final long SIOCGIFINDEX = 0x8933;

  /*
   * struct ifreq, 40 bytes on x86_64 and aarch64:
   *   0               16        18 / 20                            40
   *   | ifr_name[16]   | flags (short) / mtu, ifindex (int) | union pad |
   */
  static final int IFREQ_SIZE = 40;
  static final int IFREQ_NAME = 0;
  static final int IFREQ_UNION = 16;

  /** Largest packet the kernel can hand us (IPv4/IPv6 total length is 16 bits). */
  static final int MAX_PACKET = 65535;

  private static final int AF_INET = 2;
  private static final int SOCK_DGRAM = 2;

  private final LibC libc;
  private final String name;
  private final int index;
  private final int controlFd; // AF_INET datagram socket in the TUN's namespace, for SIOCGIFMTU
  private final int wakeReadFd;
  private final int wakeWriteFd;
  private final List<Queue> queues;
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
  private final AtomicLong writeErrors = new AtomicLong();
  private final AtomicBoolean closing = new AtomicBoolean();
  private volatile boolean closed;
  private volatile int lastWriteErrno;

  private LinuxTun(
      LibC libc, String name, int index, int controlFd, int wakeRead, int wakeWrite, int[] fds) {
    this.libc = libc;
    this.name = name;
    this.index = index;
    this.controlFd = controlFd;
    this.wakeReadFd = wakeRead;
    this.wakeWriteFd = wakeWrite;
    List<Queue> qs = new ArrayList<>(fds.length);
    for (int i = 0; i < fds.length; i++) {
      qs.add(new Queue(i, fds[i]));
    }
    this.queues = Collections.unmodifiableList(qs);
  }

  /** Opens a single-queue TUN named {@code name} (empty: the kernel picks "tunN"). */
  public static LinuxTun open(String name) throws IOException {
    return open(name, 1, false);
  }

  /**
   * Opens a TUN with {@code queues} queues; more than one implies {@code IFF_MULTI_QUEUE}.
   */
  public static LinuxTun open(String name, int queues) throws IOException {
    return open(name, queues, queues > 1);
  }

  /**
   * Opens a TUN.
   *
   * @param name interface name, at most 15 bytes; empty lets the kernel choose
   * @param queues number of queues (file descriptors), at least 1
   * @param multiQueue set {@code IFF_MULTI_QUEUE}; required when {@code queues > 1}
   * @throws NativeIoException naming the failed step, the reason in words, and the errno
   */
  public static LinuxTun open(String name, int queues, boolean multiQueue) throws IOException {
    if (name == null) {
      name = "";
    }
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    if (nameBytes.length > MAX_NAME_LENGTH) {
      throw new IllegalArgumentException(
          "interface name longer than " + MAX_NAME_LENGTH + " bytes: \"" + name + "\"");
    }
    if (name.indexOf('/') >= 0 || name.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("interface name has '/' or whitespace: \"" + name + "\"");
    }
    if (queues < 1) {
      throw new IllegalArgumentException("queues must be >= 1: " + queues);
    }
    if (queues > 1 && !multiQueue) {
      throw new IllegalArgumentException(queues + " queues need multiQueue");
    }
    LibC libc = LibC.get();
    short flags = (short) (IFF_TUN | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0));
    int[] fds = new int[queues];
    java.util.Arrays.fill(fds, -1);
    int controlFd = -1;
    int[] pipe = {-1, -1};
    boolean ok = false;
    String actualName = name;
    try {
      Pointer ifr = Memory.allocateDirect(LibC.runtime(), IFREQ_SIZE, true);
      for (int i = 0; i < queues; i++) {
        int fd = libc.open(TUN_PATH, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0) {
          int e = LibC.errno();
          throw new NativeIoException("open " + TUN_PATH, e, openReason(e));
        }
        fds[i] = fd;
        ifr.setMemory(0, IFREQ_SIZE, (byte) 0);
        // Queues after the first attach to the interface the first one created.
        byte[] n = actualName.getBytes(StandardCharsets.UTF_8);
        ifr.put(IFREQ_NAME, n, 0, n.length);
        ifr.putShort(IFREQ_UNION, flags);
        if (libc.ioctl(fd, TUNSETIFF, ifr) < 0) {
          int e = LibC.errno();
          throw new NativeIoException(
              "TUNSETIFF \"" + actualName + "\" (queue " + i + ")", e, setIffReason(e, multiQueue));
        }
        actualName = ifr.getString(IFREQ_NAME, 16, StandardCharsets.UTF_8);
      }
      controlFd = libc.socket(AF_INET, SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
      if (controlFd < 0) {
        throw new NativeIoException("socket(AF_INET, SOCK_DGRAM)", LibC.errno(), null);
      }
      int index = ifreqInt(libc, controlFd, SIOCGIFINDEX, actualName, "SIOCGIFINDEX");
      if (libc.pipe2(pipe, LibC.O_NONBLOCK | LibC.O_CLOEXEC) < 0) {
        throw new NativeIoException("pipe2 for the close wake-up", LibC.errno(), null);
      }
      LinuxTun tun = new LinuxTun(libc, actualName, index, controlFd, pipe[0], pipe[1], fds);
      ok = true;
      return tun;
    } finally {
      if (!ok) {
        for (int fd : fds) {
          if (fd >= 0) {
            libc.close(fd);
          }
        }
        if (controlFd >= 0) {
          libc.close(controlFd);
        }
        for (int fd : pipe) {
          if (fd >= 0) {
            libc.close(fd);
          }
        }
      }
    }
  }

  private static String openReason(int errno) {
    switch (errno) {
      case 2: // ENOENT
      case 19: // ENODEV
      case 6: // ENXIO
        return "no TUN device " + TUN_PATH + " (is the tun module loaded / the device mapped?)";
      case 1: // EPERM
      case 13: // EACCES
        return "no permission to open " + TUN_PATH + " (this user needs read-write access: the kernel makes it 0666)";
      default:
        return null;
    }
  }

  private static String setIffReason(int errno, boolean multiQueue) {
    switch (errno) {
      case 1: // EPERM
        return "no permission (need root or CAP_NET_ADMIN)";
      case 16: // EBUSY
        return "interface name in use";
      case 22: // EINVAL
        return multiQueue
            ? "interface name in use by a non-TUN or a single-queue TUN, or bad name/flags"
            : "interface name in use by a non-TUN or a multi-queue TUN, or bad name/flags";
      default:
        return null;
    }
  }

  private static int ifreqInt(LibC libc, int sock, long request, String ifname, String what)
      throws NativeIoException {
    Pointer ifr = Memory.allocateDirect(LibC.runtime(), IFREQ_SIZE, true);
    byte[] n = ifname.getBytes(StandardCharsets.UTF_8);
    ifr.put(IFREQ_NAME, n, 0, n.length);
    if (libc.ioctl(sock, request, ifr) < 0) {
      throw new NativeIoException(what + " \"" + ifname + "\"", LibC.errno(), null);
    }
    return ifr.getInt(IFREQ_UNION);
  }

  @Override
  public String name() {
    return name;
  }

  /** The kernel's interface index. */
  public int index() {
    return index;
  }

  /**
   * The interface MTU as the kernel has it now (one {@code ioctl}; not for the per-packet path).
   *
   * @throws IllegalStateException if closed or the query fails
   */
  @Override
  public int mtu() {
    closeLock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("TUN " + name + " is closed");
      }
      return ifreqInt(libc, controlFd, SIOCGIFMTU, name, "SIOCGIFMTU");
    } catch (NativeIoException e) {
      throw new IllegalStateException(e.getMessage(), e);
    } finally {
      closeLock.readLock().unlock();
    }
  }

  /** Number of queues (file descriptors). */
  public int queueCount() {
    return queues.size();
  }

  /** Queue {@code i} as a device; closing it closes the whole TUN. */
  public PacketDevice queue(int i) {
    return queues.get(i);
  }

  /** Packets {@link #write} passed to the kernel and the kernel refused, over all queues. */
  public long writeErrors() {
    return writeErrors.get();
  }

  /** errno of the latest refused write, 0 if none. */
  public int lastWriteErrno() {
    return lastWriteErrno;
  }

  public boolean isClosed() {
    return closed;
  }

  @Override
  public int read(byte[] buf, int offset, int maxLength) throws IOException {
    return queues.get(0).read(buf, offset, maxLength);
  }

  @Override
  public int readBatch(byte[][] bufs, int offset, int[] lengths) throws IOException {
    return queues.get(0).readBatch(bufs, offset, lengths);
  }

  @Override
  public void write(byte[] buf, int offset, int length) throws IOException {
    queues.get(0).write(buf, offset, length);
  }

  /**
   * Wakes every blocked reader (they return -1), waits for in-flight calls to leave, and closes
   * every queue; the kernel then deletes the interface. Idempotent.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    closed = true;
    Pointer one = Memory.allocateDirect(LibC.runtime(), 1, true);
    libc.write(wakeWriteFd, one, 1); // the pipe stays readable: every poller wakes
    closeLock.writeLock().lock();
    try {
      for (Queue q : queues) {
        libc.close(q.fd);
        q.fd = -1;
      }
      libc.close(controlFd);
      libc.close(wakeReadFd);
      libc.close(wakeWriteFd);
    } finally {
      closeLock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "LinuxTun[" + name + ", index " + index + ", " + queues.size() + " queue(s)]";
  }

  /** One queue: its fd, a native read buffer and a pollfd pair owned by its single reader. */
  private final class Queue implements PacketDevice {
    private static final int POLLFD_SIZE = 8; // struct pollfd { int fd; short events, revents; }

    private final int id;
    private volatile int fd;
    private final Pointer readBuf = Memory.allocateDirect(LibC.runtime(), MAX_PACKET, false);
    private final Pointer pollFds = Memory.allocateDirect(LibC.runtime(), 2 * POLLFD_SIZE, true);
    // write() may run on many threads at once: each gets its own native buffer.
    private final ThreadLocal<Pointer> writeBuf =
        ThreadLocal.withInitial(() -> Memory.allocateDirect(LibC.runtime(), MAX_PACKET, false));

    Queue(int id, int fd) {
      this.id = id;
      this.fd = fd;
      pollFds.putInt(0, fd);
      pollFds.putShort(4, LibC.POLLIN);
      pollFds.putInt(POLLFD_SIZE, wakeReadFd);
      pollFds.putShort(POLLFD_SIZE + 4, LibC.POLLIN);
    }

    @Override
    public String name() {
      return queues.size() == 1 ? name : name + "#" + id;
    }

    @Override
    public int mtu() {
      return LinuxTun.this.mtu();
    }

    @Override
    public int read(byte[] buf, int offset, int maxLength) throws IOException {
      java.util.Objects.checkFromIndexSize(offset, maxLength, buf.length);
      closeLock.readLock().lock();
      try {
        while (!closed) {
          int n = readNow(buf, offset, maxLength);
          if (n >= 0) {
            return n;
          }
          if (!awaitReadable()) {
            return -1;
          }
        }
        return -1;
      } finally {
        closeLock.readLock().unlock();
      }
    }

    @Override
    public int readBatch(byte[][] bufs, int offset, int[] lengths) throws IOException {
      int n = read(bufs[0], offset, bufs[0].length - offset);
      if (n < 0) {
        return -1;
      }
      lengths[0] = n;
      int count = 1;
      closeLock.readLock().lock();
      try {
        while (count < bufs.length && !closed) {
          int m = readNow(bufs[count], offset, bufs[count].length - offset);
          if (m < 0) {
            break;
          }
          lengths[count++] = m;
        }
      } finally {
        closeLock.readLock().unlock();
      }
      return count;
    }

    /** One non-blocking read: the length, or -1 if nothing is waiting. */
    private int readNow(byte[] buf, int offset, int maxLength) throws IOException {
      while (true) {
        long n = libc.read(fd, readBuf, Math.min(maxLength, MAX_PACKET));
        if (n >= 0) {
          readBuf.get(0, buf, offset, (int) n);
          return (int) n;
        }
        int e = LibC.errno();
        if (e == LibC.EAGAIN) {
          return -1;
        }
        if (e != LibC.EINTR) {
          throw new NativeIoException("read from TUN " + name() + " (fd " + fd + ")", e, null);
        }
      }
    }

    /** Waits until the fd is readable: false if woken by close. */
    private boolean awaitReadable() throws IOException {
      while (true) {
        pollFds.putShort(6, (short) 0);
        pollFds.putShort(POLLFD_SIZE + 6, (short) 0);
        int r = libc.poll(pollFds, 2, -1);
        if (r < 0) {
          int e = LibC.errno();
          if (e == LibC.EINTR) {
            continue;
          }
          throw new NativeIoException("poll on TUN " + name(), e, null);
        }
        if (closed || pollFds.getShort(POLLFD_SIZE + 6) != 0) {
          return false;
        }
        return true;
      }
    }

    @Override
    public void write(byte[] buf, int offset, int length) throws IOException {
      java.util.Objects.checkFromIndexSize(offset, length, buf.length);
      if (length > MAX_PACKET) {
        throw new IllegalArgumentException("packet of " + length + " bytes exceeds " + MAX_PACKET);
      }
      closeLock.readLock().lock();
      try {
        if (closed) {
          throw new IOException("TUN " + name() + " is closed");
        }
        Pointer p = writeBuf.get();
        p.put(0, buf, offset, length);
        while (true) {
          long n = libc.write(fd, p, length);
          if (n >= 0) {
            return;
          }
          int e = LibC.errno();
          if (e != LibC.EINTR) {
            lastWriteErrno = e;
            writeErrors.incrementAndGet();
            return;
          }
        }
      } finally {
        closeLock.readLock().unlock();
      }
    }

    @Override
    public void close() {
      LinuxTun.this.close();
    }

    @Override
    public String toString() {
      return "LinuxTun.Queue[" + name() + ", fd " + fd + "]";
    }
  }
}
