package io.dctun.crypto;

/**
 * ChaCha20-Poly1305 under one fixed key, reused for every packet of one direction of one
 * keypair. The 12-byte nonce is four zero bytes followed by the 64-bit little-endian counter, as
 * WireGuard's transport messages use it. There is no associated data.
 *
 * <p>Both operations work in place, for the buffer discipline of the fast path:
 *
 * <pre>
 *   seal:  buf[off .. off+len)            plaintext  -> ciphertext, tag at buf[off+len .. off+len+16)
 *   open:  buf[off .. off+len)  ciphertext || tag    -> plaintext at buf[off .. off+len-16)
 * </pre>
 *
 * Not thread-safe: one instance per direction per thread.
 */
public interface TransportCipher {
  int TAG_LENGTH = 16;

  /** Seals in place; the buffer must have 16 bytes of room after the plaintext. Returns len + 16. */
  int seal(long counter, byte[] buf, int off, int len);

  /** Opens in place. Returns the plaintext length, or -1 if the tag does not verify (the buffer is then garbage). */
  int open(long counter, byte[] buf, int off, int len);

  /**
   * Zeroes the key material this object holds (the key and what was derived from it), for a
   * keypair that rotated out. Neither operation may be called afterwards; the caller ensures it
   * (the data path's {@code Keypair} refuses under the same lock). What a JDK provider copied
   * internally is out of reach: it is dropped (re-initialised with a zero key), not zeroed.
   */
  void destroy();

  /** Which implementation this is, for logs and benchmarks. */
  String implementation();
}
