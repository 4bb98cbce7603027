package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.*;

import io.dctun.core.Clock;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.route.Route;
import io.dctun.core.route.RouteConflictException;
import io.dctun.core.route.RouteResult;
import io.dctun.core.route.RouteTable;
import io.dctun.core.route.Prefix;
import io.dctun.crypto.Aead;
import io.dctun.crypto.CookieChecker;
import io.dctun.crypto.Handshake;
import io.dctun.crypto.LocalIdentity;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.core.transport.Endpoint;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One WireGuard interface as a sans-I/O state machine: a static identity, its peers, the
 * cryptokey routing table, and the receiver-index table. Feed it inner packets from the packet
 * device ({@link #outbound}), datagrams from the network ({@link #inbound}) and the passage of
 * time ({@link #tick}); it answers through {@link Output}.
 *
 * <pre>
 *   outbound: inner packet -> filter -> allowed IPs (destination) -> peer -> keypair -> seal in place -> Output.sendToNetwork
 *   inbound:  datagram -> type/length -> handshake (mac1; under load: cookie, per-source rate) | transport: index -> keypair
 *             -> replay window -> open in place -> allowed IPs (source) must name the sender -> filter -> Output.deliverToDevice
 * </pre>
 *
 * Thread-safety: all public methods may be called from any thread; several threads may run
 * {@link #outbound} and {@link #inbound} at once. Configuration changes are copy-on-write.
 *
 * <p>No peer can stop the others: {@link #outbound}, {@link #inbound} and {@link #tick} never
 * throw because of one peer. Whatever one peer's work throws is counted ({@link
 * DropReason#PEER_FAILED}), logged at a bounded rate, and costs only that packet or that peer's
 * timer step; the rest of the caller's batch, and every other peer, go on. The packet filter is
 * the device's, not a peer's: what it throws reaches the caller unchanged, so the engine counts it
 * and, when every packet fails, ends the gateway (a broken firewall must fail over, not quietly
 * drop everything on a gateway that still looks healthy).
 */
public final class Device implements StatusSource {
  private final LocalIdentity identity;
  private final CookieChecker cookieChecker;
  private final Output output;
  private final Clock clock;
  private final int mtu;
  private final Aead.Impl aeadImpl;
  private final IndexTable index = new IndexTable();
  private final DropCounters drops;
  private final Map<PublicKey, Peer> peers = new ConcurrentHashMap<>();
  private final RouteTable<Peer> routes = new RouteTable<>();
  private volatile PacketFilter filter = PacketFilter.ACCEPT_ALL;
  private final SplittableRandom random = new SplittableRandom();
  private final ControlChannel control = new ControlChannel(this);
  private final AtomicLong forwarded = new AtomicLong();
  private final List<InitiationListener> initiationListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Handshake messages seen in the current one-second bucket, for the under-load decision. */
  private final AtomicLong handshakeBucketStart = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong handshakesInBucket = new AtomicLong();
  private volatile int underLoadThreshold = 1000;
  /** Nanoseconds of handshake processing in the current second, and how many make "under load". */
  private final AtomicLong handshakeWorkInBucket = new AtomicLong();
  private volatile long handshakeWorkBudgetNanos = 100_000_000L;
  /** A cold JVM's first handshake alone can take longer than the budget: that is no flood. */
  private static final int MIN_HANDSHAKES_FOR_WORK_LOAD = 32;
  /** Once the threshold is passed, the device stays under load until this time (a second after). */
  private final AtomicLong underLoadUntil = new AtomicLong(Long.MIN_VALUE);
  private static final long UNDER_LOAD_HOLD_NANOS = 1_000_000_000L;
  private volatile boolean forceUnderLoad;
  /** Under load, after a valid mac2: at most 20 handshake messages/s per source address. */
  private final HandshakeRateLimiter rateLimiter = new HandshakeRateLimiter();
  /** When a peer's failure was last logged with its stack trace (at most once a minute). */
  /** A peer's failures log with their stack trace, so once a minute at most. */
  private final io.dctun.core.LogLimiter failureLog = new io.dctun.core.LogLimiter(60_000_000_000L);

  public Device(PrivateKey key, int mtu, Output output, Clock clock) {
    this(key, mtu, output, clock, null);
  }

  /** @param aeadImpl the data-path AEAD, or null for the JVM's default choice */
  public Device(PrivateKey key, int mtu, Output output, Clock clock, Aead.Impl aeadImpl) {
    if (mtu < 576 || mtu > 65535 - 80) {
      throw new IllegalArgumentException("MTU must be 576..65455, got " + mtu);
    }
    this.identity = new LocalIdentity(key);
    this.cookieChecker = new CookieChecker(identity);
    this.output = output;
    this.clock = clock;
    this.mtu = mtu;
    this.aeadImpl = aeadImpl;
    this.drops = new DropCounters("device " + key.publicKey().toBase64().substring(0, 8));
  }

  public PublicKey publicKey() {
    return identity.publicKey();
  }

  public int mtu() {
    return mtu;
  }

  /**
   * The largest message a device of MTU {@code mtu} sends or accepts: a transport message holding
   * a full-size inner packet. Padding never goes past the MTU (whitepaper 5.4.6), so it is
   *
   * <pre>
   *   16 (type, receiver, counter) + mtu (inner packet, padded) + 16 (Poly1305 tag)
   * </pre>
   *
   * larger than any handshake message. Every carrier's receive slot must hold this much.
   */
  public static int maxMessageLength(int mtu) {
    return TRANSPORT_HEADER_LENGTH + mtu + 16;
  }

  /** {@link #maxMessageLength(int)} of this device's MTU. */
  public int maxMessageLength() {
    return maxMessageLength(mtu);
  }

  public DropCounters drops() {
    return drops;
  }

  /**
   * {@code Device[KEY, mtu 1420, 2 peers, 5 forwarded, 3 dropped]}: the public key only; per-reason
   * drops are in {@link #drops()}, everything in {@link #report}.
   */
  @Override
  public String toString() {
    return "Device[" + identity.publicKey() + ", mtu " + mtu + ", " + peers.size() + (peers.size() == 1 ? " peer, " : " peers, ")
        + forwarded.get() + " forwarded, " + drops.total() + " dropped]";
  }

  /**
   * Each peer ({@code peer NAME KEY}, then its endpoint, last handshake and byte counts under
   * {@code peer.NAME.}), the control channel's counts and every drop counter.
   */
  @Override
  public void report(StatusSink s) {
    for (Peer p : peers()) {
      s.text("peer", p.name() + " " + p.publicKey());
      StatusSink ps = s.scope("peer", p.name());
      Endpoint ep = p.endpoint();
      ps.text("endpoint", ep == null ? "none" : ep.toString());
      ps.gauge("latest-handshake-unix", p.lastHandshakeWallNanos() / 1_000_000_000L);
      ps.counter("rx-bytes", p.rxBytes());
      ps.counter("tx-bytes", p.txBytes());
      EndpointSet paths = p.paths();
      if (paths != null) {
        paths.report(ps);
        ps.counter("foreign-sources", p.foreignSources());
      }
      if (p.config().dctun()) {
        ps.counter("probes-answered", p.probesAnswered());
      }
    }
    s.counter("forwarded", forwarded.get());
    StatusSink c = s.section("control");
    c.counter("sent", control.sent());
    c.counter("received", control.received());
    StatusSink h = s.section("handshake");
    long now = clock.nanoTime();
    h.gauge("under-load", isUnderLoad(now) ? 1 : 0);
    h.gauge("limiter-sources", rateLimiter.live(now));
    h.counter("limiter-evictions", rateLimiter.evictions());
    h.counter("limiter-penalties", rateLimiter.penalties());
    drops.report(s.section("drop"));
  }

  /** Told when a peer proves it is there now; see {@link #onInitiation}. */
  @FunctionalInterface
  public interface InitiationListener {
    /**
     * {@code peer} sent an initiation that authenticated and was answered. {@code timestampNanos}
     * is the peer's own TAI64N timestamp (epoch nanoseconds on the peer's clock), which WireGuard
     * requires to grow with every initiation: it orders the peer's connections to different
     * gateways without any clock shared between them.
     */
    void initiationAnswered(Peer peer, long timestampNanos, long now);
  }

  /** Registers a listener for answered initiations (the route-sharing driver uses it). */
  public void onInitiation(InitiationListener l) {
    initiationListeners.add(l);
  }

  void initiationAnswered(Peer p, byte[] tai64n, long now) {
    if (initiationListeners.isEmpty()) {
      return;
    }
    long ts = io.dctun.crypto.Tai64n.toEpochNanos(tai64n);
    for (InitiationListener l : initiationListeners) {
      try {
        l.initiationAnswered(p, ts, now);
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(Device.class).error("bug in an initiation listener", e);
      }
    }
  }

  /** The dctun-only control channel to peers configured as dctun. */
  public ControlChannel control() {
    return control;
  }

  LocalIdentity identity() {
    return identity;
  }

  Output output() {
    return output;
  }

  public Clock clock() {
    return clock;
  }

  IndexTable index() {
    return index;
  }

  /** The data-path AEAD this device uses. */
  public Aead.Impl aeadImpl() {
    return aeadImpl;
  }

  synchronized long jitter() {
    return random.nextLong(Timers.REKEY_TIMEOUT_JITTER_MAX);
  }

  /** Installs the packet filter both directions pass through (default: accept all). */
  public void setFilter(PacketFilter f) {
    this.filter = f == null ? PacketFilter.ACCEPT_ALL : f;
  }

  /** Handshake messages per second above which a valid cookie (mac2) is demanded. */
  public void setUnderLoadThreshold(int perSecond) {
    this.underLoadThreshold = perSecond;
  }

  /**
   * Time per second spent processing handshake messages without cookies above which the device
   * is under load (default 100 ms: a tenth of a core), for CPUs too slow or busy to ever see
   * {@link #setUnderLoadThreshold the threshold} of messages.
   */
  public void setHandshakeWorkBudget(java.time.Duration perSecond) {
    this.handshakeWorkBudgetNanos = perSecond.toNanos();
  }

  /** Forces the under-load behaviour (for tests and for operators under attack). */
  public void setForceUnderLoad(boolean on) {
    this.forceUnderLoad = on;
  }

  // ------------------------------------------------------------------ configuration

  /**
   * Adds a peer, or updates it if its key is known. Overlapping prefixes follow the longest
   * match; the same prefix configured for two peers is refused with a {@link
   * RouteConflictException} naming both, and then nothing of this call is applied. Our own key is
   * refused too.
   */
  public synchronized Peer addPeer(PeerConfig c) {
    if (c.publicKey().equals(identity.publicKey())) {
      throw new IllegalArgumentException("peer " + c.name() + " has this device's own public key");
    }
    if (c.publicKey().isLowOrder()) {
      throw new IllegalArgumentException("peer " + c.name() + ": its public key (fingerprint " + c.publicKey().fingerprint()
          + ") is a low-order point of Curve25519, with which X25519 gives no shared secret; no handshake could"
          + " ever complete (refused)");
    }
    Peer existing = peers.get(c.publicKey());
    Peer p = existing != null ? existing : new Peer(this, c);
    List<Prefix> before = existing != null && !existing.config().roaming() ? existing.config().allowedIps() : List.of();
    List<Prefix> wanted = c.roaming() ? List.of() : c.allowedIps(); // a roaming host is routed by the mesh
    List<Prefix> added = new ArrayList<>();
    try {
      for (Prefix pre : wanted) {
        if (!before.contains(pre) && routes.putConfigured(pre, p) == RouteResult.ADDED) {
          added.add(pre);
        }
      }
    } catch (RouteConflictException e) {
      for (Prefix pre : added) {
        routes.removeConfigured(pre, p);
      }
      throw e;
    }
    for (Prefix pre : before) {
      if (!wanted.contains(pre)) {
        routes.removeConfigured(pre, p);
      }
    }
    if (existing == null) {
      peers.put(c.publicKey(), p);
    } else {
      p.reconfigure(c);
    }
    return p;
  }

  /**
   * Sends to the peer {@code key} at {@code ep} from now on (until it roams), whatever its
   * configuration says: what a UAPI {@code endpoint=} line does in wireguard-go.
   *
   * @return false if no peer has the key
   */
  public boolean setPeerEndpoint(PublicKey key, Endpoint ep) {
    Peer p = peers.get(key);
    if (p == null) {
      return false;
    }
    p.setEndpoint(ep);
    return true;
  }

  public synchronized void removePeer(PublicKey key) {
    Peer p = peers.remove(key);
    if (p != null) {
      p.close();
      routes.removeAll(p);
    }
  }

  /**
   * Routes {@code prefix} to the peer {@code via} as taught at run time by {@code source} (a
   * gateway announcing a host), at {@code version}, until {@code expiresAtNanos} on this device's
   * clock ({@link Long#MAX_VALUE}: until withdrawn). A configured route of the same prefix wins.
   *
   * @return what the table did, or null if no peer has the key {@code via}
   */
  public RouteResult learnRoute(Prefix prefix, PublicKey via, Object source, long version, long expiresAtNanos) {
    Peer p = peers.get(via);
    if (p == null) {
      return null;
    }
    return routes.putLearned(prefix, p, source, version, expiresAtNanos);
  }

  /** Withdraws the learned route of {@code prefix} if {@code source} taught it. */
  public boolean forgetRoute(Prefix prefix, Object source) {
    return routes.removeLearned(prefix, source);
  }

  /** Every route, configured and learned, for status. */
  public List<Route<Peer>> routes() {
    return routes.entries();
  }

  public Peer peer(PublicKey key) {
    return peers.get(key);
  }

  public Collection<Peer> peers() {
    return List.copyOf(peers.values());
  }

  /** The peer whose allowed IPs hold the packet's source address (inbound) — used to check senders. */
  Peer routeFor(byte[] buf, int off, int len) {
    int at = IpPacket.sourceOffset(buf, off, len);
    return at < 0 ? null : routes.lookup(buf, at, IpPacket.addressLength(buf, off, len));
  }

  /** The peer an outbound packet's destination routes to, or null. */
  public Peer route(byte[] buf, int off, int len) {
    int at = IpPacket.destinationOffset(buf, off, len);
    return at < 0 ? null : routes.lookup(buf, at, IpPacket.addressLength(buf, off, len));
  }

  // ------------------------------------------------------------------ outbound

  /**
   * An inner packet from the packet device at {@code buf[off..off+len)}; the buffer must have 16
   * bytes of headroom before {@code off} and 32 after the packet (padding and tag).
   */
  public void outbound(byte[] buf, int off, int len, long now) {
    if (len > mtu) {
      drops.drop(DropReason.TOO_BIG, now, len);
      return;
    }
    if (!IpPacket.isValid(buf, off, len)) {
      drops.drop(DropReason.INVALID_INNER_PACKET, now, "outbound");
      return;
    }
    Peer p = route(buf, off, len);
    if (p == null) {
      drops.drop(DropReason.NO_ROUTE, now, "outbound");
      return;
    }
    try {
      int verdict = filterOutbound(p, buf, off, len, now);
      if (verdict != PacketFilter.ACCEPT) {
        drops.drop(DropReason.FILTERED, now, "outbound");
        if (verdict > 0) {
          output.deliverToDevice(buf, off, verdict); // reject reply written in place
        }
        return;
      }
      p.send(buf, off, len, now);
    } catch (FilterFailure e) {
      throw e.bug;
    } catch (RuntimeException e) {
      peerFailed(p, "outbound", e, now);
    }
  }

  /** What the packet filter threw, carried past the per-peer catch blocks to the caller. */
  private static final class FilterFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final RuntimeException bug;

    FilterFailure(RuntimeException bug) {
      super(null, null, false, false);
      this.bug = bug;
    }
  }

  private int filterOutbound(Peer p, byte[] buf, int off, int len, long now) {
    try {
      return filter.filterOutbound(p.publicKey(), buf, off, len, now);
    } catch (RuntimeException e) {
      throw new FilterFailure(e);
    }
  }

  private int filterInbound(Peer p, byte[] buf, int off, int len, long now) {
    try {
      return filter.filterInbound(p.publicKey(), buf, off, len, now);
    } catch (RuntimeException e) {
      throw new FilterFailure(e);
    }
  }

  /**
   * Counts what one peer's work threw and logs it (its stack trace at most once a minute, the
   * drop counter's line at most once every ten seconds); the caller then carries on with the next
   * packet or peer. A message of ours never holds a secret, so the exception's may be logged.
   */
  void peerFailed(Peer p, String where, RuntimeException e, long now) {
    drops.drop(DropReason.PEER_FAILED, now, p.name() + " " + where + ": " + e);
    if (failureLog.allow(now)) {
      org.slf4j.LoggerFactory.getLogger(Device.class).error(
          "peer {}: {} threw; that packet is dropped and other peers go on ({} such failures in all)",
          p.name(), where, drops.count(DropReason.PEER_FAILED), e);
    }
  }

  /**
   * Delivers a decrypted, source-checked packet through the filter to the device, or, when its
   * destination belongs to another peer, forwards it there (a hub between spokes, a gateway
   * passing traffic to the gateway a host is connected to).
   */
  void deliverInbound(Peer p, byte[] buf, int off, int len, long now) {
    int verdict = filterInbound(p, buf, off, len, now);
    if (verdict != PacketFilter.ACCEPT) {
      drops.drop(DropReason.FILTERED, now, "inbound");
      if (verdict > 0) {
        p.send(buf, off, verdict, now); // reject reply written in place, back to the peer
      }
      return;
    }
    Peer to = route(buf, off, len);
    if (to != null && to != p) {
      forward(p, to, buf, off, len, now);
      return;
    }
    output.deliverToDevice(buf, off, len);
  }

  /**
   * Peer to peer without the kernel, in place: the packet has passed {@code from}'s inbound rules
   * and now passes {@code to}'s outbound rules, as it would through the TUN and the kernel's
   * forwarding; the TTL goes down by one as a router's does. A packet from one dctun gateway to
   * another is never forwarded: between gateways a packet travels at most once, so a moment of
   * disagreement about where a host is cannot become a loop.
   */
  private void forward(Peer from, Peer to, byte[] buf, int off, int len, long now) {
    if (from.config().dctun() && to.config().dctun()) {
      drops.drop(DropReason.FORWARD_LOOP, now, from.name() + " -> " + to.name());
      return;
    }
    if (off + paddedRoom(len) > buf.length) {
      drops.drop(DropReason.TOO_BIG, now, "forward: no room to seal in place");
      return;
    }
    if (!IpPacket.decrementTtl(buf, off)) {
      drops.drop(DropReason.TTL_EXCEEDED, now, from.name() + " -> " + to.name());
      return;
    }
    int verdict = filterOutbound(to, buf, off, len, now);
    if (verdict != PacketFilter.ACCEPT) {
      drops.drop(DropReason.FILTERED, now, "forward");
      return;
    }
    forwarded.incrementAndGet();
    to.send(buf, off, len, now);
  }

  /** Bytes an inner packet of {@code len} needs after its start to be sealed in place: padding and tag. */
  private int paddedRoom(int len) {
    return Peer.paddedLength(len, mtu) + 16;
  }

  /** Packets forwarded from one peer to another. */
  public long forwarded() {
    return forwarded.get();
  }

  // ------------------------------------------------------------------ inbound

  /** One message from {@code from} (a UDP datagram, or a framed message of another carrier), at {@code buf[off..off+len)}; opened in place. */
  public void inbound(byte[] buf, int off, int len, Endpoint from, long now) {
    if (len < 4) {
      drops.drop(DropReason.UNKNOWN_MESSAGE_TYPE, now, from);
      return;
    }
    int type = getIntLE(buf, off);
    switch (type) {
      case TYPE_TRANSPORT:
        if (len < TRANSPORT_MIN_LENGTH) {
          drops.drop(DropReason.BAD_MESSAGE_LENGTH, now, from);
          return;
        }
        Keypair kp = index.keypair(getIntLE(buf, off + TRANSPORT_RECEIVER));
        if (kp == null) {
          drops.drop(DropReason.UNKNOWN_RECEIVER_INDEX, now, from);
          return;
        }
        try {
          kp.peer.receiveTransport(kp, buf, off, len, from, now);
        } catch (FilterFailure e) {
          throw e.bug;
        } catch (RuntimeException e) {
          peerFailed(kp.peer, "inbound", e, now);
        }
        return;
      case TYPE_INITIATION:
      case TYPE_RESPONSE:
      case TYPE_COOKIE_REPLY:
        handshakeMessage(type, buf, off, len, from, now);
        return;
      default:
        drops.drop(DropReason.UNKNOWN_MESSAGE_TYPE, now, from);
    }
  }

  private void handshakeMessage(int type, byte[] buf, int off, int len, Endpoint from, long now) {
    int expected = type == TYPE_INITIATION ? INITIATION_LENGTH : type == TYPE_RESPONSE ? RESPONSE_LENGTH : COOKIE_REPLY_LENGTH;
    if (len != expected) {
      drops.drop(DropReason.BAD_MESSAGE_LENGTH, now, from);
      return;
    }
    byte[] msg = java.util.Arrays.copyOfRange(buf, off, off + len);
    if (type == TYPE_COOKIE_REPLY) {
      int receiver = getIntLE(msg, COOKIE_RECEIVER);
      Peer p = index.pendingPeer(receiver);
      if (p == null) {
        Keypair k = index.keypair(receiver);
        p = k == null ? null : k.peer;
      }
      if (p == null) {
        drops.drop(DropReason.UNEXPECTED_HANDSHAKE, now, from);
        return;
      }
      try {
        p.consumeCookieReply(msg, now);
      } catch (RuntimeException e) {
        peerFailed(p, "cookie reply", e, now);
      }
      return;
    }
    if (!cookieChecker.checkMac1(msg, 0, len)) {
      drops.drop(DropReason.BAD_MAC1, now, from);
      return;
    }
    boolean loaded = underLoad(now);
    byte[] source = null;
    if (loaded) {
      source = from.cookieSource();
      if (!cookieChecker.checkMac2(msg, 0, len, source, now)) {
        // One reply per message, as WireGuard: 64 bytes for at least 92 received, so a spoofed
        // source gains no amplification, and only a sender that knows our public key (mac1) gets one.
        byte[] reply = cookieChecker.createReply(msg, 0, len, source, now);
        drops.drop(DropReason.COOKIE_REQUIRED, now, from);
        output.sendToNetwork(from, reply, 0, reply.length);
        return;
      }
      // The cookie proves the sender receives at this address: now it is worth a bucket.
      if (!rateLimiter.allow(source, 0, source.length, now)) {
        drops.drop(DropReason.HANDSHAKE_RATE_LIMITED, now, from);
        return;
      }
    }
    // What this costs counts towards load, also under load: while rate-limited senders still
    // take more than the budget, the load goes on.
    long t0 = clock.nanoTime();
    try {
      consumeHandshake(type, msg, from, now, source);
    } finally {
      chargeHandshakeWork(clock.nanoTime() - t0, now);
    }
  }

  /**
   * An initiation or response that passed mac1 (and, under load, mac2 and the rate limit; then
   * {@code loadedSource} is its cookie source, else null).
   */
  private void consumeHandshake(int type, byte[] msg, Endpoint from, long now, byte[] loadedSource) {
    if (type == TYPE_INITIATION) {
      Handshake.Initiation init = Handshake.parseInitiation(identity, msg);
      Peer p = init == null ? null : peers.get(init.initiatorKey());
      if (p == null) {
        drops.drop(DropReason.UNKNOWN_PEER, now, from);
        if (loadedSource != null) {
          // A cookie and its share of the rate, and still no peer of ours: next try in ~5 s.
          rateLimiter.penalize(loadedSource, 0, loadedSource.length, now);
        }
        return;
      }
      try {
        p.consumeInitiation(init, from, now);
      } catch (RuntimeException e) {
        peerFailed(p, "initiation", e, now);
      }
    } else {
      Peer p = index.pendingPeer(getIntLE(msg, RESP_RECEIVER));
      if (p == null) {
        drops.drop(DropReason.UNEXPECTED_HANDSHAKE, now, from);
        return;
      }
      try {
        p.consumeResponse(msg, from, now);
      } catch (RuntimeException e) {
        peerFailed(p, "response", e, now);
      }
    }
  }

  private boolean underLoad(long now) {
    if (forceUnderLoad) {
      return true;
    }
    long start = handshakeBucketStart.get();
    long count;
    if (start == Long.MIN_VALUE || now - start >= 1_000_000_000L) {
      handshakeBucketStart.set(now);
      handshakesInBucket.set(1);
      handshakeWorkInBucket.set(0);
      count = 1;
    } else {
      count = handshakesInBucket.incrementAndGet();
    }
    if (count > underLoadThreshold) {
      // As wireguard-go, load outlasts the busy second by one more: a steady flood does not get
      // the first underLoadThreshold messages of every second processed without a cookie.
      underLoadUntil.set(now + UNDER_LOAD_HOLD_NANOS);
      return true;
    }
    long until = underLoadUntil.get();
    return until != Long.MIN_VALUE && now - until < 0;
  }

  /**
   * Counts what processing one handshake message took (measured on the device's clock) into the
   * current second; past the budget the device is under load, whatever the count. A message
   * count alone misses the flood a slow or busy CPU cannot keep up with: the socket drops what
   * we never see, so the count stays low while the Diffie-Hellman work takes the whole core.
   */
  private void chargeHandshakeWork(long nanos, long now) {
    if (nanos > 0 && handshakeWorkInBucket.addAndGet(nanos) > handshakeWorkBudgetNanos
        && handshakesInBucket.get() >= MIN_HANDSHAKES_FOR_WORK_LOAD) {
      underLoadUntil.set(now + UNDER_LOAD_HOLD_NANOS);
    }
  }

  /** True if the device is under load at {@code now} (counts nothing). */
  public boolean isUnderLoad(long now) {
    long until = underLoadUntil.get();
    return forceUnderLoad || (until != Long.MIN_VALUE && now - until < 0);
  }

  /** The per-source limiter consulted under load after a valid cookie. */
  HandshakeRateLimiter rateLimiter() {
    return rateLimiter;
  }

  // ------------------------------------------------------------------ time

  /** Fires due timers of every peer. Call it every 100 ms or so. */
  public void tick(long now) {
    for (Peer p : peers.values()) {
      try {
        p.tick(now);
      } catch (RuntimeException e) {
        peerFailed(p, "timers", e, now); // the next peer's timers, and this one's next tick, still run
      }
    }
    routes.expire(now); // learned routes whose lease ran out
  }

  /** Starts a handshake with every peer at once (for example after an HA takeover). */
  public void initiateAll(long now) {
    for (Peer p : peers.values()) {
      initiateSafely(p, now, true);
    }
  }

  private void initiateSafely(Peer p, long now, boolean force) {
    try {
      p.initiate(now, force);
    } catch (RuntimeException e) {
      peerFailed(p, "initiation", e, now);
    }
  }

  /**
   * Starts a handshake with one peer now even if one was sent less than REKEY_TIMEOUT ago (an HA
   * takeover whose first initiation may have been answered to the old master).
   */
  public void initiateNow(PublicKey key, long now) {
    Peer p = peers.get(key);
    if (p != null) {
      initiateSafely(p, now, true);
    }
  }

  /** Starts a handshake with one peer now. */
  public void initiate(PublicKey key, long now) {
    Peer p = peers.get(key);
    if (p != null) {
      initiateSafely(p, now, false);
    }
  }

  /** Ends every session and forgets every key. */
  public synchronized void close() {
    for (Peer p : peers.values()) {
      p.close();
    }
  }

  /** Summary lines for status output; contains no secrets. */
  public List<String> describe() {
    List<String> out = new ArrayList<>();
    for (Peer p : peers.values()) {
      EndpointSet paths = p.paths();
      out.add(p.name() + " " + p.publicKey() + " endpoint=" + p.endpoint() + " rx=" + p.rxBytes() + " tx=" + p.txBytes()
          + (paths == null ? "" : " paths=[" + paths.summary() + "]"));
    }
    return out;
  }
}
