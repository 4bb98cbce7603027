package io.dctun.appliance;

import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.HaSection;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.status.StatusText;
import io.dctun.core.transport.UdpTransport;
import io.dctun.firewall.Firewall;
import io.dctun.ha.GatewayPair;
import io.dctun.ha.OutputGate;
import io.dctun.ha.PairConfig;
import io.dctun.tun.NettyUdpTransport;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The appliance's side of an HA gateway (the {@code ha:} section): wires tunnel-ha's {@link
 * GatewayPair} to the gateway, runs the notify commands, renders the pair in the status file.
 * The rules (takeover, handshake health, the output gate) are {@link io.dctun.ha.PairController}'s.
 *
 * <p>The UDP socket is bound to {@code public.vip:listen-port} with {@code IP_FREEBIND}, on both
 * boxes, from the start: the backup's socket exists before the address does, receives once VRRP
 * adds the VIP, and every datagram the master sends leaves from the VIP (the remote peer never
 * sees a box's own address, so its endpoint never roams to one box).
 */
public final class HaController implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HaController.class);
  /** Both boxes derive the state sync key from the static key they share. */
  static final String SYNC_KEY_LABEL = "dctun ha state sync v1";

  private final GatewayPair gateway;
  private final HaNotify notify;

  HaController(GatewayPair gateway, HaNotify notify) {
    this.gateway = gateway;
    this.notify = notify;
  }

  /**
   * The UDP socket for {@code cfg}: for an HA gateway, {@code public.vip:port} bound with
   * IP_FREEBIND; otherwise {@code fallback} is called.
   */
  static UdpTransport bindUdp(GatewayConfig cfg, int port, UdpBinder fallback) throws IOException {
    if (cfg.ha().isEmpty()) {
      return fallback.bind();
    }
    return NettyUdpTransport.bind(cfg.ha().get().pair().publicSide().vip().address(), port, true);
  }

  /** Binds the ordinary (non-HA) socket. */
  @FunctionalInterface
  interface UdpBinder {
    UdpTransport bind() throws IOException;
  }

  /** {@code out} behind a closed gate for an HA gateway (nothing is sent until MASTER); else {@code out}. */
  static Output gate(GatewayConfig cfg, Output out) {
    return cfg.ha().isEmpty() ? out : new OutputGate(out);
  }

  /**
   * Starts the pair for an HA gateway ({@code output} must be what {@link #gate} returned);
   * returns null for a gateway without an {@code ha:} section.
   */
  static HaController start(GatewayConfig cfg, Device device, Output output, Firewall firewall) throws IOException {
    HaSection ha = cfg.ha().orElse(null);
    if (ha == null) {
      return null;
    }
    PairConfig p = ha.pair();
    PairConfig.Sync spec = p.stateSync();
    if (spec == null && p.handshakeWithinSeconds() > 0) {
      LOG.warn("HA: peer-handshake tracking without state-sync cannot hear how the other box fares: a box "
          + "that fails the check as master stays lowered until it is master again");
    }
    HaNotify notify = new HaNotify(ha.notifyCommands());
    GatewayPair gw;
    try {
      gw = GatewayPair.start(p, device, (OutputGate) output, firewall,
          spec == null ? null : cfg.privateKey().deriveSecret(SYNC_KEY_LABEL), notify::fire);
    } catch (IOException | RuntimeException e) {
      notify.close();
      throw e;
    }
    if (spec != null) {
      LOG.info("HA: state sync {} -> {}, {} bytes/s: {}handshake timestamps", spec.local(), spec.peer(),
          spec.bytesPerSecond(), firewall == null ? "" : "firewall flows, ");
    }
    LOG.info("HA: sync group {} (vrid {}, {} on {}) + {} (vrid {}, {} on {}), priority {}, advert {} ms; "
        + "tunnel muted until MASTER", p.publicSide().name(), p.publicSide().vrid(), p.publicSide().vip(),
        p.publicSide().interfaceName(), p.privateSide().name(), p.privateSide().vrid(), p.privateSide().vip(),
        p.privateSide().interfaceName(), p.priority(), p.advertIntervalMillis());
    if (p.privateSide().vip6() != null) {
      LOG.info("HA: sync group also {} (vrid {}, {} on {}, IPv6)", p.privateSide().name6(), p.privateSide().vrid(),
          p.privateSide().vip6(), p.privateSide().interfaceName());
    }
    return new HaController(gw, notify);
  }

  public boolean isMaster() {
    return gateway.isMaster();
  }

  /** {@code key value} status lines, rendered from the pair's own report ({@link GatewayPair#report}). */
  public String status() {
    return StatusText.of(gateway);
  }

  /**
   * Why this box no longer takes part in the pair, or null: its VRRP thread died (it released the
   * VIPs on the way out, so the twin has them, but this box would never take them back).
   */
  public String failure() {
    io.dctun.ha.VrrpInstance v = gateway.vrrpInstance();
    Throwable t = v != null ? v.failure() : null;
    return t == null ? null : "VRRP thread died: " + t;
  }

  /** Reports the pair into {@code s} (the gateway's status and metrics). */
  public void report(io.dctun.core.status.StatusSink s) {
    gateway.report(s);
    s.section("ha").counter("notify-dropped", notify.dropped());
  }

  /** Leaves the pair: priority-0 advert (the backup takes over at once), VIPs removed, tunnel muted. */
  @Override
  public void close() {
    gateway.close();
    notify.close();
  }
}
