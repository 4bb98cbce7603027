package io.dctun.core.session;

/** The protocol constants of the WireGuard whitepaper (section 6.1), in nanoseconds where timed. */
public final class Timers {
  private Timers() {}

  private static final long S = 1_000_000_000L;

  public static final long REKEY_AFTER_MESSAGES = 1L << 60;
  /** 2^64 - 2^13 - 1, as an unsigned value: compare with {@link Long#compareUnsigned}. */
  public static final long REJECT_AFTER_MESSAGES = -(1L << 13) - 1;
  public static final long REKEY_AFTER_TIME = 120 * S;
  public static final long REJECT_AFTER_TIME = 180 * S;
  public static final long REKEY_ATTEMPT_TIME = 90 * S;
  public static final long REKEY_TIMEOUT = 5 * S;
  public static final long KEEPALIVE_TIMEOUT = 10 * S;
  /** Jitter added to each handshake retransmission: up to a third of a second. */
  public static final long REKEY_TIMEOUT_JITTER_MAX = 334_000_000L;
  /** Initiations are sent at most this often per peer (besides retransmissions). */
  public static final long REKEY_TIMEOUT_MIN_SPACING = REKEY_TIMEOUT;
  /** Initiations from one peer are accepted at most once per 20 ms (wireguard-go's rate). */
  public static final long INITIATION_MIN_SPACING = S / 50;
  /** Handshake attempts before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
  public static final int MAX_HANDSHAKE_ATTEMPTS = (int) (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT);
  /** An initiator rekeys on receive when its keypair is this old (180 - 10 - 5 s). */
  public static final long REKEY_ON_RECEIVE_AGE = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
}
