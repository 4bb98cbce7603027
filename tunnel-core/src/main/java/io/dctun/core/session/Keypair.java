package io.dctun.core.session;

import io.dctun.crypto.Aead;
import io.dctun.crypto.SessionKeys;
import io.dctun.crypto.TransportCipher;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One direction-pair of transport keys from one handshake, with its send counter and its
 * receive replay window. The sealer and the opener are each used under their own lock, so one
 * thread can seal while another opens.
 */
public final class Keypair {
  private final TransportCipher sealer;
  private final TransportCipher opener;
  private final ReplayWindow replay = new ReplayWindow();
  private final AtomicLong sendCounter = new AtomicLong();
  private final long createdNanos;
  private final boolean initiator;
  private final int localIndex;
  private final int remoteIndex;
  final Peer peer;
  private boolean destroyed; // guarded by sealer
  private boolean openerDestroyed; // guarded by opener

  Keypair(Peer peer, SessionKeys keys, long createdNanos, Aead.Impl impl) {
    this.peer = peer;
    this.sealer = impl == null ? keys.newSealer() : keys.newSealer(impl);
    this.opener = impl == null ? keys.newOpener() : keys.newOpener(impl);
    keys.wipe();
    this.createdNanos = createdNanos;
    this.initiator = keys.isInitiator();
    this.localIndex = keys.localIndex();
    this.remoteIndex = keys.remoteIndex();
  }

  public boolean isInitiator() {
    return initiator;
  }

  public int localIndex() {
    return localIndex;
  }

  public int remoteIndex() {
    return remoteIndex;
  }

  public long createdNanos() {
    return createdNanos;
  }

  public long sendCount() {
    return sendCounter.get();
  }

  /** True while this keypair may still send: younger than REJECT_AFTER_TIME, under the message limit. */
  boolean canSend(long now) {
    return now - createdNanos < Timers.REJECT_AFTER_TIME
        && Long.compareUnsigned(sendCounter.get(), Timers.REJECT_AFTER_MESSAGES) < 0;
  }

  boolean canReceive(long now) {
    return now - createdNanos < Timers.REJECT_AFTER_TIME;
  }

  /** Takes the next send counter; -1 once the message limit is reached. */
  long nextCounter() {
    long c = sendCounter.getAndIncrement();
    return Long.compareUnsigned(c, Timers.REJECT_AFTER_MESSAGES) >= 0 ? -1 : c;
  }

  /** Seals in place; -1 if this keypair was {@linkplain #destroy destroyed} (nothing is written). */
  int seal(long counter, byte[] buf, int off, int len) {
    synchronized (sealer) {
      if (destroyed) {
        return -1;
      }
      return sealer.seal(counter, buf, off, len);
    }
  }

  /**
   * Zeroes both directions' keys. Called when the keypair leaves its slot (rotation, expiry, the
   * peer's removal); a thread that still holds it sees -1 from {@link #seal} and {@link #open}, so
   * nothing is ever sealed under a zeroed key.
   */
  void destroy() {
    synchronized (sealer) {
      destroyed = true;
      sealer.destroy();
    }
    synchronized (opener) {
      openerDestroyed = true;
      opener.destroy();
    }
  }

  /** Opens in place and checks the counter; -1 if the tag fails, -2 if the counter is replayed. */
  int open(long counter, byte[] buf, int off, int len) {
    synchronized (opener) {
      if (openerDestroyed) {
        return -1;
      }
      if (!replay.isFresh(counter)) {
        return -2;
      }
      int n = opener.open(counter, buf, off, len);
      if (n < 0) {
        return -1;
      }
      // Only an authenticated counter moves the window, so forgeries cannot shift it.
      if (!replay.check(counter)) {
        return -2;
      }
      return n;
    }
  }

  @Override
  public String toString() {
    return "Keypair[local=" + Integer.toUnsignedString(localIndex) + ", initiator=" + initiator + "]";
  }
}
