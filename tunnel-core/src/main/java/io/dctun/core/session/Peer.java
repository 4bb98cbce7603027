package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.*;

import io.dctun.core.control.ControlFrame;
import io.dctun.core.control.ControlSend;
import io.dctun.core.packet.IpPacket;
import io.dctun.crypto.CookieGenerator;
import io.dctun.crypto.Handshake;
import io.dctun.crypto.PublicKey;
import io.dctun.crypto.SessionKeys;
import io.dctun.core.transport.Endpoint;

/**
 * One remote peer's session: its handshake, its keypairs (current, previous, next) and its
 * timers, as a sans-I/O state machine driven by {@link Device}. Every method takes the current
 * monotonic time; nothing here reads a clock or touches a socket.
 *
 * <p>Key rotation, as in the whitepaper (section 5.4.6) and wireguard-go:
 *
 * <pre>
 *   initiator: response consumed          -> previous = current, current = new  (send at once)
 *   responder: initiation answered        -> next = new                          (may not send yet)
 *              first data under next      -> previous = current, current = next
 * </pre>
 *
 * Timers are deadlines checked by {@link #tick}: handshake retransmission (REKEY_TIMEOUT plus
 * jitter, giving up after REKEY_ATTEMPT_TIME), keepalive after receiving data we did not answer
 * (KEEPALIVE_TIMEOUT), a new handshake when data we sent got no answer (KEEPALIVE_TIMEOUT +
 * REKEY_TIMEOUT), persistent keepalive, and wiping keys after 3 * REJECT_AFTER_TIME of silence.
 *
 * <p>Thread-safety: data paths ({@link #send}, transport receive) run concurrently and lock only
 * the keypair's cipher; state transitions synchronise on this peer.
 */
public final class Peer {
  static final long NEVER = Long.MIN_VALUE;
  /** Packets held while a handshake is in flight (wireguard-go holds 1024 per peer). */
  public static final int MAX_QUEUED = 1024;

  private final Device device;
  private final Handshake handshake;
  final CookieGenerator cookies;
  private volatile PeerConfig config;
  private volatile Endpoint endpoint;
  /** Two or more configured endpoints: which one is current is this set's decision, not roaming's. */
  private volatile EndpointSet paths;
  /** The endpoint index a probing initiation (to a stock peer's standby endpoint) went to, or -1; guarded by this. */
  private int probeInitiationTo = -1;
  private final java.util.concurrent.atomic.AtomicLong foreignSources = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong probesAnswered = new java.util.concurrent.atomic.AtomicLong();

  private final Keypairs keypairs;
  private final StagedQueue staged = new StagedQueue(MAX_QUEUED);
  private final PeerTimers timers = new PeerTimers();

  // Timer state; written by data paths without locks (volatile), read by tick.
  private volatile boolean rekeyRequestedOnReceive;

  // Handshake state; guarded by this.
  private long lastInitiationSent = NEVER;
  private long retransmitAt = NEVER;
  private int handshakeAttempts;
  private long lastInitiationConsumed = NEVER;
  private volatile long lastHandshakeCompleted = NEVER;
  private volatile long lastHandshakeWallNanos;
  private boolean keysWiped = true;

  private final java.util.concurrent.atomic.AtomicLong rxBytes = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong txBytes = new java.util.concurrent.atomic.AtomicLong();

  Peer(Device device, PeerConfig config) {
    this.device = device;
    this.config = config;
    this.paths = pathsFor(config);
    this.endpoint = paths != null ? paths.currentEndpoint() : config.endpoint();
    this.handshake = new Handshake(device.identity(), config.publicKey(), config.presharedKey());
    this.cookies = new CookieGenerator(config.publicKey());
    this.keypairs = new Keypairs(device.index());
  }

  public PublicKey publicKey() {
    return config.publicKey();
  }

  public String name() {
    return config.name();
  }

  public PeerConfig config() {
    return config;
  }

  /**
   * Takes a new configuration. The endpoint in use moves only when the configured one changed:
   * re-applying the same configuration (a UAPI {@code set} of allowed IPs, say) must not undo
   * roaming. {@link #setEndpoint} moves it unconditionally.
   */
  void reconfigure(PeerConfig c) {
    PeerConfig old = this.config;
    this.config = c;
    handshake.setPresharedKey(c.presharedKey());
    if (!c.endpoints().equals(old.endpoints()) || c.dctun() != old.dctun()) {
      this.paths = pathsFor(c);
    }
    EndpointSet ps = paths;
    if (ps != null) {
      this.endpoint = ps.currentEndpoint();
    } else if (c.endpoint() != null && !c.endpoint().equals(old.endpoint())) {
      this.endpoint = c.endpoint();
    }
  }

  /** Sends to {@code ep} from now on, until the peer roams (UAPI {@code endpoint=}, as wireguard-go). */
  void setEndpoint(Endpoint ep) {
    this.endpoint = java.util.Objects.requireNonNull(ep, "endpoint");
  }

  private static EndpointSet pathsFor(PeerConfig c) {
    return c.endpoints().size() < 2 ? null : new EndpointSet(c.endpoints(), c.dctun(), EndpointSet.DEFAULT_HOLD);
  }

  /**
   * The choice among several configured endpoints, or null for a peer with one or none (whose
   * endpoint follows the source of its authenticated packets: roaming).
   */
  public EndpointSet paths() {
    return paths;
  }

  /** Authenticated packets from an address outside this peer's endpoint list (they move nothing). */
  public long foreignSources() {
    return foreignSources.get();
  }

  /** Path probes this peer sent us that we answered. */
  public long probesAnswered() {
    return probesAnswered.get();
  }

  /** The endpoint packets go to: configured, or learned from the last authenticated packet. */
  public Endpoint endpoint() {
    return endpoint;
  }

  public Keypair currentKeypair() {
    return keypairs.current();
  }

  public Keypair previousKeypair() {
    return keypairs.previous();
  }

  public Keypair nextKeypair() {
    return keypairs.next();
  }

  /** Monotonic time of the last completed handshake, or {@link Long#MIN_VALUE}. */
  public long lastHandshakeNanos() {
    return lastHandshakeCompleted;
  }

  /** Wall-clock time of the last completed handshake (ns since epoch), 0 if none. */
  public long lastHandshakeWallNanos() {
    return lastHandshakeWallNanos;
  }

  public long rxBytes() {
    return rxBytes.get();
  }

  public long txBytes() {
    return txBytes.get();
  }

  public int queuedPackets() {
    return staged.size();
  }

  public synchronized int handshakeAttempts() {
    return handshakeAttempts;
  }

  /** The handshake's timestamp bookkeeping, for HA twins sharing one static key. */
  public Handshake handshake() {
    return handshake;
  }

  // ------------------------------------------------------------------ send path

  /**
   * Seals and sends one inner packet that sits at {@code buf[off..off+len)} with at least 16
   * bytes of headroom before it and 16 + 15 bytes of room after it. Queues it and starts a
   * handshake if there is no usable keypair.
   */
  void send(byte[] buf, int off, int len, long now) {
    Endpoint ep = endpoint;
    if (ep == null) {
      device.drops().drop(DropReason.NO_ENDPOINT, now, config.name());
      return;
    }
    Keypair kp = keypairs.current();
    long counter;
    if (kp == null || !kp.canSend(now) || (counter = kp.nextCounter()) < 0) {
      if (staged.add(buf, off, len)) {
        device.drops().drop(DropReason.QUEUE_OVERFLOW, now, config.name());
      }
      initiate(now, false);
      return;
    }
    int padded = paddedLength(len, device.mtu());
    for (int i = len; i < padded; i++) {
      buf[off + i] = 0;
    }
    transmit(kp, counter, ep, buf, off, padded, now);
    if (len > 0) {
      timers.dataSent(now);
      EndpointSet ps = paths;
      if (ps != null) {
        ps.dataSent(now);
      }
    }
    if (kp.isInitiator()
        && (now - kp.createdNanos() >= Timers.REKEY_AFTER_TIME
            || Long.compareUnsigned(counter, Timers.REKEY_AFTER_MESSAGES) >= 0)) {
      initiate(now, false);
    }
  }

  /** Sends a control frame at {@code buf[off..off+len)} (room as for {@link #send}). */
  ControlSend sendControl(byte[] buf, int off, int len, long now) {
    if (endpoint == null) {
      return ControlSend.NO_ENDPOINT;
    }
    Keypair kp = keypairs.current();
    boolean ready = kp != null && kp.canSend(now);
    send(buf, off, len, now);
    return ready ? ControlSend.SENT : ControlSend.QUEUED;
  }

  private void transmit(Keypair kp, long counter, Endpoint ep, byte[] buf, int off, int padded, long now) {
    int h = off - TRANSPORT_HEADER_LENGTH;
    buf[h] = TYPE_TRANSPORT;
    buf[h + 1] = 0;
    buf[h + 2] = 0;
    buf[h + 3] = 0;
    putIntLE(buf, h + TRANSPORT_RECEIVER, kp.remoteIndex());
    putLongLE(buf, h + TRANSPORT_COUNTER, counter);
    int sealed = kp.seal(counter, buf, off, padded);
    if (sealed < 0) {
      // the keypair rotated out (and was zeroed) between choosing it and sealing
      device.drops().drop(DropReason.KEYPAIR_EXPIRED, now, config.name());
      return;
    }
    // The send and receive paths run on different threads and both touch these fields: write
    // only on change (or once per millisecond), so the cache line is not bounced per packet.
    timers.sent(now);
    txBytes.addAndGet(TRANSPORT_HEADER_LENGTH + sealed);
    device.output().sendToNetwork(ep, buf, h, TRANSPORT_HEADER_LENGTH + sealed);
  }

  /** Inner packets are zero-padded to a multiple of 16, but never past the MTU (whitepaper 5.4.6). */
  static int paddedLength(int len, int mtu) {
    int p = (len + 15) & ~15;
    if (p > mtu) {
      p = Math.max(len, mtu);
    }
    return p;
  }

  /** Sends what was queued, or a keepalive if nothing was, once a keypair is usable. */
  private void flushQueue(long now, boolean keepaliveIfEmpty) {
    byte[][] pending = staged.drain();
    if (pending.length == 0) {
      if (keepaliveIfEmpty) {
        sendKeepalive(now);
      }
      return;
    }
    int mtu = device.mtu();
    byte[] buf = new byte[TRANSPORT_HEADER_LENGTH + mtu + 32];
    for (byte[] p : pending) {
      System.arraycopy(p, 0, buf, TRANSPORT_HEADER_LENGTH, p.length);
      send(buf, TRANSPORT_HEADER_LENGTH, p.length, now);
    }
  }

  /** Sends an empty transport message (keepalive) if a keypair is usable. */
  void sendKeepalive(long now) {
    byte[] buf = new byte[TRANSPORT_HEADER_LENGTH + 16];
    Keypair kp = keypairs.current();
    Endpoint ep = endpoint;
    long counter;
    if (kp == null || ep == null || !kp.canSend(now) || (counter = kp.nextCounter()) < 0) {
      initiate(now, false);
      return;
    }
    transmit(kp, counter, ep, buf, TRANSPORT_HEADER_LENGTH, 0, now);
  }

  // ------------------------------------------------------------------ handshake

  /**
   * Sends an initiation unless one went out less than REKEY_TIMEOUT ago (retransmission is the
   * timer's job) or we have nowhere to send it.
   */
  void initiate(long now, boolean force) {
    byte[] msg;
    Endpoint ep;
    synchronized (this) {
      ep = endpoint;
      if (ep == null) {
        return;
      }
      if (!force && lastInitiationSent != NEVER && now - lastInitiationSent < Timers.REKEY_TIMEOUT) {
        return;
      }
      if (!handshake.awaitingResponse()) {
        handshakeAttempts = 0;
      }
      msg = buildInitiation(now);
      probeInitiationTo = -1;
    }
    EndpointSet ps = paths;
    if (ps != null) {
      int i = ps.indexOf(ep);
      if (i >= 0) {
        ps.asked(i, now);
      }
    }
    device.output().sendToNetwork(ep, msg, 0, msg.length);
  }

  /**
   * An initiation to endpoint {@code i} of the list, asked for by the {@link EndpointSet}: to
   * check the current endpoint of a stock peer, to reach the new one after a move, or to try a
   * better standby one. One to a standby endpoint that goes unanswered is abandoned by {@link
   * #tick} (it must not hold up the handshakes of the current path).
   */
  private void initiateTo(EndpointSet ps, int i, long now) {
    byte[] msg;
    Endpoint ep = ps.endpoint(i);
    synchronized (this) {
      if (!handshake.awaitingResponse()) {
        handshakeAttempts = 0;
      }
      msg = buildInitiation(now);
      probeInitiationTo = i == ps.current() ? -1 : i;
    }
    ps.asked(i, now);
    device.output().sendToNetwork(ep, msg, 0, msg.length);
  }

  private byte[] buildInitiation(long now) {
    if (handshake.awaitingResponse()) {
      device.index().release(handshake.pendingLocalIndex());
    }
    int idx = device.index().reserve(this);
    byte[] msg;
    try {
      msg = handshake.createInitiation(idx, device.clock().wallClockNanos());
    } catch (RuntimeException e) {
      // Nothing may stay reserved for an initiation that was never built: the index table is
      // shared by every peer. The earlier pending index (if any) is released above, so forget it.
      device.index().release(idx);
      handshake.clearPending();
      throw e;
    }
    cookies.addMacs(msg, now);
    lastInitiationSent = now;
    retransmitAt = now + Timers.REKEY_TIMEOUT + device.jitter();
    return msg;
  }

  /** Answers a decrypted initiation (its MACs already checked by the device). */
  void consumeInitiation(Handshake.Initiation init, Endpoint from, long now) {
    byte[] msg;
    synchronized (this) {
      if (lastInitiationConsumed != NEVER && now - lastInitiationConsumed < Timers.INITIATION_MIN_SPACING) {
        device.drops().drop(DropReason.INITIATION_FLOOD, now, config.name());
        return;
      }
      int idx = device.index().reserve(this);
      Handshake.Response r = handshake.createResponse(init, idx);
      if (r == null) {
        device.index().release(idx);
        device.drops().drop(handshake.lastFailure() == Handshake.Failure.REPLAYED_TIMESTAMP
            ? DropReason.REPLAYED_TIMESTAMP : DropReason.UNEXPECTED_HANDSHAKE, now, config.name());
        return;
      }
      lastInitiationConsumed = now;
      Keypair kp = new Keypair(this, r.keys(), now, device.aeadImpl());
      device.index().bind(idx, kp);
      keypairs.installNext(kp);
      keysWiped = false;
      follow(from, now);
      msg = r.message();
      cookies.addMacs(msg, now);
    }
    timers.handshakeSeen(now, true);
    device.output().sendToNetwork(from, msg, 0, msg.length);
    device.initiationAnswered(this, init.timestamp(), now);
  }

  /** Consumes a response to our pending initiation; on success the new keypair is current. */
  void consumeResponse(byte[] msg, Endpoint from, long now) {
    synchronized (this) {
      SessionKeys keys = handshake.consumeResponse(msg);
      if (keys == null) {
        device.drops().drop(DropReason.UNEXPECTED_HANDSHAKE, now, config.name());
        return;
      }
      Keypair kp = new Keypair(this, keys, now, device.aeadImpl());
      device.index().bind(keys.localIndex(), kp);
      keypairs.installCurrent(kp);
      keysWiped = false;
      follow(from, now);
      probeInitiationTo = -1;
      handshakeAttempts = 0;
      retransmitAt = NEVER;
      rekeyRequestedOnReceive = false;
      lastHandshakeCompleted = now;
      lastHandshakeWallNanos = device.clock().wallClockNanos();
    }
    timers.handshakeSeen(now, false);
    // The responder cannot send until it hears from us under the new keys.
    flushQueue(now, true);
  }

  void consumeCookieReply(byte[] msg, long now) {
    if (!cookies.consumeCookieReply(msg, now)) {
      device.drops().drop(DropReason.UNEXPECTED_HANDSHAKE, now, config.name());
    }
  }

  // ------------------------------------------------------------------ receive path

  /** Opens a transport message in place and delivers its inner packet. */
  void receiveTransport(Keypair kp, byte[] buf, int off, int len, Endpoint from, long now) {
    if (!kp.canReceive(now)) {
      device.drops().drop(DropReason.KEYPAIR_EXPIRED, now, config.name());
      return;
    }
    long counter = getLongLE(buf, off + TRANSPORT_COUNTER);
    int dataOff = off + TRANSPORT_HEADER_LENGTH;
    int n = kp.open(counter, buf, dataOff, len - TRANSPORT_HEADER_LENGTH);
    if (n == -1) {
      device.drops().drop(DropReason.DECRYPT_FAILED, now, config.name());
      return;
    }
    if (n == -2) {
      device.drops().drop(DropReason.REPLAYED_COUNTER, now, config.name());
      return;
    }
    int probe = n > 0 ? PathProbe.kind(buf, dataOff, n) : PathProbe.NONE;
    if (probe == PathProbe.NONE) {
      follow(from, now);
    } else {
      EndpointSet ps = paths;
      if (ps != null) {
        heardFrom(ps, from, now); // a probe or its answer proves the path, and moves no one
      }
    }
    timers.received(now);
    rxBytes.addAndGet(len);
    if (kp == keypairs.next()) {
      promoteNext(kp, now);
    }
    if (n == 0) {
      return; // keepalive
    }
    if (probe != PathProbe.NONE) {
      if (!config.dctun()) {
        device.drops().drop(DropReason.CONTROL_UNEXPECTED, now, config.name());
      } else if (probe == PathProbe.PROBE) {
        probesAnswered.incrementAndGet();
        sendFrame(PathProbe.ANSWER, from, now);
      }
      return;
    }
    if (ControlFrame.isControl(buf, dataOff, n)) {
      timers.dataReceived(now); // answered by a keepalive if nothing else goes back
      device.control().receive(this, buf, dataOff, n, now);
      return;
    }
    int total = IpPacket.totalLength(buf, dataOff, n);
    if (total <= 0 || !IpPacket.isValid(buf, dataOff, total)) {
      device.drops().drop(DropReason.INVALID_INNER_PACKET, now, config.name());
      return;
    }
    if (config.roaming() ? !ownsSource(buf, dataOff, total) : device.routeFor(buf, dataOff, total) != this) {
      device.drops().drop(DropReason.SOURCE_NOT_ALLOWED, now, config.name());
      return;
    }
    timers.dataReceived(now);
    if (kp.isInitiator() && !rekeyRequestedOnReceive && now - kp.createdNanos() >= Timers.REKEY_ON_RECEIVE_AGE) {
      rekeyRequestedOnReceive = true;
      initiate(now, false);
    }
    device.deliverInbound(this, buf, dataOff, total, now);
  }

  /**
   * An authenticated packet came from {@code from}. With one or no configured endpoint the peer
   * is where it came from (roaming, as WireGuard); with a list, the list's choice stands and the
   * packet only proves that endpoint alive. Allocation-free.
   */
  private void follow(Endpoint from, long now) {
    EndpointSet ps = paths;
    if (ps != null) {
      heardFrom(ps, from, now);
      return;
    }
    Endpoint ep = endpoint;
    if (ep == null || !ep.equals(from)) {
      endpoint = from;
    }
  }

  private void heardFrom(EndpointSet ps, Endpoint from, long now) {
    int i = ps.indexOf(from);
    if (i >= 0) {
      ps.heard(i, now);
    } else {
      foreignSources.incrementAndGet();
    }
  }

  /** Seals an empty control frame of {@code type} ({@link PathProbe}) under the current keypair and sends it to {@code to}. */
  private boolean sendFrame(int type, Endpoint to, long now) {
    Keypair kp = keypairs.current();
    long counter;
    if (kp == null || !kp.canSend(now) || (counter = kp.nextCounter()) < 0) {
      return false;
    }
    byte[] buf = PathProbe.frame(type);
    int padded = paddedLength(PathProbe.FRAME_LENGTH, device.mtu());
    transmit(kp, counter, to, buf, PathProbe.FRAME_OFFSET, padded, now);
    return true;
  }

  /** A roaming host's own prefixes are checked directly: the route table may send them elsewhere. */
  private boolean ownsSource(byte[] buf, int off, int len) {
    int at = IpPacket.sourceOffset(buf, off, len);
    if (at < 0) {
      return false;
    }
    int alen = IpPacket.addressLength(buf, off, len);
    for (io.dctun.core.route.Prefix p : config.allowedIps()) {
      if (p.addressLength() == alen && p.contains(buf, at)) {
        return true;
      }
    }
    return false;
  }

  private void promoteNext(Keypair kp, long now) {
    synchronized (this) {
      if (!keypairs.promote(kp)) {
        return;
      }
      lastHandshakeCompleted = now;
      lastHandshakeWallNanos = device.clock().wallClockNanos();
    }
    flushQueue(now, false);
  }

  // ------------------------------------------------------------------ timers

  /** Fires whatever timers are due at {@code now}. */
  void tick(long now) {
    boolean retransmit = false;
    boolean giveUp = false;
    synchronized (this) {
      if (handshake.awaitingResponse() && retransmitAt != NEVER && now >= retransmitAt) {
        if (handshakeAttempts >= Timers.MAX_HANDSHAKE_ATTEMPTS) {
          giveUp = true;
        } else {
          handshakeAttempts++;
          retransmit = true;
        }
      }
    }
    if (giveUp) {
      giveUp(now);
    } else if (retransmit) {
      initiate(now, true);
    }

    // Keepalive: we received data and sent nothing back for KEEPALIVE_TIMEOUT.
    if (timers.keepaliveDue(now)) {
      sendKeepalive(now);
    }
    // New handshake: we sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
    if (timers.takeHandshakeDue(now)) {
      initiate(now, false);
    }
    // Persistent keepalive: keeps NAT and firewall state open on a path that is otherwise idle.
    if (timers.persistentKeepaliveDue(now, config.persistentKeepaliveSeconds())) {
      sendKeepalive(now);
    }
    EndpointSet ps = paths;
    if (ps != null) {
      tickPaths(ps, now);
    }
    // Expire keypairs and finally wipe everything after long silence.
    synchronized (this) {
      keypairs.expire(now);
      Keypair next = keypairs.next();
      if (!keysWiped && lastHandshakeCompleted != NEVER
          && now - lastHandshakeCompleted >= 3 * Timers.REJECT_AFTER_TIME
          && (next == null || now - next.createdNanos() >= 3 * Timers.REJECT_AFTER_TIME)) {
        wipeKeypairs();
      }
    }
  }

  /** Carries out what the endpoint set decides: a move, probes, initiations. */
  private void tickPaths(EndpointSet ps, long now) {
    boolean inFlight;
    synchronized (this) {
      if (probeInitiationTo >= 0 && handshake.awaitingResponse() && now - lastInitiationSent >= ps.downAfter()) {
        // A standby endpoint did not answer: forget that initiation, so the current path's handshakes are not held up.
        device.index().release(handshake.pendingLocalIndex());
        handshake.clearPending();
        retransmitAt = NEVER;
        handshakeAttempts = 0;
        probeInitiationTo = -1;
      }
      inFlight = handshake.awaitingResponse();
    }
    Keypair kp = keypairs.current();
    boolean session = kp != null && kp.canSend(now);
    EndpointSet.Actions a = ps.tick(now, session, inFlight);
    if (a.movedTo >= 0) {
      endpoint = ps.currentEndpoint();
      if (inFlight || (session && !ps.dctun())) {
        initiateTo(ps, a.movedTo, now); // a stock peer answers only handshakes: ask the new path at once
      } else if (session) {
        sendKeepalive(now); // the peer follows the new path at once (it roams to this packet's source)
      }
    }
    if (a.probe != 0) {
      for (int i = 0; i < ps.size(); i++) {
        if (a.probes(i)) {
          sendFrame(PathProbe.PROBE, ps.endpoint(i), now);
        }
      }
    }
    if (a.initiate >= 0) {
      initiateTo(ps, a.initiate, now);
    }
  }

  private void giveUp(long now) {
    int dropped;
    synchronized (this) {
      device.index().release(handshake.pendingLocalIndex());
      handshake.clearPending();
      retransmitAt = NEVER;
      handshakeAttempts = 0;
      dropped = staged.clear();
      timers.forgetUnansweredSend();
    }
    for (int i = 0; i < dropped; i++) {
      device.drops().drop(DropReason.QUEUE_OVERFLOW, now, config.name() + ": handshake gave up after " + Timers.REKEY_ATTEMPT_TIME / 1_000_000_000L + " s");
    }
  }

  private void wipeKeypairs() {
    keypairs.wipe();
    keysWiped = true;
  }

  /** Forgets every session (keys are never copied anywhere, so this ends them). */
  synchronized void close() {
    wipeKeypairs();
    if (handshake.awaitingResponse()) {
      device.index().release(handshake.pendingLocalIndex());
      handshake.clearPending();
    }
    staged.clear();
  }

  /** True if a handshake is in flight. */
  public synchronized boolean handshakeInFlight() {
    return handshake.awaitingResponse();
  }

  @Override
  public String toString() {
    return "Peer[" + config.name() + " " + config.publicKey() + "]";
  }
}
