package io.dctun.ha;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One VRRP instance: which virtual router (VRID) on which interface, its priority, timers and
 * virtual addresses. Immutable; build with {@link #builder(String)}.
 *
 * @param name           the instance name, used in logs and actions
 * @param interfaceName  the interface adverts go out of and VIPs are added to
 * @param vrid           virtual router id, 1..255
 * @param priority       1..255; 255 means this router owns the virtual addresses
 * @param advertIntervalCentis advert interval in centiseconds, 1..4095
 * @param vips           virtual addresses with their prefix lengths, all IPv4 or all IPv6 (one
 *                       instance speaks one family, as RFC 5798 says; run one instance per
 *                       family). Over IPv6 the first should be link-local (RFC 5798 7.2).
 * @param preempt        whether a higher-priority backup takes over from a lower master
 * @param preemptDelay   after start (or leaving FAULT) do not preempt for this long
 * @param acceptMode     whether the master accepts packets addressed to VIPs it does not own
 *                       (reported to the embedder, which enforces it; dctun adds no filter rules)
 * @param primaryAddress this router's own address on the segment (source of adverts, tie-break),
 *                       of the VIPs' family; null: the I/O layer reads the interface's first
 *                       IPv4 address, or its IPv6 link-local address
 * @param unicastPeers   empty: multicast to 224.0.0.18 (ff02::12); else send to and accept only
 *                       these (an advert from any other source is dropped as
 *                       {@link DropReason#UNKNOWN_PEER})
 * @param tracks         conditions that lower the priority or force FAULT while unhealthy
 * @param unicastTtlCheck with unicast peers: still require TTL / hop limit 255, as RFC 5798
 *                       requires for multicast, so an advert that crossed a router is dropped
 *                       ({@link DropReason#TTL_NOT_255}); false for peers that are routed, or a
 *                       keepalived peer that sends unicast IPv6 at the default hop limit. Has no
 *                       effect in multicast mode, which always requires 255.
 */
public record VrrpConfig(String name, String interfaceName, int vrid, int priority,
    int advertIntervalCentis, List<Vip> vips, boolean preempt, Duration preemptDelay,
    boolean acceptMode, InetAddress primaryAddress, List<InetAddress> unicastPeers,
    List<Track> tracks, boolean unicastTtlCheck) {

  public static final int OWNER_PRIORITY = 255;

  /** As the canonical constructor, with the unicast TTL check on. */
  public VrrpConfig(String name, String interfaceName, int vrid, int priority,
      int advertIntervalCentis, List<Vip> vips, boolean preempt, Duration preemptDelay,
      boolean acceptMode, InetAddress primaryAddress, List<InetAddress> unicastPeers,
      List<Track> tracks) {
    this(name, interfaceName, vrid, priority, advertIntervalCentis, vips, preempt, preemptDelay,
        acceptMode, primaryAddress, unicastPeers, tracks, true);
  }

  /** Whether received adverts must have TTL / hop limit 255: always in multicast mode. */
  public boolean checksTtl() {
    return unicastPeers.isEmpty() || unicastTtlCheck;
  }

  /** A virtual address and its prefix length. */
  public record Vip(InetAddress address, int prefixLength) {
    public Vip {
      Objects.requireNonNull(address, "address");
      int max = address instanceof Inet4Address ? 32 : 128;
      if (prefixLength < 0 || prefixLength > max) {
        throw new IllegalArgumentException("prefix length must be 0.." + max + ": " + prefixLength);
      }
    }

    /** Parses "198.18.1.100/24" or "fe80::51:1/64" (a bare address: /32 or /128). */
    public static Vip parse(String cidr) {
      int slash = cidr.indexOf('/');
      String a = slash < 0 ? cidr : cidr.substring(0, slash);
      InetAddress addr = literal(a);
      int p = slash < 0 ? (addr instanceof Inet4Address ? 32 : 128)
          : Integer.parseInt(cidr.substring(slash + 1));
      return new Vip(addr, p);
    }

    /** 4 or 6. */
    public int family() {
      return address instanceof Inet4Address ? 4 : 6;
    }

    @Override
    public String toString() {
      return address.getHostAddress() + "/" + prefixLength;
    }
  }

  /**
   * A condition the caller reports with {@link VrrpRouter#setCondition}: an interface's link, or
   * "a tunnel peer completed a handshake in the last N seconds". While it is unhealthy it lowers
   * the priority by {@code weight}, or (if {@code fault}) forces the instance into FAULT.
   */
  public record Track(String name, int weight, boolean fault) {
    public Track {
      Objects.requireNonNull(name, "name");
      if (!fault && (weight < 1 || weight > 254)) {
        throw new IllegalArgumentException("track " + name + ": weight must be 1..254: " + weight);
      }
    }

    public static Track weight(String name, int weight) {
      return new Track(name, weight, false);
    }

    public static Track fault(String name) {
      return new Track(name, 0, true);
    }
  }

  public VrrpConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(interfaceName, "interfaceName");
    if (vrid < 1 || vrid > 255) {
      throw new IllegalArgumentException(name + ": VRID must be 1..255: " + vrid);
    }
    if (priority < 1 || priority > 255) {
      throw new IllegalArgumentException(name + ": priority must be 1..255: " + priority);
    }
    if (advertIntervalCentis < 1 || advertIntervalCentis > VrrpCodec.MAX_INTERVAL_CENTIS) {
      throw new IllegalArgumentException(
          name + ": advert interval must be 1..4095 cs: " + advertIntervalCentis);
    }
    vips = List.copyOf(vips);
    if (vips.isEmpty() || vips.size() > VrrpAdvert.MAX_ADDRESSES) {
      throw new IllegalArgumentException(name + ": needs 1..255 virtual addresses: " + vips);
    }
    Objects.requireNonNull(preemptDelay, "preemptDelay");
    if (preemptDelay.isNegative()) {
      throw new IllegalArgumentException(name + ": negative preempt delay: " + preemptDelay);
    }
    int family = vips.get(0).family();
    for (Vip v : vips) {
      if (v.family() != family) {
        throw new IllegalArgumentException(name + ": the virtual addresses mix IPv4 and IPv6 (" + vips
            + "); VRRP runs one instance per family");
      }
    }
    if (primaryAddress != null && familyOf(primaryAddress) != family) {
      throw new IllegalArgumentException(name + ": primary address " + primaryAddress.getHostAddress()
          + " is not of the virtual addresses' family");
    }
    unicastPeers = List.copyOf(unicastPeers);
    for (InetAddress p : unicastPeers) {
      if (familyOf(p) != family) {
        throw new IllegalArgumentException(name + ": unicast peer " + p.getHostAddress()
            + " is not of the virtual addresses' family");
      }
    }
    tracks = List.copyOf(tracks);
  }

  /** 4 or 6: the family of the virtual addresses, the adverts and the peers. */
  public int family() {
    return vips.get(0).family();
  }

  private static int familyOf(InetAddress a) {
    return a instanceof Inet4Address ? 4 : 6;
  }

  /**
   * An IPv4 dotted quad or an IPv6 literal (no zone), never a name lookup.
   *
   * @throws IllegalArgumentException if it is neither
   */
  public static InetAddress literal(String s) {
    if (s.indexOf(':') < 0) {
      return VrrpAdvert.toInet(VrrpAdvert.ipv4(s));
    }
    if (!s.matches("[0-9A-Fa-f:.]+")) {
      throw new IllegalArgumentException("not an IPv6 address literal: " + s);
    }
    try {
      InetAddress a = InetAddress.getByName(s); // a literal: parsed, not looked up
      if (!(a instanceof Inet6Address)) {
        throw new IllegalArgumentException("not an IPv6 address literal: " + s);
      }
      return a;
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv6 address literal: " + s, e);
    }
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The advert interval in nanoseconds. */
  public long advertIntervalNanos() {
    return advertIntervalCentis * 10_000_000L;
  }

  /** Builder with keepalived's defaults: priority 100, 1 s, preempt on, no delay, accept off. */
  public static final class Builder {
    private final String name;
    private String interfaceName;
    private int vrid;
    private int priority = 100;
    private int intervalCentis = 100;
    private final List<Vip> vips = new ArrayList<>();
    private boolean preempt = true;
    private Duration preemptDelay = Duration.ZERO;
    private boolean acceptMode;
    private InetAddress primary;
    private final List<InetAddress> peers = new ArrayList<>();
    private final List<Track> tracks = new ArrayList<>();
    private boolean unicastTtlCheck = true;

    private Builder(String name) {
      this.name = name;
    }

    public Builder interfaceName(String v) { interfaceName = v; return this; }

    public Builder vrid(int v) { vrid = v; return this; }

    public Builder priority(int v) { priority = v; return this; }

    public Builder advertIntervalCentis(int v) { intervalCentis = v; return this; }

    public Builder advertInterval(Duration d) {
      intervalCentis = Math.toIntExact(d.toMillis() / 10);
      return this;
    }

    public Builder vip(String cidr) { vips.add(Vip.parse(cidr)); return this; }

    public Builder vip(Vip v) { vips.add(v); return this; }

    public Builder preempt(boolean v) { preempt = v; return this; }

    public Builder preemptDelay(Duration v) { preemptDelay = v; return this; }

    public Builder acceptMode(boolean v) { acceptMode = v; return this; }

    /** A dotted quad or an IPv6 literal. */
    public Builder primaryAddress(String literal) {
      primary = literal(literal);
      return this;
    }

    public Builder primaryAddress(InetAddress a) { primary = a; return this; }

    /** A dotted quad or an IPv6 literal. */
    public Builder unicastPeer(String literal) {
      peers.add(literal(literal));
      return this;
    }

    public Builder track(Track t) { tracks.add(t); return this; }

    /** With unicast peers: whether adverts must still arrive with TTL / hop limit 255 (default on). */
    public Builder unicastTtlCheck(boolean v) { unicastTtlCheck = v; return this; }

    public VrrpConfig build() {
      return new VrrpConfig(name, interfaceName, vrid, priority, intervalCentis, vips, preempt,
          preemptDelay, acceptMode, primary, peers, tracks, unicastTtlCheck);
    }
  }

  /** Whether the first {@code len} bytes of {@code a} are one of the unicast peers. */
  boolean isPeer(byte[] a, int len) {
    for (InetAddress p : unicastPeers) {
      byte[] b = p.getAddress();
      if (b.length == len && java.util.Arrays.equals(b, 0, len, a, 0, len)) {
        return true;
      }
    }
    return false;
  }
}
