package io.dctun.ha;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * A decoded VRRPv3 advertisement, over IPv4 or IPv6, filled in place by the codec (one instance
 * is reused for every received packet). Every address is held as raw network-order bytes
 * ({@link #addressLength()} of them: 4 or 16); IPv4 addresses are also held as big-endian
 * {@code int}s.
 *
 * <p>Thread-safety: none; owned by the thread that decodes into it.
 */
public final class VrrpAdvert {
  /** The most addresses an advert can carry (an 8-bit count). */
  public static final int MAX_ADDRESSES = 255;

  /** 4 or 6. */
  int family = 4;
  int ttl;
  int source;
  int destination;
  /** The source address as bytes (first {@link #addressLength()} used). */
  final byte[] sourceBytes = new byte[16];
  /** The destination address as bytes (first {@link #addressLength()} used). */
  final byte[] destinationBytes = new byte[16];
  /** The advertised addresses, {@link #addressLength()} bytes each, back to back. */
  final byte[] addressBytes = new byte[MAX_ADDRESSES * 16];
  int version;
  int type;
  int vrid;
  int priority;
  int intervalCentis;
  int checksum;
  int addressCount;
  final int[] addresses = new int[MAX_ADDRESSES];

  /** 4 or 6: the IP version the advert came over. */
  public int family() { return family; }

  /** 4 for IPv4, 16 for IPv6. */
  public int addressLength() { return family == 6 ? 16 : 4; }

  /** The IPv4 TTL or the IPv6 hop limit. */
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

  /** The {@code i}-th IPv4 address as a big-endian int (IPv4 adverts only). */
  public int address(int i) {
    if (i < 0 || i >= addressCount) {
      throw new IndexOutOfBoundsException("address " + i + " of " + addressCount);
    }
    if (family != 4) {
      throw new IllegalStateException("an IPv6 advert: use addressAt");
    }
    return addresses[i];
  }

  /** The {@code i}-th address, either family. */
  public InetAddress addressAt(int i) {
    if (i < 0 || i >= addressCount) {
      throw new IndexOutOfBoundsException("address " + i + " of " + addressCount);
    }
    int n = addressLength();
    return inet(java.util.Arrays.copyOfRange(addressBytes, i * n, i * n + n));
  }

  /** The source address, either family. */
  public InetAddress sourceAddress() {
    return inet(java.util.Arrays.copyOf(sourceBytes, addressLength()));
  }

  /** Sets the fields a router reacts to; for tests and for callers that decode elsewhere. */
  public VrrpAdvert set(int source, int vrid, int priority, int intervalCentis, int... vips) {
    this.family = 4;
    this.ttl = 255;
    this.version = 3;
    this.type = 1;
    this.source = source;
    VrrpCodec.put32(sourceBytes, 0, source);
    this.destination = 0xe0000012;
    VrrpCodec.put32(destinationBytes, 0, destination);
    this.vrid = vrid;
    this.priority = priority;
    this.intervalCentis = intervalCentis;
    this.addressCount = vips.length;
    System.arraycopy(vips, 0, addresses, 0, vips.length);
    for (int i = 0; i < vips.length; i++) {
      VrrpCodec.put32(addressBytes, 4 * i, vips[i]);
    }
    return this;
  }

  /** As {@link #set(int, int, int, int, int...)} for an IPv6 advert (sent to ff02::12). */
  public VrrpAdvert set6(InetAddress source, int vrid, int priority, int intervalCentis,
      InetAddress... vips) {
    this.family = 6;
    this.ttl = 255;
    this.version = 3;
    this.type = 1;
    this.source = 0;
    this.destination = 0;
    System.arraycopy(ipv6(source), 0, sourceBytes, 0, 16);
    System.arraycopy(VrrpCodec.VRRP_MULTICAST6, 0, destinationBytes, 0, 16);
    this.vrid = vrid;
    this.priority = priority;
    this.intervalCentis = intervalCentis;
    this.addressCount = vips.length;
    for (int i = 0; i < vips.length; i++) {
      System.arraycopy(ipv6(vips[i]), 0, addressBytes, 16 * i, 16);
    }
    return this;
  }

  /** The 16 bytes of an IPv6 address. */
  public static byte[] ipv6(InetAddress a) {
    if (!(a instanceof java.net.Inet6Address)) {
      throw new IllegalArgumentException("not an IPv6 address: " + a);
    }
    return a.getAddress();
  }

  /** An address from its 4 or 16 bytes, without any name lookup. */
  public static InetAddress inet(byte[] raw) {
    try {
      return InetAddress.getByAddress(raw);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not 4 or 16 bytes: " + raw.length, e);
    }
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
        .append(" intvl ").append(intervalCentis).append("cs from ")
        .append(family == 6 ? sourceAddress().getHostAddress() : toString(source))
        .append(" addrs");
    for (int i = 0; i < addressCount; i++) {
      sb.append(' ').append(family == 6 ? addressAt(i).getHostAddress() : toString(addresses[i]));
    }
    return sb.toString();
  }
}
