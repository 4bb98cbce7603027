package io.dctun.core.session;

import java.util.ArrayDeque;

/**
 * Inner packets held for a peer while it has no usable session, sent in order once a handshake
 * completes. Bounded: when full, the oldest packet goes (as wireguard-go does), so a stalled
 * handshake cannot hold on to memory. Copies what it is given; thread-safe.
 */
final class StagedQueue {
  private final ArrayDeque<byte[]> packets = new ArrayDeque<>();
  private final int capacity;

  StagedQueue(int capacity) {
    this.capacity = capacity;
  }

  /** Queues a copy of {@code buf[off..off+len)}; returns true if the oldest packet was dropped to make room. */
  synchronized boolean add(byte[] buf, int off, int len) {
    boolean dropped = false;
    if (packets.size() >= capacity) {
      packets.pollFirst();
      dropped = true;
    }
    byte[] copy = new byte[len];
    System.arraycopy(buf, off, copy, 0, len);
    packets.addLast(copy);
    return dropped;
  }

  /** Everything queued, oldest first, and empties the queue. */
  synchronized byte[][] drain() {
    byte[][] all = packets.toArray(new byte[0][]);
    packets.clear();
    return all;
  }

  /** Empties the queue; returns how many packets were thrown away. */
  synchronized int clear() {
    int n = packets.size();
    packets.clear();
    return n;
  }

  synchronized int size() {
    return packets.size();
  }
}
