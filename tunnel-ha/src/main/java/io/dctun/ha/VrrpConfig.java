package io.dctun.ha;

import java.net.Inet4Address;
import java.net.InetAddress;
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
 * @param vips           virtual IPv4 addresses with their prefix lengths
 * @param preempt        whether a higher-priority backup takes over from a lower master
 * @param preemptDelay   after start (or leaving FAULT) do not preempt for this long
 * @param acceptMode     whether the master accepts packets addressed to VIPs it does not own
 *                       (reported to the embedder, which enforces it; dctun adds no filter rules)
 * @param primaryAddress this router's own address on the segment (source of adverts, tie-break);
 *                       null: the I/O layer reads the interface's first IPv4 address
 * @param unicastPeers   empty: multicast to 224.0.0.18; else send to and accept only these
 * @param tracks         conditions that lower the priority or force FAULT while unhealthy
 */
public record VrrpConfig(String name, String interfaceName, int vrid, int priority,
    int advertIntervalCentis, List<Vip> vips, boolean preempt, Duration preemptDelay,
    boolean acceptMode, Inet4Address primaryAddress, List<Inet4Address> unicastPeers,
    List<Track> tracks) {

  public static final int OWNER_PRIORITY = 255;

  /** A virtual address and its prefix length. */
  public record Vip(Inet4Address address, int prefixLength) {
    public Vip {
      Objects.requireNonNull(address, "address");
      if (prefixLength < 0 || prefixLength > 32) {
        throw new IllegalArgumentException("prefix length must be 0..32: " + prefixLength);
      }
    }

    /** Parses "198.18.1.100/24" (or a bare address: /32). */
    public static Vip parse(String cidr) {
      int slash = cidr.indexOf('/');
      String a = slash < 0 ? cidr : cidr.substring(0, slash);
      int p = slash < 0 ? 32 : Integer.parseInt(cidr.substring(slash + 1));
      return new Vip((Inet4Address) VrrpAdvert.toInet(VrrpAdvert.ipv4(a)), p);
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
    unicastPeers = List.copyOf(unicastPeers);
    tracks = List.copyOf(tracks);
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
    private Inet4Address primary;
    private final List<Inet4Address> peers = new ArrayList<>();
    private final List<Track> tracks = new ArrayList<>();

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

    public Builder primaryAddress(String dotted) {
      primary = (Inet4Address) VrrpAdvert.toInet(VrrpAdvert.ipv4(dotted));
      return this;
    }

    public Builder primaryAddress(Inet4Address a) { primary = a; return this; }

    public Builder unicastPeer(String dotted) {
      peers.add((Inet4Address) VrrpAdvert.toInet(VrrpAdvert.ipv4(dotted)));
      return this;
    }

    public Builder track(Track t) { tracks.add(t); return this; }

    public VrrpConfig build() {
      return new VrrpConfig(name, interfaceName, vrid, priority, intervalCentis, vips, preempt,
          preemptDelay, acceptMode, primary, peers, tracks);
    }
  }

  /** Whether {@code a} is one of the unicast peers. */
  boolean isPeer(int a) {
    for (InetAddress p : unicastPeers) {
      if (VrrpAdvert.ipv4(p) == a) {
        return true;
      }
    }
    return false;
  }
}
