package io.dctun.core.mesh;

import io.dctun.core.control.ControlSend;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.Timers;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.crypto.PublicKey;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the route-sharing protocol ({@link HostDirectory}) for one {@link Device}: the thin driver
 * between the state machine and the device.
 *
 * <pre>
 *   a roaming host's initiation answered  -> directory.connected(host's prefixes, its TAI64N)
 *   its last handshake older than REJECT_AFTER_TIME -> directory.disconnected
 *   control message of type MeshCodec.CONTROL_TYPE from a dctun peer -> directory.receive
 *   directory.send(gateway, message)      -> device.control().send(gateway's key, ...)
 *   directory.routeChanged(host, owner)   -> device.learnRoute(host, owner's peer) / forgetRoute
 *   engine tick                           -> directory.tick
 * </pre>
 *
 * <p>The gateways of the mesh are the device's peers configured as dctun; the hosts are its peers
 * configured as roaming ({@code PeerConfig.withRoaming}), whose prefixes the device routes only as
 * this agent says. A packet for a host connected to another gateway is forwarded there by the
 * device; between gateways a packet is forwarded at most once (Device's rule), so routes that
 * disagree for a moment cannot loop.
 *
 * <p>Thread-safety: every entry point is synchronized; the directory is touched by one thread at
 * a time.
 */
public final class MeshAgent implements StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(MeshAgent.class);
  /** The source of the routes this agent installs in the device. */
  public static final String ROUTE_SOURCE = "mesh";

  private final Device device;
  private final String self;
  private final HostDirectory<String> directory;
  private final Map<String, PublicKey> gateways = new HashMap<>();
  /** When each local host last sent an answered initiation here. */
  private final Map<Prefix, Long> initiatedAt = new HashMap<>();
  private long now;
  private long routeVersion;
  private long malformed;
  private long sendRefused;
  private final io.dctun.core.LogLimiter malformedLog = new io.dctun.core.LogLimiter();

  /**
   * Joins the mesh of the device's dctun peers and starts greeting them.
   *
   * @param incarnation grows with every start of this gateway (wall-clock nanos at start)
   */
  public MeshAgent(Device device, long incarnation, int leaseMillis, long now) {
    this.device = device;
    this.self = device.publicKey().toBase64();
    this.now = now;
    this.directory = new HostDirectory<>(self, incarnation, leaseMillis, new MeshOutput<>() {
      @Override
      public void send(String to, MeshMessage m) {
        PublicKey k = gateways.get(to);
        byte[] payload = MeshCodec.encode(m);
        ControlSend r = device.control().send(k, MeshCodec.CONTROL_TYPE, payload, 0, payload.length, MeshAgent.this.now);
        if (r != ControlSend.SENT && r != ControlSend.QUEUED) {
          sendRefused++;
        }
      }

      @Override
      public void routeChanged(Prefix host, String owner) {
        applyRoute(host, owner);
      }
    });
    synchronized (this) {
      device.control().register(MeshCodec.CONTROL_TYPE, this::onControl);
      device.onInitiation(this::onInitiation);
      for (Peer p : device.peers()) {
        if (p.config().dctun()) {
          addGatewayLocked(p.publicKey());
        }
      }
    }
  }

  /** A gateway peer added after the agent started. */
  public synchronized void addGateway(PublicKey key, long now) {
    this.now = now;
    addGatewayLocked(key);
  }

  private void addGatewayLocked(PublicKey key) {
    String id = key.toBase64();
    gateways.put(id, key);
    directory.addGateway(id, now);
  }

  private synchronized void onControl(PublicKey from, int type, byte[] buf, int off, int len, long now) {
    this.now = now;
    MeshMessage m;
    try {
      m = MeshCodec.decode(buf, off, len);
    } catch (MeshCodec.MalformedMessageException e) {
      malformed++;
      if (malformedLog.allow(now)) {
        LOG.warn("malformed route-sharing message from {} ({} so far): {}", from, malformed, e.getMessage());
      }
      return;
    }
    directory.receive(from.toBase64(), m, now);
  }

  private synchronized void onInitiation(Peer peer, long timestampNanos, long now) {
    if (!peer.config().roaming()) {
      return;
    }
    this.now = now;
    for (Prefix host : peer.config().allowedIps()) {
      initiatedAt.put(host, now);
      directory.connected(host, timestampNanos, now);
    }
  }

  /** Withdraws every host connected here, everywhere, now (see {@link HostDirectory#leave}). */
  public synchronized int leave() {
    return directory.leave(now);
  }

  /** Drive with the engine's tick ({@code engine.everyTick(agent::tick)}). */
  public synchronized void tick(long now) {
    this.now = now;
    for (Prefix host : directory.localHosts().keySet()) {
      Peer p = hostPeer(host);
      long last = Math.max(p == null ? Long.MIN_VALUE : p.lastHandshakeNanos(), initiatedAt.getOrDefault(host, Long.MIN_VALUE));
      if (p == null || last == Long.MIN_VALUE || now - last >= Timers.REJECT_AFTER_TIME) {
        initiatedAt.remove(host);
        directory.disconnected(host, now); // its session here is dead: it is not connected here
      }
    }
    directory.tick(now);
  }

  /** Where this gateway routes {@code host}: a gateway's key, this device's own, or null. */
  public synchronized PublicKey owner(Prefix host) {
    String o = directory.owner(host);
    return o == null ? null : o.equals(self) ? device.publicKey() : gateways.get(o);
  }

  private void applyRoute(Prefix host, String owner) {
    PublicKey via = owner == null ? null : owner.equals(self) ? keyOf(hostPeer(host)) : gateways.get(owner);
    if (via == null) {
      device.forgetRoute(host, ROUTE_SOURCE);
    } else {
      device.learnRoute(host, via, ROUTE_SOURCE, ++routeVersion, Long.MAX_VALUE);
    }
  }

  private static PublicKey keyOf(Peer p) {
    return p == null ? null : p.publicKey();
  }

  /** The roaming peer whose prefixes include {@code host}. */
  private Peer hostPeer(Prefix host) {
    for (Peer p : device.peers()) {
      if (p.config().roaming() && p.config().allowedIps().contains(host)) {
        return p;
      }
    }
    return null;
  }

  @Override
  public synchronized void report(StatusSink s) {
    directory.report(s);
    s.counter("malformed", malformed);
    s.counter("send-refused", sendRefused);
  }
}
