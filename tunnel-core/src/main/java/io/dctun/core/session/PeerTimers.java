package io.dctun.core.session;

/**
 * The passive timers of one peer (whitepaper 6.5, as wireguard-go's timers.go): what the data
 * paths record as they send and receive, and the deadlines {@link Peer#tick} asks about.
 * Handshake retransmission is the handshake's own state and lives with it in {@link Peer}.
 *
 * <pre>
 *   data received, nothing sent back for KEEPALIVE_TIMEOUT              -> keepalive due
 *   data sent, nothing heard for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT      -> new handshake due
 *   nothing sent or received for the persistent-keepalive interval      -> keepalive due
 * </pre>
 *
 * Written by the send and receive paths without locks: every field is volatile and written only
 * when it changes (or once per {@link #TOUCH_NANOS}), so the cache line is not bounced per packet.
 */
final class PeerTimers {
  static final long NEVER = Long.MIN_VALUE;
  /** Granularity of the last-sent/last-received times on the data path (timers tick at 100 ms). */
  static final long TOUCH_NANOS = 1_000_000L;

  /** First data received since we last sent anything. */
  private volatile long unansweredReceiveSince = NEVER;
  /** First data sent since we last heard anything. */
  private volatile long unansweredSendSince = NEVER;
  private volatile long lastAuthSent = NEVER;
  private volatile long lastAuthReceived = NEVER;

  /** Any authenticated message went out (data, keepalive, handshake response). */
  void sent(long now) {
    long ls = lastAuthSent;
    if (ls == NEVER || now - ls >= TOUCH_NANOS) {
      lastAuthSent = now;
    }
    if (unansweredReceiveSince != NEVER) {
      unansweredReceiveSince = NEVER;
    }
  }

  /** Data (not a keepalive) went out: an answer is expected. */
  void dataSent(long now) {
    if (unansweredSendSince == NEVER) {
      unansweredSendSince = now;
    }
  }

  /** Any authenticated message came in. */
  void received(long now) {
    long lr = lastAuthReceived;
    if (lr == NEVER || now - lr >= TOUCH_NANOS) {
      lastAuthReceived = now;
    }
    if (unansweredSendSince != NEVER) {
      unansweredSendSince = NEVER;
    }
  }

  /** Data (not a keepalive) came in: we owe an answer. */
  void dataReceived(long now) {
    if (unansweredReceiveSince == NEVER) {
      unansweredReceiveSince = now;
    }
  }

  /** A handshake message was authenticated now: the path is alive both ways. */
  void handshakeSeen(long now, boolean sentToo) {
    lastAuthReceived = now;
    if (sentToo) {
      lastAuthSent = now;
    }
  }

  boolean keepaliveDue(long now) {
    long dr = unansweredReceiveSince;
    return dr != NEVER && now - dr >= Timers.KEEPALIVE_TIMEOUT;
  }

  /** Whether our data went unanswered too long; if so the deadline is consumed (one handshake per silence). */
  boolean takeHandshakeDue(long now) {
    long ds = unansweredSendSince;
    if (ds != NEVER && now - ds >= Timers.KEEPALIVE_TIMEOUT + Timers.REKEY_TIMEOUT) {
      unansweredSendSince = NEVER;
      return true;
    }
    return false;
  }

  boolean persistentKeepaliveDue(long now, int intervalSeconds) {
    if (intervalSeconds <= 0) {
      return false;
    }
    long lastAny = Math.max(lastAuthSent, lastAuthReceived);
    return lastAny == NEVER || now - lastAny >= intervalSeconds * 1_000_000_000L;
  }

  /** The handshake gave up: the unanswered data is gone with its queue. */
  void forgetUnansweredSend() {
    unansweredSendSince = NEVER;
  }
}
