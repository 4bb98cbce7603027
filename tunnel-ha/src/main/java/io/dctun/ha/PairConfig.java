package io.dctun.ha;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One box's half of a gateway pair: the public virtual address (the tunnel endpoint, on the WAN
 * interface) and the private one (the servers' next hop, on the LAN interface) move together as
 * one VRRP sync group; what lowers the box's priority; where state streams to the other box.
 * Both boxes of a pair have the same configuration except for {@code priority} and the state
 * sync addresses. Immutable; build with {@link #builder()}, or get one from a configuration file
 * (the appliance's {@code ha:} section).
 *
 * @param priority VRRP priority of every instance, 1-254; the higher box of the pair is master
 * @param advertIntervalMillis advert interval, 10-40950 ms, a multiple of 10 (VRRPv3 counts
 *     centiseconds)
 * @param preempt whether a higher-priority backup takes over from a lower master
 * @param preemptDelay no preemption for this long after start
 * @param publicSide the WAN instance: its VIP is the tunnel endpoint
 * @param privateSide the LAN instance (and an IPv6 one with {@code vip6}): the servers' next hop
 * @param trackInterfaces further interfaces whose link-down forces FAULT (the two sides'
 *     interfaces always do)
 * @param handshakeWithinSeconds 0: no handshake tracking; else a master with no handshake with
 *     any peer for this long (past as long a grace after taking over) loses {@code
 *     handshakeWeight} priority, see {@link PairController}
 * @param handshakeWeight priority decrement while the handshake condition is unhealthy
 * @param stateSync where firewall state, handshake timestamps and tunnel health stream to the
 *     other box, or null (then a box that failed the handshake check hears nothing of its twin)
 */
public record PairConfig(int priority, int advertIntervalMillis, boolean preempt, Duration preemptDelay,
    Side publicSide, Side privateSide, List<String> trackInterfaces, int handshakeWithinSeconds,
    int handshakeWeight, Sync stateSync) {

  /** Name of the tracked condition fed from the tunnel's handshakes. */
  public static final String HANDSHAKE_CONDITION = "peer-handshake";
  /** Prefix of a tracked interface's condition: {@code link:eth2}. */
  public static final String LINK_CONDITION_PREFIX = "link:";

  /**
   * One side of the pair: an IPv4 VRRP instance, and with {@code vip6} (private side only) a
   * second, IPv6 instance of the same VRID on the same interface, named {@link #name6()}. RFC 5798
   * keeps the families apart; the sync group moves them together.
   *
   * @param name the IPv4 instance's name (logs, status, notify hooks)
   * @param unicastPeers empty: multicast 224.0.0.18; else adverts go to (and come only from) these
   * @param unicastTtlCheck with unicast peers: adverts must still arrive with TTL 255 (the peers
   *     are on the segment); false for routed peers. See {@link VrrpConfig#unicastTtlCheck()}
   */
  public record Side(String name, String interfaceName, int vrid, VrrpConfig.Vip vip, VrrpConfig.Vip vip6,
      List<Inet4Address> unicastPeers, boolean unicastTtlCheck) {

    /** As the canonical constructor, with the unicast TTL check on. */
    public Side(String name, String interfaceName, int vrid, VrrpConfig.Vip vip, VrrpConfig.Vip vip6,
        List<Inet4Address> unicastPeers) {
      this(name, interfaceName, vrid, vip, vip6, unicastPeers, true);
    }

    public Side {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(interfaceName, "interfaceName");
      Objects.requireNonNull(vip, "vip");
      if (vrid < 1 || vrid > 255) {
        throw new IllegalArgumentException(name + ": vrid must be 1-255, got " + vrid);
      }
      if (vip.family() != 4) {
        throw new IllegalArgumentException(name + ": vip must be IPv4 (IPv6 goes in vip6), got " + vip);
      }
      if (vip6 != null && !(vip6.address() instanceof Inet6Address)) {
        throw new IllegalArgumentException(name + ": vip6 must be IPv6, got " + vip6);
      }
      unicastPeers = List.copyOf(unicastPeers);
    }

    /** A multicast side with an IPv4 VIP only, e.g. {@code of("dctun-public", "eth0", 51, "198.18.0.100/24")}. */
    public static Side of(String name, String interfaceName, int vrid, String vipCidr) {
      return new Side(name, interfaceName, vrid, VrrpConfig.Vip.parse(vipCidr), null, List.of());
    }

    /** This side with an IPv6 instance too ({@code fe80::52:1/64}). */
    public Side withVip6(String cidr) {
      return new Side(name, interfaceName, vrid, vip, VrrpConfig.Vip.parse(cidr), unicastPeers, unicastTtlCheck);
    }

    /** This side in unicast mode: adverts to and only from {@code peers}, TTL 255 checked or not. */
    public Side withUnicastPeers(List<Inet4Address> peers, boolean ttlCheck) {
      return new Side(name, interfaceName, vrid, vip, vip6, peers, ttlCheck);
    }

    /** The IPv6 instance's name. */
    public String name6() {
      return name + "-v6";
    }

    /** The instance names of this side: the IPv4 one, then the IPv6 one if configured. */
    public List<String> instances() {
      return vip6 == null ? List.of(name) : List.of(name, name6());
    }
  }

  /**
   * {@code local} (an address on the private segment, never a public one) is where this box
   * listens; {@code peer} is the other box's; at most {@code bytesPerSecond} of flows go out.
   */
  public record Sync(InetSocketAddress local, InetSocketAddress peer, long bytesPerSecond) {
    public Sync {
      Objects.requireNonNull(local, "local");
      Objects.requireNonNull(peer, "peer");
      if (bytesPerSecond < 10_000) {
        throw new IllegalArgumentException("state sync bandwidth must be at least 10000 bytes/s, got "
            + bytesPerSecond);
      }
    }
  }

  public PairConfig {
    Objects.requireNonNull(publicSide, "publicSide");
    Objects.requireNonNull(privateSide, "privateSide");
    Objects.requireNonNull(preemptDelay, "preemptDelay");
    trackInterfaces = List.copyOf(trackInterfaces);
    if (priority < 1 || priority > 254) {
      throw new IllegalArgumentException("priority must be 1-254, got " + priority);
    }
    if (advertIntervalMillis < 10 || advertIntervalMillis > 40950 || advertIntervalMillis % 10 != 0) {
      throw new IllegalArgumentException("advert interval must be 10-40950 ms in steps of 10, got "
          + advertIntervalMillis);
    }
    if (handshakeWithinSeconds < 0 || (handshakeWithinSeconds > 0 && (handshakeWeight < 1 || handshakeWeight > 254))) {
      throw new IllegalArgumentException("handshake tracking needs within >= 0 s and a weight of 1-254, got "
          + handshakeWithinSeconds + " s, weight " + handshakeWeight);
    }
    if (publicSide.vip6() != null) {
      throw new IllegalArgumentException("the public side has one address, the tunnel's: no vip6");
    }
  }

  /** The pair's state is this instance's: the sync group moves the others with it. */
  public String publicInstance() {
    return publicSide.name();
  }

  /** The handshake limit in nanoseconds; 0: not tracked. */
  public long handshakeWithinNanos() {
    return handshakeWithinSeconds * 1_000_000_000L;
  }

  /**
   * The VRRP instances, public first, then private (and private's IPv6 instance), as one sync
   * group for {@link VrrpInstance#start(List, VrrpListener)}.
   */
  public List<VrrpConfig> syncGroup() {
    List<VrrpConfig> g = new ArrayList<>(List.of(vrrp(publicSide, false), vrrp(privateSide, false)));
    if (privateSide.vip6() != null) {
      g.add(vrrp(privateSide, true));
    }
    return g;
  }

  private VrrpConfig vrrp(Side s, boolean v6) {
    VrrpConfig.Builder b = VrrpConfig.builder(v6 ? s.name6() : s.name()).interfaceName(s.interfaceName())
        .vrid(s.vrid()).priority(priority).advertIntervalCentis(advertIntervalMillis / 10)
        .vip(v6 ? s.vip6() : s.vip()).preempt(preempt).preemptDelay(preemptDelay);
    for (Inet4Address p : v6 ? List.<Inet4Address>of() : s.unicastPeers()) {
      b.unicastPeer(p.getHostAddress());
    }
    b.unicastTtlCheck(s.unicastTtlCheck());
    for (String i : trackInterfaces) {
      b.track(VrrpConfig.Track.fault(LINK_CONDITION_PREFIX + i));
    }
    if (handshakeWithinSeconds > 0) {
      b.track(VrrpConfig.Track.weight(HANDSHAKE_CONDITION, handshakeWeight));
    }
    return b.build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** For embedders; defaults: priority 100, advert 1000 ms, preempt, no tracking, no state sync. */
  public static final class Builder {
    private int priority = 100;
    private int advertIntervalMillis = 1000;
    private boolean preempt = true;
    private Duration preemptDelay = Duration.ZERO;
    private Side publicSide;
    private Side privateSide;
    private final List<String> trackInterfaces = new ArrayList<>();
    private int within;
    private int weight;
    private Sync sync;

    private Builder() {}

    public Builder priority(int v) { priority = v; return this; }

    public Builder advertIntervalMillis(int v) { advertIntervalMillis = v; return this; }

    public Builder preempt(boolean v) { preempt = v; return this; }

    public Builder preemptDelay(Duration v) { preemptDelay = v; return this; }

    public Builder publicSide(Side v) { publicSide = v; return this; }

    public Builder privateSide(Side v) { privateSide = v; return this; }

    public Builder trackInterface(String ifname) { trackInterfaces.add(ifname); return this; }

    /** No handshake with any peer for {@code seconds} as master: priority minus {@code weight}. */
    public Builder trackHandshakes(int seconds, int weight) { within = seconds; this.weight = weight; return this; }

    public Builder stateSync(Sync v) { sync = v; return this; }

    public PairConfig build() {
      return new PairConfig(priority, advertIntervalMillis, preempt, preemptDelay, publicSide, privateSide,
          trackInterfaces, within, weight, sync);
    }
  }
}
