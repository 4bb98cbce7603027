package io.dctun.crypto;

import static io.dctun.crypto.WireFormat.*;

import java.util.Arrays;

/**
 * Stamps mac1 and mac2 on the handshake messages we send to one remote key, and takes the
 * cookies that remote sends back when it is under load (whitepaper section 5.4.7).
 *
 * <pre>
 *   mac1 = MAC(HASH("mac1----" || remote static), msg[0 .. mac1))
 *   mac2 = MAC(cookie, msg[0 .. mac2))   if a cookie younger than 120 s is held, else zeros
 * </pre>
 *
 * Thread-safe (synchronised; handshakes are rare).
 */
public final class CookieGenerator {
  /** Cookies expire two minutes after they were received (COOKIE_REFRESH_TIME). */
  public static final long COOKIE_LIFETIME_NANOS = 120_000_000_000L;

  private final byte[] mac1Key;
  private final byte[] cookieKey;
  private byte[] cookie;
  private long cookieReceivedNanos;
  private byte[] lastMac1;

  public CookieGenerator(PublicKey remote) {
    this.mac1Key = Blake2s.hash(LocalIdentity.LABEL_MAC1, remote.raw());
    this.cookieKey = Blake2s.hash(LocalIdentity.LABEL_COOKIE, remote.raw());
  }

  /** Writes mac1 and mac2 into a complete initiation or response. */
  public synchronized void addMacs(byte[] msg, long nowNanos) {
    int mac1Off = msg.length - 32;
    int mac2Off = msg.length - 16;
    Blake2s.mac(mac1Key, msg, 0, mac1Off, msg, mac1Off);
    lastMac1 = Arrays.copyOfRange(msg, mac1Off, mac1Off + 16);
    if (cookie != null && nowNanos - cookieReceivedNanos < COOKIE_LIFETIME_NANOS) {
      Blake2s.mac(cookie, msg, 0, mac2Off, msg, mac2Off);
    } else {
      Arrays.fill(msg, mac2Off, mac2Off + 16, (byte) 0);
    }
  }

  /**
   * Consumes a cookie reply: decrypts the cookie with the mac1 of our last message as associated
   * data. Returns false (and changes nothing) if it does not decrypt or we sent nothing it could
   * answer.
   */
  public synchronized boolean consumeCookieReply(byte[] msg, long nowNanos) {
    if (lastMac1 == null || msg.length != COOKIE_REPLY_LENGTH) {
      return false;
    }
    byte[] nonce = Arrays.copyOfRange(msg, COOKIE_NONCE, COOKIE_NONCE + 24);
    byte[] sealed = Arrays.copyOfRange(msg, COOKIE_SEALED, COOKIE_SEALED + 32);
    byte[] c = Aead.xopen(cookieKey, nonce, sealed, lastMac1);
    if (c == null) {
      return false;
    }
    cookie = c;
    cookieReceivedNanos = nowNanos;
    lastMac1 = null; // one reply per message we sent
    return true;
  }

  /** True if a fresh cookie is held (mac2 will be set). */
  public synchronized boolean hasCookie(long nowNanos) {
    return cookie != null && nowNanos - cookieReceivedNanos < COOKIE_LIFETIME_NANOS;
  }
}
