package io.dctun.ha;

/**
 * A master's view of its own tunnel, which it reports to its twin once a second over the state
 * sync: the twin needs it to tell "my path is broken" (the master handshakes fine) from "the
 * remote sites are down" (the master fails too). See {@link PairController}.
 *
 * @param newestHandshakeWallNanos wall-clock time (ns since the epoch) of the newest completed
 *     handshake with any peer, 0 if none
 * @param masterForNanos how long the sender has been master, 0 if it is not
 * @param failing whether the sender judges its tunnel broken (no handshake within the tracked
 *     time, past its grace period)
 */
public record TunnelHealth(long newestHandshakeWallNanos, long masterForNanos, boolean failing) {
  public TunnelHealth {
    if (newestHandshakeWallNanos < 0 || masterForNanos < 0) {
      throw new IllegalArgumentException("negative time in a tunnel health report: " + newestHandshakeWallNanos
          + ", " + masterForNanos);
    }
  }
}
