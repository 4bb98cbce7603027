package io.dctun.appliance;

import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.InterfaceAddress;
import io.dctun.appliance.config.StaticRoute;
import io.dctun.core.mesh.HostLocations;
import io.dctun.core.mesh.RouteSharing;
import io.dctun.core.status.StatusSink;
import io.dctun.core.route.Route;
import io.dctun.core.route.RouteResult;
import io.dctun.core.Clock;
import io.dctun.core.device.PacketDevice;
import io.dctun.core.engine.Engine;
import io.dctun.tun.NettyUdpTransport;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusText;
import io.dctun.core.transport.NioUdpTransport;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.core.transport.UdpTransport;
import io.dctun.core.uapi.SocketSettings;
import io.dctun.core.uapi.Uapi;
import io.dctun.core.uapi.UapiServer;
import io.dctun.tun.LinuxTun;
import io.dctun.tun.TunnelInterface;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running gateway: the TUN interface with its addresses and routes, the UDP socket, the
 * protocol {@link Device} and the {@link Engine} between them. Built all-or-nothing: if any step
 * fails, what was already created is removed before the error is reported.
 */
public final class Gateway implements GatewayProcess.Running {
  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  private volatile GatewayConfig cfg; // replaced by a reload
  private volatile java.nio.file.Path configFile; // what a reload reads; null: started from no file
  private final AtomicLong reloads = new AtomicLong();
  private final AtomicLong reloadFailures = new AtomicLong();
  private volatile String lastReload = "none";
  private TunnelInterface tunnel;
  private LinuxTun tun;
  private UdpTransport udp;
  private io.dctun.core.transport.Transports transports; // udp first, then tcp and tls if configured
  private Device device;
  private Engine engine;
  private final AtomicLong writeErrors = new AtomicLong();
  private GatewayFirewall firewall; // firewall: section (or none); see GatewayFirewall
  private HaController ha; // null unless the config has an ha: section
  private volatile UapiServer uapi; // null with uapi: false, or when its socket was taken
  private volatile String uapiError = "not started";
  private volatile HostLocations mesh; // null unless a peer has role gateway or host
  private volatile io.dctun.appliance.metrics.MetricsEndpoint metrics; // null unless metrics: is set
  private final Engine.FailureListener onFailure;
  /** Who runs the gateway, read once at start: README, "Least privilege". */
  private final java.util.Optional<Privileges> privileges = Privileges.current();
  private boolean closed; // guarded by this

  private Gateway(GatewayConfig cfg, Engine.FailureListener onFailure) {
    this.cfg = cfg;
    this.onFailure = onFailure;
  }

  /**
   * Creates the interface, binds the socket and starts moving packets. A fatal engine failure is
   * only logged ({@link Engine#LOG_ONLY}) and shown in the status ({@code engine.failure}); {@code
   * dctun up} uses {@link #start(GatewayConfig, Engine.FailureListener)} and shuts down.
   */
  public static Gateway start(GatewayConfig cfg) throws IOException {
    return start(cfg, Engine.LOG_ONLY);
  }

  /**
   * As {@link #start(GatewayConfig)}, telling {@code onFailure} when the engine can no longer move
   * packets (the TUN interface was deleted, ...; see {@link Engine}). An interrupt of the calling
   * thread during start may make it fail (then, as for any failure, nothing is left behind).
   */
  public static Gateway start(GatewayConfig cfg, Engine.FailureListener onFailure) throws IOException {
    return start(cfg, onFailure, null);
  }

  /**
   * As {@link #start(GatewayConfig, Engine.FailureListener)}, for {@code cfg} loaded from {@code
   * configFile}: {@link #reload} and SIGHUP read that file again (null: only the firewall rules
   * reload, from the firewall section's file).
   */
  public static Gateway start(GatewayConfig cfg, Engine.FailureListener onFailure, java.nio.file.Path configFile)
      throws IOException {
    Gateway g = new Gateway(cfg, onFailure);
    g.configFile = configFile;
    try {
      g.open();
      return g;
    } catch (IOException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  private void open() throws IOException {
    List<PeerConfig> peers = devicePeers(cfg);
    List<TunnelInterface.Address> addresses = new ArrayList<>();
    for (InterfaceAddress a : cfg.addresses()) {
      addresses.add(new TunnelInterface.Address(a.address(), a.length()));
    }
    List<Prefix> routes = new ArrayList<>();
    for (PeerConfig p : peers) {
      routes.addAll(p.allowedIps()); // a roaming host's too: the kernel sends it here, the device knows where it is
    }
    for (StaticRoute r : cfg.routes()) {
      routes.add(r.prefix());
    }
    // Every kernel route goes with the interface when it is deleted (close()).
    tunnel = TunnelInterface.create(cfg.interfaceName(), cfg.mtu(), addresses, routes);
    tun = tunnel.tun();

    int port = cfg.listenPort().orElse(0);
    udp = HaController.bindUdp(cfg, port, () -> bindUdp(cfg.listenAddress().orElse(null), port));
    // WireGuard over TCP and TLS beside UDP, when the file listens on them or a peer is reached so.
    List<io.dctun.core.transport.Transport> carriers = new ArrayList<>(List.of(udp));
    InetAddress bindStreams = cfg.listenAddress().orElse(null);
    if (cfg.listenTcp().isPresent() || dials(cfg, "tcp")) {
      carriers.add(io.dctun.core.transport.NioTcpTransport.open(cfg.listenTcp().isPresent()
          ? new InetSocketAddress(bindStreams, cfg.listenTcp().getAsInt()) : null));
    }
    if (cfg.listenTls().isPresent() || dials(cfg, "tls")) {
      carriers.add(io.dctun.tun.NettyTlsTransport.open(cfg.listenTls().isPresent()
          ? new InetSocketAddress(bindStreams, cfg.listenTls().getAsInt()) : null));
    }
    transports = new io.dctun.core.transport.Transports(carriers);
    io.dctun.core.session.Output out = HaController.gate(cfg, Engine.output(transports, tun, writeErrors));
    device = new Device(cfg.privateKey(), cfg.mtu(), out, Clock.SYSTEM);
    for (PeerConfig p : peers) {
      device.addPeer(p);
    }
    installStaticRoutes(cfg, device);
    firewall = GatewayFirewall.attach(cfg, device); // before the engine moves any packet
    if (configFile != null) {
      firewall.onSighup(this::reload); // SIGHUP reloads the whole file, not the rules alone
    }
    List<PacketDevice> queues = new ArrayList<>();
    for (int i = 0; i < tun.queueCount(); i++) {
      queues.add(tun.queue(i));
    }
    engine = new Engine(device, queues, transports, Clock.SYSTEM, null).onFailure(onFailure);
    engine.everyTick(firewall::tick); // flow expiry on the engine's timer thread: no thread of its own
    if (cfg.mesh().isPresent()) {
      // Route sharing: registered with the device before the engine moves a packet, so no
      // host's first initiation goes unseen; ticked (leases, hellos, expiry) on the engine's tick.
      // mode mesh: gossip over the control channel; mode etcd: records under this gateway's lease
      HostLocations m = RouteSharing.start(cfg.mesh().get().routeSharing(), device, Clock.SYSTEM.wallClockNanos(),
          Clock.SYSTEM.nanoTime());
      mesh = m;
      engine.everyTick(now -> {
        if (mesh != null) {
          m.tick(now);
        }
      });
    }
    engine.start();
    // HA pair: muted until VRRP makes this box MASTER; streams firewall state and handshake
    // timestamps to the twin while master (ha.state-sync).
    ha = HaController.start(cfg, device, out, firewall.firewall());
    if (cfg.metrics().isPresent()) {
      // Read at scrape time from the same reports as the status file: nothing on the packet path.
      metrics = io.dctun.appliance.metrics.MetricsEndpoint.start(cfg.metrics().get(), cfg.interfaceName(), device,
          () -> List.of(this::report));
      LOG.info("metrics: http://{}/metrics", hostPort(new InetSocketAddress(cfg.metrics().get().getAddress(),
          metrics.port())));
    }
    if (cfg.uapi()) {
      // wg show/set/syncconf on /var/run/wireguard/<interface>.sock; wg set changes the running
      // state until the next restart, which applies the file again (README, "Operating with wg").
      // Not fatal: gateways in network namespaces of one host share /var/run/wireguard, so a
      // second "dctun0" finds the first one's socket; the tunnel matters more than wg show.
      try {
        uapi = UapiServer.start(new Uapi(device, cfg.privateKey(), SocketSettings.fixed(udp.localAddress().getPort())),
            cfg.interfaceName());
      } catch (java.nio.file.AccessDeniedException e) {
        // An unprivileged gateway and a /var/run/wireguard of root's: the message alone is a path.
        uapiError = "no permission for " + e.getFile() + privileges.map(p -> " (uid " + p.uid() + ")").orElse("")
            + ": " + UapiServer.DEFAULT_DIRECTORY + " must be this user's (README, \"Least privilege\")";
        LOG.warn("WARNING: uapi off: {}; wg show {} does not see this gateway", uapiError, cfg.interfaceName());
      } catch (IOException e) {
        uapiError = e.getMessage();
        LOG.warn("WARNING: uapi off: {}; wg show {} does not see this gateway", uapiError, cfg.interfaceName());
      }
    } else {
      uapiError = "uapi: false in the configuration";
    }
    LOG.info("{} up: public key {}, UDP {} ({}), {} peer(s), AEAD {}, JDK {}", tun.name(), cfg.publicKey(),
        udp.localAddress(), udp.kind(), peers.size(), io.dctun.crypto.Aead.defaultImpl(), Runtime.version().feature());
    // Peers we can reach get a handshake now rather than on the first packet.
    long now = Clock.SYSTEM.nanoTime();
    for (Peer p : device.peers()) {
      if (p.endpoint() != null && p.config().persistentKeepaliveSeconds() > 0) {
        device.initiate(p.publicKey(), now);
      }
    }
  }

  /**
   * Reads the configuration file again and applies it as a difference ({@link GatewayReload}):
   * peers added, removed and changed (an unchanged or changed peer keeps its session), allowed IPs
   * and static routes in the device and the kernel, the firewall rules swapped whole. The file is
   * the gateway's configuration: after a reload the device's peers are the file's, also where
   * {@code wg set} had changed them (a peer only {@code wg set} added is removed), except the
   * endpoint roaming has learned. A file with any error, or one that changes what only a restart
   * can change, changes nothing and says why (with its line); counted as {@code reload.failures}.
   *
   * @return true if the file was applied
   */
  public synchronized boolean reload() {
    java.nio.file.Path file = configFile;
    if (closed || device == null) {
      return false;
    }
    if (file == null) {
      return refuseReload("this gateway was not started from a file; nothing to reload", "no file");
    }
    GatewayConfig next;
    try {
      next = io.dctun.appliance.config.ConfigLoader.load(file);
    } catch (io.dctun.appliance.config.ConfigException e) {
      StringBuilder why = new StringBuilder();
      for (io.dctun.appliance.config.ConfigError err : e.errors()) {
        why.append("\n  ").append(err);
      }
      return refuseReload(e.errors().size() + " error(s) in " + file + ":" + why, e.errors().get(0).toString());
    } catch (RuntimeException e) {
      return refuseReload(file + ": " + e, e.toString());
    }
    GatewayConfig running = cfg;
    GatewayReload.Plan plan = GatewayReload.plan(running, next);
    if (!plan.applicable()) {
      return refuseReload(file + ": changes what only a restart applies: " + String.join("; ", plan.needRestart()),
          "needs a restart: " + String.join("; ", plan.needRestart()));
    }
    List<PeerConfig> wanted;
    try {
      wanted = devicePeers(next);
    } catch (IOException e) {
      return refuseReload(file + ": " + e.getMessage(), e.getMessage());
    }
    // Kernel routes for new prefixes first: until the device has their peer they are dropped as
    // unroutable, never sent elsewhere. A route the kernel refuses undoes the ones added.
    java.util.Set<Prefix> oldRoutes = GatewayReload.kernelRoutes(running);
    java.util.Set<Prefix> newRoutes = GatewayReload.kernelRoutes(next);
    List<Prefix> addedRoutes = new ArrayList<>();
    for (Prefix p : newRoutes) {
      if (oldRoutes.contains(p)) {
        continue;
      }
      try {
        tunnel.addRoute(p);
        addedRoutes.add(p);
      } catch (IOException e) {
        removeRoutes(addedRoutes);
        return refuseReload(file + ": the kernel refused the route " + p + ": " + e.getMessage(),
            "kernel route " + p + ": " + e.getMessage());
      }
    }
    // The connection table's size, before anything else that cannot fail: a smaller table that
    // established flows would not fit is refused, and the kernel routes just added are undone.
    int lost = firewall.resize(next);
    if (lost > 0) {
      removeRoutes(addedRoutes);
      return refuseReload(file + ": firewall.max-flows " + next.firewall().get().options().maxFlows() + ": " + lost
          + " established flow(s) would not fit in the smaller table; shrink when fewer are held, or restart",
          "max-flows: " + lost + " established flows would not fit");
    }
    java.util.Map<io.dctun.crypto.PublicKey, PeerConfig> byKey = new java.util.LinkedHashMap<>();
    for (PeerConfig p : wanted) {
      byKey.put(p.publicKey(), p);
    }
    synchronized (device) { // the UAPI changes the device under the same monitor: one change at a time
      for (StaticRoute r : plan.routesRemoved()) {
        device.forgetRoute(r.prefix(), StaticRoute.SOURCE);
      }
      for (Peer p : device.peers()) {
        if (!byKey.containsKey(p.publicKey())) {
          device.removePeer(p.publicKey()); // gone from the file (or only ever added by wg set)
        }
      }
      // Shrink first, then grow: two peers may swap prefixes in one reload.
      for (PeerConfig w : wanted) {
        Peer had = device.peer(w.publicKey());
        if (had != null) {
          List<Prefix> kept = new ArrayList<>(had.config().allowedIps());
          kept.retainAll(w.allowedIps());
          if (kept.size() != had.config().allowedIps().size()) {
            device.addPeer(had.config().withAllowedIps(kept));
          }
        }
      }
      for (PeerConfig w : wanted) {
        Peer had = device.peer(w.publicKey());
        if (had == null || !GatewayReload.sameOnDevice(had.config(), w)) {
          device.addPeer(w); // an existing peer keeps its sessions and its roamed endpoint
        }
      }
      for (StaticRoute r : plan.routesAdded()) {
        RouteResult res = learnStaticRoute(next, device, r);
        if (res != RouteResult.ADDED && res != RouteResult.UNCHANGED) {
          LOG.warn("{}: reload: static route {} not installed: {}", next.interfaceName(), r, res);
        }
      }
    }
    firewall.install(next);
    for (Prefix p : oldRoutes) {
      if (!newRoutes.contains(p)) {
        try {
          tunnel.removeRoute(p);
        } catch (IOException e) {
          LOG.warn("{}: reload: could not remove the kernel route {}: {}", next.interfaceName(), p, e.getMessage());
        }
      }
    }
    cfg = next;
    reloads.incrementAndGet();
    lastReload = plan.describe();
    LOG.info("{}: reloaded {}: {}", next.interfaceName(), file, lastReload);
    return true;
  }

  private boolean refuseReload(String why, String shortWhy) {
    reloadFailures.incrementAndGet();
    lastReload = "refused: " + shortWhy.replace('\n', ' ');
    if (firewall != null) {
      firewall.reloadRefused(shortWhy);
    }
    LOG.error("{}: reload refused, nothing changed: {}", cfg.interfaceName(), why);
    return false;
  }

  /** The device's view of the file's peers: endpoints resolved, roles turned into the device's flags. */
  static List<PeerConfig> devicePeers(GatewayConfig cfg) throws IOException {
    List<PeerConfig> peers = new ArrayList<>();
    for (io.dctun.appliance.config.PeerConfig p : cfg.peers()) {
      List<io.dctun.core.transport.Endpoint> eps = new ArrayList<>();
      for (io.dctun.appliance.config.Endpoint e : p.endpoints()) {
        InetSocketAddress a;
        try {
          a = new InetSocketAddress(InetAddress.getByName(e.host()), e.port());
        } catch (UnknownHostException ex) {
          throw new IOException("peer " + p.label() + ": cannot resolve endpoint host " + e.host());
        }
        eps.add(switch (e.carrier()) {
          case "tcp" -> io.dctun.core.transport.StreamEndpoint.tcp(a);
          case "tls" -> io.dctun.core.transport.StreamEndpoint.tls(a);
          default -> UdpEndpoint.of(a);
        });
      }
      PeerConfig pc = new PeerConfig(p.label(), p.publicKey(), p.presharedKey(), eps.isEmpty() ? null : eps.get(0),
          p.allowedIps(), p.persistentKeepalive());
      switch (p.role()) {
        case GATEWAY -> pc = pc.withDctun(true); // control channel: route-sharing announcements
        case HOST -> pc = pc.withRoaming(true); // routed only where the mesh says it is
        case SITE -> { }
      }
      // several endpoints: EndpointSet picks one (probes for a gateway, handshakes for a stock peer)
      peers.add(eps.size() > 1 ? pc.withEndpoints(eps) : pc);
    }
    return peers;
  }

  /**
   * Puts the {@code routes:} of {@code cfg} in the device's route table: learned routes with source
   * {@link StaticRoute#SOURCE} that never expire. The loader has refused prefixes that are already
   * routed, so none is shadowed or refused here.
   */
  static void installStaticRoutes(GatewayConfig cfg, Device device) {
    for (StaticRoute r : cfg.routes()) {
      RouteResult res = learnStaticRoute(cfg, device, r);
      if (res != RouteResult.ADDED && res != RouteResult.UNCHANGED) {
        throw new IllegalStateException("static route " + r + " not installed: " + res);
      }
    }
  }

  /** Routes {@code r} to the peer of {@code cfg} it names (the loader checked that it exists). */
  private static RouteResult learnStaticRoute(GatewayConfig cfg, Device device, StaticRoute r) {
    io.dctun.appliance.config.PeerConfig via = cfg.peers().stream()
        .filter(p -> p.name().filter(r.via()::equals).isPresent()).findFirst()
        .orElseThrow(() -> new IllegalStateException("route " + r + ": no such peer"));
    return device.learnRoute(r.prefix(), via.publicKey(), StaticRoute.SOURCE, 1, Long.MAX_VALUE);
  }

  /** Takes back kernel routes a reload added before it was refused; best effort. */
  private void removeRoutes(List<Prefix> added) {
    for (Prefix p : added) {
      try {
        tunnel.removeRoute(p);
      } catch (IOException ignored) {
        // already failing; the interface's routes go with it at shutdown
      }
    }
  }

  /** Whether some peer is reached over {@code carrier} (so its transport must exist, listening or not). */
  static boolean dials(GatewayConfig cfg, String carrier) {
    return cfg.peers().stream().flatMap(p -> p.endpoints().stream()).anyMatch(e -> e.carrier().equals(carrier));
  }

  /**
   * UDP through Netty's epoll transport (recvmmsg/sendmmsg batches) by default; {@code
   * -Ddctun.udp=nio} selects the plain JDK DatagramChannel, for comparison or where Netty's
   * native library cannot load.
   */
  static UdpTransport bindUdp(InetAddress address, int port) throws IOException {
    String kind = System.getProperty("dctun.udp", "netty");
    if (kind.equals("nio")) {
      return NioUdpTransport.bind(address, port);
    }
    if (!kind.equals("netty")) {
      throw new IllegalArgumentException("-Ddctun.udp must be netty or nio, got " + kind);
    }
    return NettyUdpTransport.bind(address, port);
  }

  public Device device() {
    return device;
  }

  /** The route sharing (mesh or etcd), or null when no peer has role gateway or host. */
  public HostLocations mesh() {
    return mesh;
  }

  public InetSocketAddress udpAddress() throws IOException {
    return udp.localAddress();
  }

  /**
   * A plain-text status snapshot, as {@code wg show} would print it, plus every drop counter:
   * one {@code key value} per line so scripts and tests can read it. Contains no secrets.
   */
  public String status() {
    StatusText t = new StatusText();
    report(t);
    return t.toString();
  }

  /** Every module's status, as {@link #status()} prints it and {@code /metrics} exports it. */
  public void report(StatusSink t) {
    t.text("interface", cfg.interfaceName());
    t.section("reload").counter("count", reloads.get());
    t.section("reload").counter("failures", reloadFailures.get());
    t.section("reload").text("last", lastReload);
    t.text("public-key", cfg.publicKey().toString());
    try {
      t.text("listen", hostPort(udp.localAddress()));
    } catch (IOException e) {
      t.text("listen", "closed");
    }
    t.counter("udp-send-errors", udp.sendErrors());
    t.counter("udp-send-queue-drops", udp.queueDrops());
    io.dctun.core.transport.Transports ts = transports;
    if (ts != null) {
      for (io.dctun.core.transport.Transport tr : ts.list()) {
        if (tr != udp) {
          t.section("transport").section(tr.kind()).counter("send-errors", tr.sendErrors());
          t.section("transport").section(tr.kind()).counter("send-queue-drops", tr.queueDrops());
          io.dctun.core.transport.StreamCounters sc = tr instanceof io.dctun.core.transport.NioTcpTransport n ? n.counters()
              : tr instanceof io.dctun.tun.NettyTlsTransport l ? l.counters() : null;
          if (sc != null) {
            t.section("transport").section(tr.kind()).counter("connections-opened", sc.connectionsOpened());
            t.section("transport").section(tr.kind()).counter("connections-refused", sc.connectionsRefused());
            t.section("transport").section(tr.kind()).counter("connections-timed-out", sc.connectionsTimedOut());
            t.section("transport").section(tr.kind()).counter("framing-errors", sc.framingErrors());
          }
        }
      }
      t.counter("unroutable-sends", ts.unroutable());
    }
    t.counter("device-write-errors", writeErrors.get());
    privileges.ifPresent(p -> {
      t.section("process").text("uid", Integer.toString(p.uid()));
      t.section("process").text("capabilities", Privileges.names(p.effective()));
    });
    Engine e = engine;
    if (e != null) {
      e.report(t);
    }
    device.report(t);
    for (Peer p : device.peers()) {
      // what wg set / syncconf changed shows here at once, as the device routes it
      List<Prefix> ips = p.config().allowedIps();
      t.scope("peer", p.name()).text("allowed-ips", ips.isEmpty() ? "(none)" : ips.stream().map(Prefix::toString)
          .collect(java.util.stream.Collectors.joining(",")));
    }
    HostLocations m = mesh;
    if (m != null) {
      m.report(t.section("mesh"));
    }
    // Learned routes (mesh, static) and where they came from: route.198.18.70.5/32 gw1 learned from mesh
    for (Route<Peer> r : device.routes()) {
      if (r.origin().isLearned()) {
        t.text("route." + r.prefix(), r.value().name() + " " + r.origin() + (r.shadowed() ? " (shadowed)" : ""));
      }
    }
    GatewayFirewall fw = firewall;
    if (fw != null) {
      fw.report(t);
    }
    UapiServer u = uapi;
    if (u != null) {
      u.report(t.section("uapi"));
    } else {
      t.text("uapi", "off (" + uapiError + ")");
    }
    HaController h = ha;
    if (h != null) {
      h.report(t);
    }
  }

  /** 198.18.0.2:51820, [fd00::2]:51820, *:51820 for the wildcard address. */
  static String hostPort(InetSocketAddress a) {
    InetAddress ip = a.getAddress();
    String h = ip == null || ip.isAnyLocalAddress() ? "*" : ip.getHostAddress();
    return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
  }

  /**
   * Writes {@link #status()} to {@code file} atomically, without following a symlink (see {@link
   * StatusFile}).
   */
  public void writeStatus(java.nio.file.Path file) throws IOException {
    StatusFile.write(file, status());
  }

  /**
   * Why this gateway can no longer do its job, or null: the engine failed (it stopped moving
   * packets) or the VRRP thread of an HA pair died (this box no longer takes part in the pair).
   */
  @Override
  public String fatalFailure() {
    Engine e = engine;
    String f = e != null ? e.failure() : null;
    if (f != null) {
      return f;
    }
    HaController h = ha;
    return h != null ? h.failure() : null;
  }

  /** Stops traffic and removes the interface (and with it every address and route we added). Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (uapi != null) {
      uapi.close(); // first: no wg set while the rest goes down; removes the socket file
      uapi = null;
    }
    if (metrics != null) {
      metrics.close();
      metrics = null;
    }
    // A gateway that stops withdraws its hosts at once (mesh: withdrawals while the transports
    // still send; etcd: the lease is revoked on close), so the others route them elsewhere now,
    // not when the lease lapses. Not in an HA pair: there the twin takes over this box's key
    // and its claims, and a withdrawal would make the others drop routes the twin still serves.
    HostLocations m = mesh;
    mesh = null;
    if (m != null) {
      try {
        if (ha == null) {
          m.leave();
        }
        m.close();
      } catch (Exception e) {
        LOG.warn("closing route sharing: {}", e.toString());
      }
    }
    if (firewall != null) {
      firewall.close(); // stops the flow-expiry timer and SIGHUP reloads
    }
    if (ha != null) {
      ha.close(); // priority-0 advert first: the backup takes over while this box shuts down
      ha = null;
    }
    if (engine != null) {
      engine.close(); // closes udp and tun too
      engine = null;
      LOG.info("{} down; drops: {}", cfg.interfaceName(), device.drops().snapshot());
      return;
    }
    try {
      if (transports != null) {
        for (io.dctun.core.transport.Transport tr : transports.list()) {
          tr.close();
        }
      } else if (udp != null) {
        udp.close();
      }
    } catch (IOException e) {
      LOG.warn("closing UDP: {}", e.getMessage());
    }
    if (tun != null) {
      tun.close();
    }
  }

  /**
   * Runs a gateway until SIGINT/SIGTERM, then shuts it down cleanly; see {@link GatewayProcess}.
   * If {@code statusFile} is not null, the status snapshot is rewritten there every second (and
   * removed at the end).
   *
   * @throws GatewayProcess.GatewayFailedException when the gateway failed while running (it is
   *     down and cleaned up by then): {@code dctun up} exits 3
   */
  public static void runUntilStopped(GatewayConfig cfg, java.nio.file.Path statusFile) throws Exception {
    runUntilStopped(cfg, statusFile, null);
  }

  /** As above, for {@code cfg} read from {@code configFile}: SIGHUP applies that file again ({@link #reload}). */
  public static void runUntilStopped(GatewayConfig cfg, java.nio.file.Path statusFile, java.nio.file.Path configFile)
      throws Exception {
    GatewayProcess p = new GatewayProcess(cfg.interfaceName(), statusFile);
    // Before the first resource exists: a SIGTERM during start still cleans up.
    Runtime.getRuntime().addShutdownHook(new Thread(p::stopFromSignal, "dctun-shutdown"));
    p.run(onFailure -> start(cfg, onFailure, configFile));
  }

  /** The runner behind {@code dctun up}. */
  public static final GatewayRunner RUNNER = cfg -> runUntilStopped(cfg, null);
}
