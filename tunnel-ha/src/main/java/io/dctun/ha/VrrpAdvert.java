package io.dctun.ha;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * A decoded VRRPv3 advertisement over IPv4, filled in place by the codec (one instance is reused
 * for every received packet). IPv4 addresses are held as big-endian {@code int}s.
 *
 * <p>Thread-safety: none; owned by the thread that decodes into it.
 */
public final class VrrpAdvert {
  /** The most addresses an advert can carry (an 8-bit count). */
  public static final int MAX_ADDRESSES = 255;

  int ttl;
  int source;
  int destination;
  int version;
  int type;
  int vrid;
  int priority;
  int intervalCentis;
  int checksum;
  int addressCount;
  final int[] addresses = new int[MAX_ADDRESSES];

  public int ttl() { return ttl; }

  public int source() { return source; }

  public int destination() { return destination; }

  public int version() { return version; }

  public int type() { return type; }

  public int vrid() { return vrid; }

  public int priority() { return priority; }

  /** Max Advert Interval, in centiseconds (12 bits). */
  public int intervalCentis() { return intervalCentis; }

  /** The checksum as it was on the wire. */
  public int checksum() { return checksum; }

  public int addressCount() { return addressCount; }

  public int address(int i) {
    if (i < 0 || i >= addressCount) {
      throw new IndexOutOfBoundsException("address " + i + " of " + addressCount);
    }
    return addresses[i];
  }

  /** Sets the fields a router reacts to; for tests and for callers that decode elsewhere. */
  public VrrpAdvert set(int source, int vrid, int priority, int intervalCentis, int... vips) {
    this.ttl = 255;
    this.version = 3;
    this.type = 1;
    this.source = source;
    this.destination = 0xe0000012;
    this.vrid = vrid;
    this.priority = priority;
    this.intervalCentis = intervalCentis;
    this.addressCount = vips.length;
    System.arraycopy(vips, 0, addresses, 0, vips.length);
    return this;
  }

  /** A big-endian int for an IPv4 address. */
  public static int ipv4(InetAddress a) {
    if (!(a instanceof Inet4Address)) {
      throw new IllegalArgumentException("not an IPv4 address: " + a);
    }
    byte[] b = a.getAddress();
    return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
  }

  /** A big-endian int for a dotted-quad IPv4 literal (no name lookup). */
  public static int ipv4(String dotted) {
    String[] p = dotted.split("\\.");
    if (p.length != 4) {
      throw new IllegalArgumentException("not a dotted-quad IPv4 address: " + dotted);
    }
    int v = 0;
    for (String s : p) {
      int o = Integer.parseInt(s);
      if (o < 0 || o > 255) {
        throw new IllegalArgumentException("not a dotted-quad IPv4 address: " + dotted);
      }
      v = v << 8 | o;
    }
    return v;
  }

  public static InetAddress toInet(int a) {
    try {
      return InetAddress.getByAddress(new byte[] {
          (byte) (a >>> 24), (byte) (a >>> 16), (byte) (a >>> 8), (byte) a});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public static String toString(int a) {
    return (a >>> 24) + "." + (a >>> 16 & 0xff) + "." + (a >>> 8 & 0xff) + "." + (a & 0xff);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("VRRPv").append(version).append(" type ").append(type)
        .append(" vrid ").append(vrid).append(" prio ").append(priority)
        .append(" intvl ").append(intervalCentis).append("cs from ").append(toString(source))
        .append(" addrs");
    for (int i = 0; i < addressCount; i++) {
      sb.append(' ').append(toString(addresses[i]));
    }
    return sb.toString();
  }
}
