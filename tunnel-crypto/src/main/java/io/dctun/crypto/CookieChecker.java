package io.dctun.crypto;

import static io.dctun.crypto.WireFormat.*;

import java.security.SecureRandom;

/**
 * Verifies mac1 and mac2 on handshake messages sent to us, and makes cookie replies when we are
 * under load (whitepaper section 5.4.7). The cookie binds the sender's IP address and port to a
 * secret that changes every two minutes:
 *
 * <pre>
 *   cookie = MAC(secret, source address bytes || source port)
 *   reply  = type=3 | receiver = msg's sender | nonce(24) | XAEAD(HASH("cookie--" || our static), nonce, cookie, msg's mac1)
 * </pre>
 *
 * Thread-safe.
 */
public final class CookieChecker {
  static final long SECRET_LIFETIME_NANOS = 120_000_000_000L;

  private final byte[] mac1Key;
  private final byte[] cookieKey;
  private final SecureRandom random = new SecureRandom();
  private byte[] secret = new byte[32];
  private long secretBornNanos;
  private boolean secretValid;

  public CookieChecker(LocalIdentity local) {
    this.mac1Key = local.mac1Key;
    this.cookieKey = local.cookieKey;
  }

  /** True if mac1 of the message (initiation or response, whole) is right. Constant time. */
  public boolean checkMac1(byte[] msg, int off, int len) {
    if (len < 32) {
      return false;
    }
    int mac1Off = off + len - 32;
    byte[] expect = Blake2s.mac(mac1Key, msg, off, len - 32);
    return ConstantTime.equals(expect, 0, msg, mac1Off, 16);
  }

  /** True if mac2 is the cookie for this source. Only meaningful when mac1 was checked first. */
  public boolean checkMac2(byte[] msg, int off, int len, byte[] sourceAddressAndPort, long nowNanos) {
    if (len < 32) {
      return false;
    }
    byte[] cookie = cookieFor(sourceAddressAndPort, nowNanos);
    byte[] expect = Blake2s.mac(cookie, msg, off, len - 16);
    return ConstantTime.equals(expect, 0, msg, off + len - 16, 16);
  }

  /** A 64-byte cookie reply to the handshake message {@code msg} from that source. */
  public byte[] createReply(byte[] msg, int off, int len, byte[] sourceAddressAndPort, long nowNanos) {
    byte[] reply = new byte[COOKIE_REPLY_LENGTH];
    reply[0] = TYPE_COOKIE_REPLY;
    // The sender index sits at offset 4 in both initiation and response.
    System.arraycopy(msg, off + 4, reply, COOKIE_RECEIVER, 4);
    byte[] nonce = new byte[24];
    random.nextBytes(nonce);
    System.arraycopy(nonce, 0, reply, COOKIE_NONCE, 24);
    byte[] cookie = cookieFor(sourceAddressAndPort, nowNanos);
    byte[] mac1 = java.util.Arrays.copyOfRange(msg, off + len - 32, off + len - 16);
    byte[] sealed = Aead.xseal(cookieKey, nonce, cookie, mac1);
    System.arraycopy(sealed, 0, reply, COOKIE_SEALED, 32);
    return reply;
  }

  private synchronized byte[] cookieFor(byte[] source, long nowNanos) {
    if (!secretValid || nowNanos - secretBornNanos >= SECRET_LIFETIME_NANOS) {
      random.nextBytes(secret);
      secretBornNanos = nowNanos;
      secretValid = true;
    }
    return Blake2s.mac(secret, source, 0, source.length);
  }
}
