package io.dctun.core.mesh.etcd;

import io.dctun.core.mesh.HostLocations;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.Timers;
import io.dctun.core.status.StatusSink;
import io.dctun.crypto.PublicKey;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Route sharing through etcd for one {@link Device}: the same outward behaviour as {@link
 * io.dctun.core.mesh.MeshAgent} (the full-mesh gossip), with {@link EtcdHostStore} in place of
 * HostDirectory and the control channel.
 *
 * <pre>
 *   a roaming host's initiation answered -> device.learnRoute(host, its peer) at once (engine thread)
 *                                           + store.connected(host, its TAI64N)   (queued)
 *   its last handshake older than REJECT_AFTER_TIME (tick) -> store.disconnected  (queued)
 *   store's decision (store thread)      -> device.learnRoute(host, owner's peer) / forgetRoute
 * </pre>
 *
 * <p>The engine threads never wait on etcd: they only queue. Route versions come from one
 * counter, so a decision applied late (the store thread's, racing the engine's local route)
 * can never overwrite a newer one; after a connect the store re-applies its decision for that
 * host, so the last word is always the table's.
 *
 * <p>Thread-safety: the public methods may be called from any thread.
 */
public final class EtcdMeshAgent implements HostLocations, AutoCloseable {
  /** The source of the routes this agent installs in the device. */
  public static final String ROUTE_SOURCE = "etcd";

  private final Device device;
  private final String self;
  private final EtcdHostStore store;
  private final Map<String, PublicKey> gateways = new ConcurrentHashMap<>();
  private final AtomicLong routeVersion = new AtomicLong();
  private final AtomicLong unknownOwner = new AtomicLong();
  /** When each local host last sent an answered initiation here; guarded by this. */
  private final Map<Prefix, Long> initiatedAt = new HashMap<>();

  /**
   * Starts the store for the device's dctun peers (the gateways).
   *
   * @param incarnation grows with every start of this gateway (wall-clock nanos at start)
   */
  public EtcdMeshAgent(Device device, EtcdHostStore.Config config, long incarnation) {
    this.device = device;
    this.self = device.publicKey().toBase64();
    for (Peer p : device.peers()) {
      if (p.config().dctun()) {
        addGateway(p.publicKey());
      }
    }
    this.store = new EtcdHostStore(config, self, incarnation, this::applyRoute);
    device.onInitiation(this::onInitiation);
    store.start();
  }

  /** A gateway peer added after the agent started. */
  public void addGateway(PublicKey key) {
    gateways.put(key.toBase64(), key);
  }

  private void onInitiation(Peer peer, long timestampNanos, long now) {
    if (!peer.config().roaming()) {
      return;
    }
    for (Prefix host : peer.config().allowedIps()) {
      synchronized (this) {
        initiatedAt.put(host, now);
      }
      device.learnRoute(host, peer.publicKey(), ROUTE_SOURCE, routeVersion.incrementAndGet(), Long.MAX_VALUE);
      store.connected(host, timestampNanos);
    }
  }

  @Override
  public synchronized void tick(long now) {
    for (var it = initiatedAt.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      Peer p = hostPeer(e.getKey());
      long last = Math.max(p == null ? Long.MIN_VALUE : p.lastHandshakeNanos(), e.getValue());
      if (p == null || now - last >= Timers.REJECT_AFTER_TIME) {
        it.remove();
        store.disconnected(e.getKey()); // its session here is dead: it is not connected here
      }
    }
  }

  @Override
  public PublicKey owner(Prefix host) {
    String o = store.owner(host);
    return o == null ? null : o.equals(self) ? device.publicKey() : gateways.get(o);
  }

  /** On the store thread. */
  private void applyRoute(Prefix host, String owner) {
    PublicKey via = null;
    if (owner != null) {
      if (owner.equals(self)) {
        Peer p = hostPeer(host);
        via = p == null ? null : p.publicKey();
      } else {
        via = gateways.get(owner);
        if (via == null) {
          unknownOwner.incrementAndGet(); // a gateway this device has no peer for
        }
      }
    }
    if (via == null) {
      device.forgetRoute(host, ROUTE_SOURCE);
    } else {
      device.learnRoute(host, via, ROUTE_SOURCE, routeVersion.incrementAndGet(), Long.MAX_VALUE);
    }
  }

  private Peer hostPeer(Prefix host) {
    for (Peer p : device.peers()) {
      if (p.config().roaming() && p.config().allowedIps().contains(host)) {
        return p;
      }
    }
    return null;
  }

  /** The store, for its status and tests. */
  public EtcdHostStore store() {
    return store;
  }

  @Override
  public void report(StatusSink s) {
    store.report(s);
    s.counter("unknown-owner", unknownOwner.get());
  }

  /** Stops the store and revokes this gateway's lease: its hosts vanish from etcd at once. */
  @Override
  public void close() {
    store.close();
  }
}
