package io.dctun.crypto;

import static io.dctun.crypto.WireFormat.*;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The Noise_IKpsk2 handshake between this end and one remote static key, exactly as WireGuard
 * specifies it (whitepaper section 5.4.2-5.4.4). Sans-I/O: it turns bytes and times into bytes and
 * {@link SessionKeys}; it reads no clock and opens no socket.
 *
 * <p>mac1 and mac2 are not written here: {@link CookieGenerator} stamps them on the finished
 * message, and {@link CookieChecker} verifies them before a message reaches this class.
 *
 * <p>Not thread-safe: the owner (one peer) serialises calls.
 */
public final class Handshake {
  static final byte[] CONSTRUCTION =
      "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".getBytes(StandardCharsets.US_ASCII);
  static final byte[] IDENTIFIER =
      "WireGuard v1 zx2c4 Jason@zx2c4.com".getBytes(StandardCharsets.US_ASCII);
  static final byte[] INITIAL_CHAIN_KEY = Blake2s.hash(CONSTRUCTION);
  static final byte[] INITIAL_HASH = Blake2s.hash(INITIAL_CHAIN_KEY, IDENTIFIER);
  private static final byte[] EMPTY = new byte[0];

  /** Why a message was refused; the caller counts these. */
  public enum Failure {
    NONE,
    DECRYPT_FAILED,
    LOW_ORDER_POINT,
    UNEXPECTED_RESPONSE,
    REPLAYED_TIMESTAMP,
    WRONG_PEER
  }

  private final LocalIdentity local;
  private final PublicKey remote;
  private volatile PresharedKey psk;
  private final byte[] precomputedStaticStatic = new byte[32];
  private final boolean staticStaticValid;
  private Supplier<PrivateKey> ephemeralSource = PrivateKey::generate;

  // Initiator state between createInitiation and consumeResponse.
  private PrivateKey ephemeral;
  private byte[] hash;
  private byte[] chainKey;
  private int pendingLocalIndex;
  private boolean awaitingResponse;

  // Replay protection for initiations from the remote, and the floor for ours.
  private byte[] greatestTimestampSeen;
  private volatile byte[] lastTimestampSent;
  private volatile byte[] timestampFloor;
  private Failure lastFailure = Failure.NONE;

  public Handshake(LocalIdentity local, PublicKey remote, PresharedKey psk) {
    this.local = local;
    this.remote = remote;
    this.psk = psk == null ? PresharedKey.NONE : psk;
    this.staticStaticValid = local.privateKey().sharedSecret(remote, precomputedStaticStatic, 0);
  }

  public PublicKey remoteKey() {
    return remote;
  }

  public void setPresharedKey(PresharedKey psk) {
    this.psk = psk == null ? PresharedKey.NONE : psk;
  }

  /** For known-answer tests: where ephemeral keys come from (random by default). */
  public void setEphemeralSource(Supplier<PrivateKey> source) {
    this.ephemeralSource = source;
  }

  /** Why the last refused message was refused. */
  public Failure lastFailure() {
    return lastFailure;
  }

  /** True between sending an initiation and consuming its response (or giving up). */
  public boolean awaitingResponse() {
    return awaitingResponse;
  }

  /** The index our pending initiation announced as its sender. */
  public int pendingLocalIndex() {
    return pendingLocalIndex;
  }

  /**
   * Every later initiation carries a timestamp strictly after this one. A gateway taking over from its
   * twin (same static key) sets the twin's last-sent timestamp here, so the remote side does
   * not refuse it as a replay when this box's clock lags.
   */
  public void setTimestampFloor(byte[] tai64n) {
    this.timestampFloor = tai64n == null ? null : tai64n.clone();
  }

  /**
   * Raises the floor to {@code tai64n} if that is later than the current floor (never lowers it):
   * what a backup does with each timestamp its master reports over the sync channel.
   */
  public synchronized void raiseTimestampFloor(byte[] tai64n) {
    byte[] f = timestampFloor;
    if (tai64n != null && tai64n.length == Tai64n.LENGTH && (f == null || Tai64n.isAfter(tai64n, f))) {
      timestampFloor = tai64n.clone();
    }
  }

  /** The current floor, or null. */
  public byte[] timestampFloor() {
    byte[] f = timestampFloor;
    return f == null ? null : f.clone();
  }

  /** The timestamp of the last initiation we built, or null. */
  public byte[] lastTimestampSent() {
    return lastTimestampSent == null ? null : lastTimestampSent.clone();
  }

  /** Forgets any pending initiation (on timeout or give-up). */
  public void clearPending() {
    awaitingResponse = false;
    ephemeral = null;
    hash = null;
    chainKey = null;
  }

  // ---------------------------------------------------------------- initiator

  /**
   * Builds an initiation (148 bytes, mac1 and mac2 zero) announcing {@code localIndex}.
   *
   * @param wallClockNanos now, in nanoseconds since the Unix epoch, for the TAI64N timestamp
   */
  public byte[] createInitiation(int localIndex, long wallClockNanos) {
    if (!staticStaticValid) {
      throw new IllegalStateException("remote public key " + remote + " is a low-order point");
    }
    byte[] msg = new byte[INITIATION_LENGTH];
    msg[0] = TYPE_INITIATION;
    putIntLE(msg, INIT_SENDER, localIndex);

    byte[] c = INITIAL_CHAIN_KEY;
    byte[] h = Blake2s.hash(INITIAL_HASH, remote.raw());

    PrivateKey e = ephemeralSource.get();
    byte[] ePub = e.publicKey().raw();
    c = Kdf.derive(1, c, ePub)[0];
    System.arraycopy(ePub, 0, msg, INIT_EPHEMERAL, 32);
    h = Blake2s.hash(h, ePub);

    byte[] dh = new byte[32];
    if (!e.sharedSecret(remote, dh, 0)) {
      throw new IllegalStateException("remote public key " + remote + " is a low-order point");
    }
    byte[][] ck = Kdf.derive(2, c, dh);
    c = ck[0];
    byte[] encStatic = Aead.seal(ck[1], 0, local.publicKey().raw(), h);
    System.arraycopy(encStatic, 0, msg, INIT_STATIC, encStatic.length);
    h = Blake2s.hash(h, encStatic);

    ck = Kdf.derive(2, c, precomputedStaticStatic);
    c = ck[0];
    // Strictly later than anything this key has sent, from this box or (via the floor) its twin.
    byte[] ts = Tai64n.of(wallClockNanos);
    byte[] prior = Tai64n.max(lastTimestampSent == null ? new byte[Tai64n.LENGTH] : lastTimestampSent, timestampFloor);
    if (!Tai64n.isAfter(ts, prior)) {
      ts = bump(prior);
    }
    byte[] encTs = Aead.seal(ck[1], 0, ts, h);
    System.arraycopy(encTs, 0, msg, INIT_TIMESTAMP, encTs.length);
    h = Blake2s.hash(h, encTs);
    Arrays.fill(dh, (byte) 0);

    this.ephemeral = e;
    this.hash = h;
    this.chainKey = c;
    this.pendingLocalIndex = localIndex;
    this.awaitingResponse = true;
    this.lastTimestampSent = ts;
    return msg;
  }

  /** The smallest timestamp after {@code t}: one whitening step later. */
  private static byte[] bump(byte[] t) {
    return Tai64n.of(Tai64n.toEpochNanos(t) + Tai64n.WHITENER);
  }

  /**
   * Consumes a response to our pending initiation (its MACs already checked).
   *
   * @return the session keys, or null (see {@link #lastFailure()}) without disturbing any
   *     established session
   */
  public SessionKeys consumeResponse(byte[] msg) {
    if (!awaitingResponse || getIntLE(msg, RESP_RECEIVER) != pendingLocalIndex) {
      lastFailure = Failure.UNEXPECTED_RESPONSE;
      return null;
    }
    byte[] rEph = Arrays.copyOfRange(msg, RESP_EPHEMERAL, RESP_EPHEMERAL + 32);
    byte[] c = Kdf.derive(1, chainKey, rEph)[0];
    byte[] h = Blake2s.hash(hash, rEph);
    PublicKey responderEphemeral = PublicKey.of(rEph);
    c = mixDh(c, ephemeral, responderEphemeral);
    c = c == null ? null : mixDh(c, local.privateKey(), responderEphemeral);
    if (c == null) {
      lastFailure = Failure.LOW_ORDER_POINT;
      return null;
    }
    byte[][] ctk = Kdf.derive(3, c, psk.raw());
    c = ctk[0];
    h = Blake2s.hash(h, ctk[1]);
    byte[] empty = Arrays.copyOfRange(msg, RESP_EMPTY, RESP_EMPTY + 16);
    if (Aead.open(ctk[2], 0, empty, h) == null) {
      lastFailure = Failure.DECRYPT_FAILED;
      return null;
    }
    byte[][] t = Kdf.derive(2, c, EMPTY);
    int remoteIndex = getIntLE(msg, RESP_SENDER);
    SessionKeys keys = new SessionKeys(t[0], t[1], pendingLocalIndex, remoteIndex, true);
    clearPending();
    lastFailure = Failure.NONE;
    return keys;
  }

  // ---------------------------------------------------------------- responder

  /**
   * The first half of consuming an initiation: decrypts the initiator's static key, which is how
   * the responder learns which peer is calling. Runs before any per-peer state is touched.
   *
   * @return the parsed initiation, or null if it does not decrypt under our static key
   */
  public static Initiation parseInitiation(LocalIdentity local, byte[] msg) {
    byte[] c = INITIAL_CHAIN_KEY;
    byte[] h = Blake2s.hash(INITIAL_HASH, local.publicKey().raw());
    byte[] ePub = Arrays.copyOfRange(msg, INIT_EPHEMERAL, INIT_EPHEMERAL + 32);
    c = Kdf.derive(1, c, ePub)[0];
    h = Blake2s.hash(h, ePub);
    byte[] dh = new byte[32];
    if (!local.privateKey().sharedSecret(PublicKey.of(ePub), dh, 0)) {
      return null;
    }
    byte[][] ck = Kdf.derive(2, c, dh);
    c = ck[0];
    byte[] encStatic = Arrays.copyOfRange(msg, INIT_STATIC, INIT_STATIC + 48);
    byte[] sPub = Aead.open(ck[1], 0, encStatic, h);
    if (sPub == null) {
      return null;
    }
    h = Blake2s.hash(h, encStatic);
    PublicKey initiator = PublicKey.of(sPub);
    if (!local.privateKey().sharedSecret(initiator, dh, 0)) {
      return null;
    }
    ck = Kdf.derive(2, c, dh);
    Arrays.fill(dh, (byte) 0);
    c = ck[0];
    byte[] encTs = Arrays.copyOfRange(msg, INIT_TIMESTAMP, INIT_TIMESTAMP + 28);
    byte[] ts = Aead.open(ck[1], 0, encTs, h);
    if (ts == null) {
      return null;
    }
    h = Blake2s.hash(h, encTs);
    return new Initiation(initiator, ePub, ts, getIntLE(msg, INIT_SENDER), c, h);
  }

  /**
   * The second half: checks the timestamp against the greatest seen from this peer, then builds
   * the response (92 bytes, MACs zero) and derives the session keys.
   *
   * @return null if the initiation is refused (replayed or older timestamp, or another peer's)
   */
  public Response createResponse(Initiation init, int localIndex) {
    if (!init.initiatorKey().equals(remote)) {
      lastFailure = Failure.WRONG_PEER;
      return null;
    }
    if (greatestTimestampSeen != null && !Tai64n.isAfter(init.timestamp, greatestTimestampSeen)) {
      lastFailure = Failure.REPLAYED_TIMESTAMP;
      return null;
    }
    byte[] msg = new byte[RESPONSE_LENGTH];
    msg[0] = TYPE_RESPONSE;
    putIntLE(msg, RESP_SENDER, localIndex);
    putIntLE(msg, RESP_RECEIVER, init.senderIndex);

    PrivateKey e = ephemeralSource.get();
    byte[] ePub = e.publicKey().raw();
    byte[] c = Kdf.derive(1, init.chainKey, ePub)[0];
    System.arraycopy(ePub, 0, msg, RESP_EPHEMERAL, 32);
    byte[] h = Blake2s.hash(init.hash, ePub);
    c = mixDh(c, e, PublicKey.of(init.ephemeral));
    c = c == null ? null : mixDh(c, e, remote);
    if (c == null) {
      lastFailure = Failure.LOW_ORDER_POINT;
      return null;
    }
    byte[][] ctk = Kdf.derive(3, c, psk.raw());
    c = ctk[0];
    h = Blake2s.hash(h, ctk[1]);
    byte[] empty = Aead.seal(ctk[2], 0, EMPTY, h);
    System.arraycopy(empty, 0, msg, RESP_EMPTY, 16);
    byte[][] t = Kdf.derive(2, c, EMPTY);
    greatestTimestampSeen = init.timestamp.clone();
    lastFailure = Failure.NONE;
    return new Response(msg, new SessionKeys(t[1], t[0], localIndex, init.senderIndex, false));
  }

  /**
   * {@code C = KDF1(C, DH(priv, pub))}, the step the response mixes in twice; null if {@code pub}
   * is a low-order point (the shared secret is all zeros), which the caller refuses.
   */
  private static byte[] mixDh(byte[] c, PrivateKey priv, PublicKey pub) {
    byte[] dh = new byte[32];
    try {
      return priv.sharedSecret(pub, dh, 0) ? Kdf.derive(1, c, dh)[0] : null;
    } finally {
      Arrays.fill(dh, (byte) 0);
    }
  }

  /** A decrypted initiation, before the per-peer checks. Holds no long-term secret. */
  public static final class Initiation {
    private final PublicKey initiator;
    final byte[] ephemeral;
    final byte[] timestamp;
    final int senderIndex;
    final byte[] chainKey;
    final byte[] hash;

    Initiation(PublicKey initiator, byte[] ephemeral, byte[] timestamp, int senderIndex, byte[] chainKey, byte[] hash) {
      this.initiator = initiator;
      this.ephemeral = ephemeral;
      this.timestamp = timestamp;
      this.senderIndex = senderIndex;
      this.chainKey = chainKey;
      this.hash = hash;
    }

    public PublicKey initiatorKey() {
      return initiator;
    }

    public int senderIndex() {
      return senderIndex;
    }

    /** The TAI64N timestamp the initiator sent. */
    public byte[] timestamp() {
      return timestamp.clone();
    }

    @Override
    public String toString() {
      return "Initiation[from=" + initiator + ", sender=" + Integer.toUnsignedString(senderIndex) + "]";
    }
  }

  /** A response to send and the keys it establishes. */
  public static final class Response {
    private final byte[] message;
    private final SessionKeys keys;

    Response(byte[] message, SessionKeys keys) {
      this.message = message;
      this.keys = keys;
    }

    public byte[] message() {
      return message;
    }

    public SessionKeys keys() {
      return keys;
    }
  }

  @Override
  public String toString() {
    return "Handshake[remote=" + remote + ", awaitingResponse=" + awaitingResponse + "]";
  }
}
