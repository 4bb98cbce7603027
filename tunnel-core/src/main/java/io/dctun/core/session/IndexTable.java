package io.dctun.core.session;

import java.security.SecureRandom;

/**
 * Maps the random 32-bit receiver indices this end hands out to the pending handshake (its
 * {@link Peer}) or the {@link Keypair} they name. Indices are random so they reveal nothing and
 * cannot be guessed.
 *
 * <p>Lookups happen for every received packet and must not allocate or box, so the table is an
 * open-addressing int-keyed array, replaced whole (copy-on-write) on the rare writes, which
 * happen once per handshake. Thread-safe: lookups are lock-free; writers synchronise.
 */
public final class IndexTable {
  private static final class Snapshot {
    final int[] keys;
    final Object[] values;
    final int mask;
    final int size;

    Snapshot(int capacity, int size) {
      this.keys = new int[capacity];
      this.values = new Object[capacity];
      this.mask = capacity - 1;
      this.size = size;
    }
  }

  private final SecureRandom random = new SecureRandom();
  private volatile Snapshot table = new Snapshot(64, 0);

  private static int slot(int key, int mask) {
    int h = key * 0x9E3779B9;
    return (h ^ (h >>> 16)) & mask;
  }

  private static Object find(Snapshot t, int key) {
    for (int i = slot(key, t.mask); ; i = (i + 1) & t.mask) {
      Object v = t.values[i];
      if (v == null) {
        return null;
      }
      if (t.keys[i] == key) {
        return v;
      }
    }
  }

  private synchronized void put(int key, Object value) {
    Snapshot old = table;
    int size = old.size + (find(old, key) == null ? 1 : 0);
    int cap = old.keys.length;
    while (size * 2 > cap) {
      cap <<= 1;
    }
    table = rebuild(old, cap, size, key, value, true);
  }

  private static Snapshot rebuild(Snapshot old, int cap, int size, int key, Object value, boolean insert) {
    Snapshot t = new Snapshot(cap, size);
    for (int i = 0; i < old.keys.length; i++) {
      if (old.values[i] != null && old.keys[i] != key) {
        insertInto(t, old.keys[i], old.values[i]);
      }
    }
    if (insert) {
      insertInto(t, key, value);
    }
    return t;
  }

  private static void insertInto(Snapshot t, int key, Object value) {
    int i = slot(key, t.mask);
    while (t.values[i] != null) {
      i = (i + 1) & t.mask;
    }
    t.keys[i] = key;
    t.values[i] = value;
  }

  /** Reserves a fresh, unused index for a pending handshake of {@code peer}. */
  synchronized int reserve(Peer peer) {
    while (true) {
      int i = random.nextInt();
      if (find(table, i) == null) {
        put(i, peer);
        return i;
      }
    }
  }

  /** Points an index at the keypair its handshake produced. */
  synchronized void bind(int index, Keypair keypair) {
    put(index, keypair);
  }

  synchronized void release(int index) {
    Snapshot old = table;
    if (find(old, index) != null) {
      table = rebuild(old, old.keys.length, old.size - 1, index, null, false);
    }
  }

  /** The keypair for a transport message's receiver index, or null. Lock-free, allocation-free. */
  Keypair keypair(int index) {
    Object o = find(table, index);
    return o instanceof Keypair ? (Keypair) o : null;
  }

  /** The peer whose pending handshake announced this index, or null. */
  Peer pendingPeer(int index) {
    Object o = find(table, index);
    return o instanceof Peer ? (Peer) o : null;
  }

  public int size() {
    return table.size;
  }
}
