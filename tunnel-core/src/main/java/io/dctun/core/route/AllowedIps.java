package io.dctun.core.route;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Longest-prefix-match table from IPv4 and IPv6 prefixes to values (peers): the cryptokey
 * routing table of WireGuard. Outbound, the destination picks the peer; inbound, the source must
 * map back to the peer the packet came from.
 *
 * <p>The source of truth is one path-compressed binary trie per family. Each node holds a masked
 * key as two longs (IPv4 in the top 32 bits of the first), its prefix length and, if it is a real
 * entry, a value; nodes without a value only branch. IPv6 lookups walk it, comparing a whole node
 * prefix with two masked XORs per step.
 *
 * <p>IPv4 lookups, the common case on the fast path, use a multibit table derived from the trie
 * and updated with it, in strides of 16, 8 and 8 bits: at most three array reads per lookup
 * instead of one pointer chase per trie level.
 *
 * <pre>
 *   v4: int[] pairs [bestId+1, childTable]: root 65536 slots (bits 0-15), then 256-slot tables
 *       (bits 16-23, 24-31) created only under a slot that holds longer prefixes.
 *       Each slot's bestId is the longest prefix of its own stride range covering it
 *       (/0-/16, /17-/24, /25-/32); a deeper non-zero bestId overrides a shallower one.
 * </pre>
 *
 * <p>Memory: 512 KiB for the IPv4 root once an IPv4 prefix exists, plus 2 KiB for each /16 and
 * each /24 that contains longer prefixes. Lookups read the address straight out of the packet
 * buffer and neither allocate nor box. Inserting or removing a short IPv4 prefix rewrites every
 * root slot it covers (65536 for /0): fine for configuration changes, not for per-packet use.
 *
 * <p>Thread-safety: not thread-safe. Lookups may run concurrently with each other, but any
 * mutation needs exclusive access (for example a {@code ReadWriteLock}, or build a new table and
 * publish it through a volatile field).
 *
 * @param <T> the value type, compared with {@code equals} by {@link #removeAll} and {@link
 *     #entries}; never null
 */
public final class AllowedIps<T> {

  private static final VarHandle INT_BE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle LONG_BE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private static final class Node<T> {
    final long hi;
    final long lo;
    final long maskHi;
    final long maskLo;
    final int bits;
    Node<T> zero;
    Node<T> one;
    T value;
    /** Index into valueById while {@code value} is set, else -1. */
    int id = -1;

    Node(long hi, long lo, int bits) {
      this.maskHi = maskHi(bits);
      this.maskLo = maskLo(bits);
      this.hi = hi & maskHi;
      this.lo = lo & maskLo;
      this.bits = bits;
    }
  }

  private static final int ROOT_SLOTS = 1 << 16;
  private static final int TABLE_SLOTS = 1 << 8;

  private Node<T> root4;
  private Node<T> root6;
  private int size;

  /** IPv4 stride table, null until the first IPv4 insert; see the class comment. */
  private int[] v4Slots;
  /** Slots in use in {@link #v4Slots} (root plus allocated tables). */
  private int v4SlotsUsed;
  /** Freed table bases, reused before growing. */
  private int[] freeTables = new int[16];
  private int freeTableCount;

  /** Value of each entry by id, so the stride table can store ints. */
  private Object[] valueById = new Object[16];
  private int[] freeIds = new int[16];
  private int freeIdCount;
  private int nextId;

  /** Creates an empty table. */
  public AllowedIps() {}

  static long maskHi(int bits) {
    return bits == 0 ? 0L : bits >= 64 ? -1L : -1L << (64 - bits);
  }

  static long maskLo(int bits) {
    return bits <= 64 ? 0L : bits >= 128 ? -1L : -1L << (128 - bits);
  }

  /** Bit {@code i} (0 = most significant) of the 128-bit key. */
  private static int bit(long hi, long lo, int i) {
    return (int) (i < 64 ? (hi >>> (63 - i)) & 1 : (lo >>> (127 - i)) & 1);
  }

  /** Number of leading bits equal in two keys, capped at {@code max}. */
  private static int commonBits(long hi1, long lo1, long hi2, long lo2, int max) {
    long x = hi1 ^ hi2;
    int c = x != 0 ? Long.numberOfLeadingZeros(x) : 64 + Long.numberOfLeadingZeros(lo1 ^ lo2);
    return Math.min(c, max);
  }

  private static void checkLength(byte[] addr, int prefixLen) {
    if (addr == null || (addr.length != 4 && addr.length != 16)) {
      throw new IllegalArgumentException("address must be 4 or 16 bytes, got "
          + (addr == null ? "null" : addr.length));
    }
    if (prefixLen < 0 || prefixLen > addr.length * 8) {
      throw new IllegalArgumentException("prefix length " + prefixLen + " out of range 0.."
          + addr.length * 8);
    }
  }

  private static long keyHi(byte[] addr) {
    return addr.length == 4
        ? ((long) (int) INT_BE.get(addr, 0)) << 32
        : (long) LONG_BE.get(addr, 0);
  }

  private static long keyLo(byte[] addr) {
    return addr.length == 4 ? 0L : (long) LONG_BE.get(addr, 8);
  }

  /**
   * Maps {@code addr/prefixLen} to {@code value}, replacing the value of an equal prefix. Host
   * bits of {@code addr} are ignored.
   *
   * @return the value it replaced, or null
   * @throws IllegalArgumentException for an address not 4 or 16 bytes or a bad length
   * @throws NullPointerException if value is null
   */
  public T insert(byte[] addr, int prefixLen, T value) {
    checkLength(addr, prefixLen);
    Objects.requireNonNull(value, "value");
    boolean v4 = addr.length == 4;
    long hi = keyHi(addr);
    long lo = keyLo(addr);
    Node<T> parent = null;
    Node<T> n = v4 ? root4 : root6;
    while (true) {
      if (n == null) {
        Node<T> leaf = new Node<>(hi, lo, prefixLen);
        attach(leaf, value);
        link(v4, parent, hi, lo, leaf);
        size++;
        afterChange(v4, leaf, true);
        return null;
      }
      int c = commonBits(hi, lo, n.hi, n.lo, Math.min(n.bits, prefixLen));
      if (c == n.bits && n.bits == prefixLen) {
        T old = n.value;
        if (old == null) {
          attach(n, value);
          size++;
          afterChange(v4, n, true);
        } else {
          n.value = value;
          valueById[n.id] = value;
        }
        return old;
      }
      if (c == n.bits) {
        parent = n;
        n = bit(hi, lo, n.bits) == 0 ? n.zero : n.one;
        continue;
      }
      Node<T> fresh = new Node<>(hi, lo, prefixLen);
      attach(fresh, value);
      if (c == prefixLen) {
        // The new prefix is an ancestor of n.
        setChild(fresh, bit(n.hi, n.lo, prefixLen), n);
        link(v4, parent, hi, lo, fresh);
      } else {
        Node<T> branch = new Node<>(hi, lo, c);
        setChild(branch, bit(n.hi, n.lo, c), n);
        setChild(branch, bit(hi, lo, c), fresh);
        link(v4, parent, hi, lo, branch);
      }
      size++;
      afterChange(v4, fresh, true);
      return null;
    }
  }

  /** Maps {@code prefix} to {@code value}; see {@link #insert(byte[], int, Object)}. */
  public T insert(Prefix prefix, T value) {
    return insert(prefix.address(), prefix.length(), value);
  }

  private static <T> void setChild(Node<T> parent, int bit, Node<T> child) {
    if (bit == 0) {
      parent.zero = child;
    } else {
      parent.one = child;
    }
  }

  /** Puts {@code child} where the walk for key (hi, lo) left {@code parent}. */
  private void link(boolean v4, Node<T> parent, long hi, long lo, Node<T> child) {
    if (parent == null) {
      if (v4) {
        root4 = child;
      } else {
        root6 = child;
      }
    } else {
      setChild(parent, bit(hi, lo, parent.bits), child);
    }
  }

  /**
   * Removes exactly {@code prefix} (not the prefixes inside it).
   *
   * @return its value, or null if it was not present
   */
  public T remove(Prefix prefix) {
    return remove(prefix.address(), prefix.length());
  }

  /** Removes exactly {@code addr/prefixLen}; host bits ignored. Returns its value or null. */
  public T remove(byte[] addr, int prefixLen) {
    checkLength(addr, prefixLen);
    boolean v4 = addr.length == 4;
    long hi = keyHi(addr) & maskHi(prefixLen);
    long lo = keyLo(addr) & maskLo(prefixLen);
    Node<T> grand = null;
    Node<T> parent = null;
    Node<T> n = v4 ? root4 : root6;
    while (n != null && n.bits <= prefixLen
        && ((hi ^ n.hi) & n.maskHi | (lo ^ n.lo) & n.maskLo) == 0) {
      if (n.bits == prefixLen) {
        T old = n.value;
        if (old == null) {
          return null;
        }
        detach(n);
        size--;
        compact(v4, grand, parent, n);
        afterChange(v4, n, false);
        return old;
      }
      grand = parent;
      parent = n;
      n = bit(hi, lo, n.bits) == 0 ? n.zero : n.one;
    }
    return null;
  }

  /** Drops a now value-less node {@code n}, and its parent if that is left a useless branch. */
  private void compact(boolean v4, Node<T> grand, Node<T> parent, Node<T> n) {
    if (n.zero != null && n.one != null) {
      return;
    }
    Node<T> only = n.zero != null ? n.zero : n.one;
    replace(v4, parent, n, only);
    if (only == null && parent != null && parent.value == null) {
      Node<T> sibling = parent.zero != null ? parent.zero : parent.one;
      replace(v4, grand, parent, sibling);
    }
  }

  private void replace(boolean v4, Node<T> parent, Node<T> old, Node<T> with) {
    if (parent == null) {
      if (v4) {
        root4 = with;
      } else {
        root6 = with;
      }
    } else if (parent.zero == old) {
      parent.zero = with;
    } else {
      parent.one = with;
    }
  }

  /**
   * Removes every prefix mapped to {@code value} (when a peer goes away).
   *
   * @return how many were removed
   */
  public int removeAll(T value) {
    List<Prefix> doomed = entries(value);
    for (Prefix p : doomed) {
      remove(p);
    }
    return doomed.size();
  }

  /** The prefixes mapped to {@code value}, IPv4 first, each family in address order. */
  public List<Prefix> entries(T value) {
    List<Prefix> out = new ArrayList<>();
    collect(root4, 4, value, out);
    collect(root6, 16, value, out);
    return out;
  }

  private static <T> void collect(Node<T> n, int addrLen, T value, List<Prefix> out) {
    if (n == null) {
      return;
    }
    if (n.value != null && n.value.equals(value)) {
      byte[] a = new byte[addrLen];
      if (addrLen == 4) {
        INT_BE.set(a, 0, (int) (n.hi >>> 32));
      } else {
        LONG_BE.set(a, 0, n.hi);
        LONG_BE.set(a, 8, n.lo);
      }
      out.add(Prefix.of(a, n.bits));
    }
    collect(n.zero, addrLen, value, out);
    collect(n.one, addrLen, value, out);
  }

  /** Number of prefixes in the table, both families. */
  public int size() {
    return size;
  }

  /** Removes every prefix. */
  public void clear() {
    root4 = null;
    root6 = null;
    size = 0;
    v4Slots = null;
    v4SlotsUsed = 0;
    freeTableCount = 0;
    valueById = new Object[16];
    freeIdCount = 0;
    nextId = 0;
  }

  /**
   * The value of the longest prefix containing the address at {@code buf[off..off+addrLen)},
   * typically an IP header's source or destination field. Allocation-free.
   *
   * @param addrLen 4 or 16
   * @return the value, or null when no prefix matches
   * @throws IllegalArgumentException if addrLen is neither 4 nor 16 (a caller bug)
   * @throws IndexOutOfBoundsException if the address runs past the buffer
   */
  public T lookup(byte[] buf, int off, int addrLen) {
    if (addrLen == 4) {
      return lookupV4((int) INT_BE.get(buf, off));
    }
    if (addrLen == 16) {
      return find(root6, (long) LONG_BE.get(buf, off), (long) LONG_BE.get(buf, off + 8));
    }
    throw new IllegalArgumentException("address length must be 4 or 16, got " + addrLen);
  }

  /** The value of the longest IPv4 prefix containing {@code addr} (big-endian int), or null. */
  @SuppressWarnings("unchecked")
  public T lookupV4(int addr) {
    int[] t = v4Slots;
    if (t == null) {
      return null;
    }
    int s = (addr >>> 16) << 1;
    int best = t[s];
    int child = t[s + 1];
    if (child != 0) {
      s = (child + ((addr >>> 8) & 0xFF)) << 1;
      int v = t[s];
      if (v != 0) {
        best = v;
      }
      child = t[s + 1];
      if (child != 0) {
        s = (child + (addr & 0xFF)) << 1;
        v = t[s];
        if (v != 0) {
          best = v;
        }
      }
    }
    return best == 0 ? null : (T) valueById[best - 1];
  }

  private static <T> T find(Node<T> n, long hi, long lo) {
    T best = null;
    while (n != null && (((hi ^ n.hi) & n.maskHi) | ((lo ^ n.lo) & n.maskLo)) == 0) {
      if (n.value != null) {
        best = n.value;
      }
      // A full-length node has no children, so whichever bit() picks there is null.
      n = bit(hi, lo, n.bits) == 0 ? n.zero : n.one;
    }
    return best;
  }

  private void attach(Node<T> n, T value) {
    int id;
    if (freeIdCount > 0) {
      id = freeIds[--freeIdCount];
    } else {
      id = nextId++;
      if (id == valueById.length) {
        valueById = Arrays.copyOf(valueById, id * 2);
      }
    }
    n.value = value;
    n.id = id;
    valueById[id] = value;
  }

  private void detach(Node<T> n) {
    valueById[n.id] = null;
    if (freeIdCount == freeIds.length) {
      freeIds = Arrays.copyOf(freeIds, freeIdCount * 2);
    }
    freeIds[freeIdCount++] = n.id;
    n.id = -1;
    n.value = null;
  }

  // ---- IPv4 stride table upkeep -------------------------------------------------------------

  /** Brings the IPv4 stride table in line after {@code changed} gained or lost its value. */
  private void afterChange(boolean v4, Node<T> changed, boolean inserted) {
    if (!v4) {
      return;
    }
    if (v4Slots == null) {
      v4Slots = new int[ROOT_SLOTS * 2];
      v4SlotsUsed = ROOT_SLOTS;
    }
    int addr = (int) (changed.hi >>> 32);
    int len = changed.bits;
    if (len <= 16) {
      int first = addr >>> 16;
      int count = 1 << (16 - len);
      for (int i = 0; i < count; i++) {
        v4Slots[(first + i) << 1] = bestId4((first + i) << 16, 0, 16);
      }
      return;
    }
    int rootSlot = addr >>> 16;
    int t1 = v4Slots[(rootSlot << 1) + 1];
    if (t1 == 0) {
      if (!inserted) {
        return;
      }
      t1 = newTable();
      v4Slots[(rootSlot << 1) + 1] = t1;
    }
    if (len <= 24) {
      int first = (addr >>> 8) & 0xFF;
      int count = 1 << (24 - len);
      for (int i = 0; i < count; i++) {
        v4Slots[(t1 + first + i) << 1] = bestId4((addr & 0xFFFF0000) | ((first + i) << 8), 17, 24);
      }
    } else {
      int slot1 = t1 + ((addr >>> 8) & 0xFF);
      int t2 = v4Slots[(slot1 << 1) + 1];
      if (t2 == 0) {
        if (!inserted) {
          return;
        }
        t2 = newTable();
        v4Slots[(slot1 << 1) + 1] = t2;
      }
      int first = addr & 0xFF;
      int count = 1 << (32 - len);
      for (int i = 0; i < count; i++) {
        v4Slots[(t2 + first + i) << 1] = bestId4((addr & 0xFFFFFF00) | (first + i), 25, 32);
      }
      if (!inserted && !hasLonger4(addr & 0xFFFFFF00, 24)) {
        freeTable(t2);
        v4Slots[(slot1 << 1) + 1] = 0;
      }
    }
    if (!inserted && !hasLonger4(addr & 0xFFFF0000, 16)) {
      freeTable(t1);
      v4Slots[(rootSlot << 1) + 1] = 0;
    }
  }

  /** id + 1 of the longest IPv4 entry with length in [minLen, maxLen] covering addr, or 0. */
  private int bestId4(int addr, int minLen, int maxLen) {
    long hi = ((long) addr) << 32;
    int best = 0;
    Node<T> n = root4;
    while (n != null && n.bits <= maxLen && ((hi ^ n.hi) & n.maskHi) == 0) {
      if (n.value != null && n.bits >= minLen) {
        best = n.id + 1;
      }
      n = bit(hi, 0L, n.bits) == 0 ? n.zero : n.one;
    }
    return best;
  }

  /** Whether the IPv4 trie holds an entry longer than {@code bits} inside {@code addr/bits}. */
  private boolean hasLonger4(int addr, int bits) {
    long hi = ((long) addr) << 32;
    Node<T> n = root4;
    while (n != null && n.bits < bits) {
      if (((hi ^ n.hi) & n.maskHi) != 0) {
        return false;
      }
      n = bit(hi, 0L, n.bits) == 0 ? n.zero : n.one;
    }
    if (n == null || ((hi ^ n.hi) & maskHi(bits)) != 0) {
      return false;
    }
    // Value-less nodes always branch, so any node or child below /bits means a longer entry.
    return n.bits > bits || n.zero != null || n.one != null;
  }

  /** A zeroed 256-slot table; returns its base slot index (never 0: the root is there). */
  private int newTable() {
    if (freeTableCount > 0) {
      int base = freeTables[--freeTableCount];
      Arrays.fill(v4Slots, base << 1, (base + TABLE_SLOTS) << 1, 0);
      return base;
    }
    int base = v4SlotsUsed;
    if ((base + TABLE_SLOTS) << 1 > v4Slots.length) {
      v4Slots = Arrays.copyOf(v4Slots, Math.max(v4Slots.length * 3 / 2,
          (base + TABLE_SLOTS) << 1));
    }
    v4SlotsUsed = base + TABLE_SLOTS;
    return base;
  }

  private void freeTable(int base) {
    if (freeTableCount == freeTables.length) {
      freeTables = Arrays.copyOf(freeTables, freeTableCount * 2);
    }
    freeTables[freeTableCount++] = base;
  }
}
