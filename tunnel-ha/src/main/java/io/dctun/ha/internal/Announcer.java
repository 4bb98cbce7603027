package io.dctun.ha.internal;

import io.dctun.tun.NativeIoException;
import java.io.Closeable;

/**
 * Tells the segment that a virtual address now lives here: gratuitous ARP for IPv4, an
 * unsolicited neighbour advertisement for IPv6.
 */
public interface Announcer extends Closeable {
  /** One announcement for the address whose 4 or 16 bytes start at {@code addresses[off]}. */
  void announce(byte[] addresses, int off) throws NativeIoException;

  @Override
  void close();
}
