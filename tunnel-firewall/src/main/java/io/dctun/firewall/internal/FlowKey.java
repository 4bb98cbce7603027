package io.dctun.firewall.internal;

/**
 * The compact key of a flow, and its hash: the one place either is derived from a packet.
 *
 * <pre>
 * five longs; the two endpoints in canonical order, lower (address, port) first, so that both
 * directions of a flow give the same key and one lookup finds it:
 *   k0,k1 = endpoint A address (IPv6 hi/lo; IPv4 in the top 32 bits of k0, k1 = 0)
 *   k2,k3 = endpoint B address
 *   meta  = portA:16 | portB:16 | proto:8 | v6:1 | peer+1:23     (ICMP echo: id as both ports)
 * </pre>
 *
 * The words are opaque outside this package: they travel to the HA twin as they are (see
 * {@link io.dctun.firewall.FlowSink}) and are only ever handed back to the table, which hashes
 * them with {@link #hash}. Ports of protocols without ports are 0.
 *
 * <p>One instance per {@link Pkt}, overwritten by {@link #of}; so computing a key allocates
 * nothing. Thread-safety: confined to the thread that owns the packet.
 */
public final class FlowKey {
  public long k0;
  public long k1;
  public long k2;
  public long k3;
  public long meta;
  public long hash;
  /** Whether the packet's source is endpoint A: its direction relative to the key. */
  public boolean srcIsA;

  /** The key of {@code p}'s flow, in {@code p}'s own key object (overwritten). */
  public static FlowKey of(Pkt p) {
    FlowKey k = p.key;
    boolean aSrc = srcSortsFirst(p);
    k.srcIsA = aSrc;
    k.k0 = aSrc ? p.srcHi : p.dstHi;
    k.k1 = aSrc ? p.srcLo : p.dstLo;
    k.k2 = aSrc ? p.dstHi : p.srcHi;
    k.k3 = aSrc ? p.dstLo : p.srcLo;
    int pa = port(p, aSrc);
    int pb = port(p, !aSrc);
    k.meta = ((long) pa << 48) | ((long) pb << 32) | ((long) (p.proto & 0xFF) << 24)
        | (p.version == 6 ? 1L << 23 : 0) | ((p.peer + 1) & 0x7FFFFF);
    k.hash = hash(k.k0, k.k1, k.k2, k.k3, k.meta);
    return k;
  }

  /** Whether the packet's (source address, port) sorts before its destination's. */
  private static boolean srcSortsFirst(Pkt p) {
    int c = Long.compareUnsigned(p.srcHi, p.dstHi);
    if (c == 0) {
      c = Long.compareUnsigned(p.srcLo, p.dstLo);
    }
    if (c == 0) {
      c = Integer.compare(port(p, true), port(p, false));
    }
    return c <= 0;
  }

  /** The port the key records for one end: the port, the echo id, or 0. */
  private static int port(Pkt p, boolean src) {
    if (p.sport < 0) {
      return p.isEcho() ? p.echoId() : 0;
    }
    return src ? p.sport : p.dport;
  }

  /** The hash of a key's five words; the table's slot and lock stripe come from it. */
  public static long hash(long k0, long k1, long k2, long k3, long m) {
    long h = m * 0x9E3779B97F4A7C15L;
    h = (h ^ k0) * 0xC2B2AE3D27D4EB4FL;
    h = (h ^ k1) * 0x9E3779B97F4A7C15L;
    h = (h ^ k2) * 0xC2B2AE3D27D4EB4FL;
    h = (h ^ k3) * 0x9E3779B97F4A7C15L;
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    return h ^ (h >>> 32);
  }
}
