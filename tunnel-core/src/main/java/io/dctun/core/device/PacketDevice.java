package io.dctun.core.device;

import java.io.Closeable;
import java.io.IOException;

/**
 * A source and sink of inner IP packets: a kernel TUN interface, or an in-memory device.
 *
 * <p>The engine reads each packet into a pooled heap buffer at an offset that leaves room for
 * the 16-byte WireGuard transport header in front, so the packet can be sealed in place:
 *
 * <pre>
 *   buf: [ headroom (>= 16) | inner IP packet (length bytes) | room for the 16-byte tag ]
 *               offset ----^
 * </pre>
 *
 * <p>Thread-safety: {@link #read} may be called by one thread per queue, {@link #write} by any
 * number of threads; implementations say how many queues they have.
 */
public interface PacketDevice extends Closeable {

  /** Interface name, for logs and errors. */
  String name();

  /** The device MTU: the largest inner packet it will deliver or accept. */
  int mtu();

  /**
   * Reads one packet into {@code buf} starting at {@code offset}, blocking until one arrives.
   *
   * @return the packet length, or -1 once the device is closed
   */
  int read(byte[] buf, int offset, int maxLength) throws IOException;

  /**
   * Reads up to {@code bufs.length} packets: blocks for the first, then takes those already
   * waiting without blocking. Each lands at {@code offset} in its buffer and its length goes to
   * {@code lengths}. The default reads exactly one.
   *
   * @return the number of packets read, or -1 once the device is closed
   */
  default int readBatch(byte[][] bufs, int offset, int[] lengths) throws IOException {
    int n = read(bufs[0], offset, bufs[0].length - offset);
    if (n < 0) {
      return -1;
    }
    lengths[0] = n;
    return 1;
  }

  /** Writes one packet. A packet the kernel refuses is counted by the device, not thrown. */
  void write(byte[] buf, int offset, int length) throws IOException;
}
