package io.dctun.core.device;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link PacketDevice} backed by two bounded in-memory queues, for tests and embedders.
 *
 * <pre>
 *   inject(pkt) --> [ inbound queue ] --> read()/readBatch()   (as if the kernel sent it out)
 *   write(pkt)  --> [ outbound queue ] --> takeWritten()/pollWritten()
 * </pre>
 *
 * <p>Both queues copy the packet on the way in, so callers may reuse their buffers. When a
 * queue is full the packet is dropped and counted ({@link #injectDrops()}, {@link
 * #writeDrops()}), as a kernel queue would. {@link #close()} wakes a blocked reader, which then
 * returns -1; packets already written stay available to {@link #pollWritten()}.
 *
 * <p>Thread-safety: all methods may be called from any thread; one queue, so one reader at a
 * time is the intended use (more are safe, they share the packets).
 */
public final class InMemoryDevice implements PacketDevice {

  /** Default MTU, that of a WireGuard interface over IPv6 on a 1500-byte path. */
  public static final int DEFAULT_MTU = 1420;
  /** Default capacity of each queue, in packets. */
  public static final int DEFAULT_CAPACITY = 1024;

  private final String name;
  private final int mtu;
  private final Queue inbound;
  private final Queue outbound;
  private final AtomicLong injectDrops = new AtomicLong();
  private final AtomicLong writeDrops = new AtomicLong();
  private final AtomicLong oversizeDrops = new AtomicLong();

  public InMemoryDevice(String name) {
    this(name, DEFAULT_MTU, DEFAULT_CAPACITY);
  }

  /**
   * @param mtu largest packet accepted by {@link #inject} and {@link #write}
   * @param capacity packets each direction holds before dropping
   */
  public InMemoryDevice(String name, int mtu, int capacity) {
    this.name = Objects.requireNonNull(name, "name");
    if (mtu < 1 || mtu > 65535) {
      throw new IllegalArgumentException("mtu must be 1..65535: " + mtu);
    }
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
    }
    this.mtu = mtu;
    this.inbound = new Queue(capacity);
    this.outbound = new Queue(capacity);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int mtu() {
    return mtu;
  }

  // ---- the "kernel" side ----

  /**
   * Queues a packet for the engine to read, as if the kernel routed it out of this interface.
   *
   * @return false if it was dropped: the inbound queue is full (counted) or the device is closed
   * @throws IllegalArgumentException if the packet is longer than the MTU
   */
  public boolean inject(byte[] packet) {
    return inject(packet, 0, packet.length);
  }

  /** As {@link #inject(byte[])}, for {@code length} bytes of {@code buf} from {@code offset}. */
  public boolean inject(byte[] buf, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, buf.length);
    if (length > mtu) {
      throw new IllegalArgumentException(
          "packet of " + length + " bytes exceeds the MTU of " + name + " (" + mtu + ")");
    }
    byte[] copy = Arrays.copyOfRange(buf, offset, offset + length);
    int r = inbound.offer(copy);
    if (r == Queue.FULL) {
      injectDrops.incrementAndGet();
    }
    return r == Queue.OK;
  }

  /**
   * Takes the next packet the engine wrote, waiting up to {@code timeout}.
   *
   * @return the packet, or null if none arrived in time (or none is left after close)
   */
  public byte[] takeWritten(Duration timeout) throws InterruptedException {
    return outbound.take(true, timeout.toNanos());
  }

  /** The next packet the engine wrote, or null if there is none now. */
  public byte[] pollWritten() {
    return outbound.poll();
  }

  /** Packets injected but not yet read. */
  public int pendingInjected() {
    return inbound.size();
  }

  /** Packets written but not yet taken. */
  public int pendingWritten() {
    return outbound.size();
  }

  /** Injected packets dropped because the inbound queue was full. */
  public long injectDrops() {
    return injectDrops.get();
  }

  /** Written packets dropped because the outbound queue was full, or too long for the MTU. */
  public long writeDrops() {
    return writeDrops.get();
  }

  /** Injected packets dropped at read because they did not fit the reader's buffer. */
  public long oversizeDrops() {
    return oversizeDrops.get();
  }

  public boolean isClosed() {
    return inbound.isClosed();
  }

  // ---- the engine side ----

  @Override
  public int read(byte[] buf, int offset, int maxLength) throws IOException {
    Objects.checkFromIndexSize(offset, maxLength, buf.length);
    while (true) {
      byte[] p;
      try {
        p = inbound.take(false, 0);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("read from " + name + " interrupted");
      }
      if (p == null) {
        return -1;
      }
      if (p.length > maxLength) {
        oversizeDrops.incrementAndGet();
        continue;
      }
      System.arraycopy(p, 0, buf, offset, p.length);
      return p.length;
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
    while (count < bufs.length) {
      byte[] p = inbound.poll();
      if (p == null) {
        break;
      }
      if (p.length > bufs[count].length - offset) {
        oversizeDrops.incrementAndGet();
        continue;
      }
      System.arraycopy(p, 0, bufs[count], offset, p.length);
      lengths[count++] = p.length;
    }
    return count;
  }

  /** Copies the packet to the outbound queue; drops and counts it if the queue is full. */
  @Override
  public void write(byte[] buf, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, buf.length);
    if (length > mtu) {
      writeDrops.incrementAndGet();
      return;
    }
    int r = outbound.offer(Arrays.copyOfRange(buf, offset, offset + length));
    if (r == Queue.FULL) {
      writeDrops.incrementAndGet();
    } else if (r == Queue.CLOSED) {
      throw new IOException("device " + name + " is closed");
    }
  }

  /**
   * Wakes any blocked reader, which returns -1, and discards packets injected but not read;
   * packets already written remain for the test to take. Idempotent.
   */
  @Override
  public void close() {
    inbound.close(true);
    outbound.close(false);
  }

  @Override
  public String toString() {
    return "InMemoryDevice[" + name + ", mtu " + mtu + "]";
  }

  /** A bounded FIFO whose close wakes every waiter and refuses new items. */
  private static final class Queue {
    static final int OK = 0;
    static final int FULL = 1;
    static final int CLOSED = 2;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final ArrayDeque<byte[]> items;
    private final int capacity;
    private boolean closed;

    Queue(int capacity) {
      this.capacity = capacity;
      this.items = new ArrayDeque<>(Math.min(capacity, 4096));
    }

    int offer(byte[] p) {
      lock.lock();
      try {
        if (closed) {
          return CLOSED;
        }
        if (items.size() >= capacity) {
          return FULL;
        }
        items.addLast(p);
        notEmpty.signal();
        return OK;
      } finally {
        lock.unlock();
      }
    }

    byte[] poll() {
      lock.lock();
      try {
        return items.pollFirst();
      } finally {
        lock.unlock();
      }
    }

    /** Waits for an item, without limit if not {@code timed}; null on timeout or once closed. */
    byte[] take(boolean timed, long nanos) throws InterruptedException {
      lock.lockInterruptibly();
      try {
        while (items.isEmpty()) {
          if (closed) {
            return null;
          }
          if (!timed) {
            notEmpty.await();
          } else {
            if (nanos <= 0) {
              return null;
            }
            nanos = notEmpty.awaitNanos(nanos);
          }
        }
        return items.pollFirst();
      } finally {
        lock.unlock();
      }
    }

    int size() {
      lock.lock();
      try {
        return items.size();
      } finally {
        lock.unlock();
      }
    }

    boolean isClosed() {
      lock.lock();
      try {
        return closed;
      } finally {
        lock.unlock();
      }
    }

    void close(boolean discard) {
      lock.lock();
      try {
        closed = true;
        if (discard) {
          items.clear();
        }
        notEmpty.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }
}
