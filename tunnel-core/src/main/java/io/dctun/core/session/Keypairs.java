package io.dctun.core.session;

/**
 * A peer's three keypair slots and their rotation (whitepaper 5.4.6, as wireguard-go's
 * keypairs.go): {@code current} sends and receives; {@code previous} still receives what was in
 * flight when current took over; {@code next} is a responder's new keypair, which may receive
 * but not send until the initiator has used it (then it is promoted).
 *
 * <pre>
 *   initiator: response consumed      -> previous = next if any, else current; current = new
 *   responder: initiation answered    -> next = new
 *              first data under next  -> previous = current, current = next, next = none
 * </pre>
 *
 * Every slot a keypair leaves releases its receiver index. Reads are lock-free (volatile);
 * changes are made by the peer while it holds its own monitor.
 */
final class Keypairs {
  private final IndexTable index;
  private volatile Keypair current;
  private volatile Keypair previous;
  private volatile Keypair next;

  Keypairs(IndexTable index) {
    this.index = index;
  }

  Keypair current() {
    return current;
  }

  Keypair previous() {
    return previous;
  }

  Keypair next() {
    return next;
  }

  /**
   * The initiator's new keypair takes over at once. If a responder keypair is waiting in next
   * (both sides initiated at once: crossing handshakes), it becomes previous rather than being
   * dropped, as wireguard-go does: the other side may already be sending under it, and dropping
   * it would lose that traffic until the next rekey. The old current is then the one let go.
   */
  void installCurrent(Keypair kp) {
    if (previous != null) {
      retire(previous);
    }
    if (next != null) {
      if (current != null) {
        retire(current);
      }
      previous = next;
      next = null;
    } else {
      previous = current;
    }
    current = kp;
  }

  /** The responder's new keypair waits in next (replacing a next not yet used). */
  void installNext(Keypair kp) {
    Keypair old = next;
    if (old != null) {
      retire(old);
    }
    next = kp;
  }

  /** Promotes {@code kp} from next to current; false if it is no longer next. */
  boolean promote(Keypair kp) {
    if (next != kp) {
      return false;
    }
    if (previous != null) {
      retire(previous);
    }
    previous = current;
    current = kp;
    next = null;
    return true;
  }

  /** Drops previous and next once they may no longer receive. */
  void expire(long now) {
    if (previous != null && !previous.canReceive(now)) {
      retire(previous);
      previous = null;
    }
    if (next != null && !next.canReceive(now)) {
      retire(next);
      next = null;
    }
  }

  /** Forgets all three. */
  void wipe() {
    for (Keypair k : new Keypair[] {previous, current, next}) {
      if (k != null) {
        retire(k);
      }
    }
    previous = null;
    current = null;
    next = null;
  }

  /** A keypair leaves its slot: its receiver index is free again and its keys are zeroed. */
  private void retire(Keypair k) {
    index.release(k.localIndex());
    k.destroy();
  }
}
