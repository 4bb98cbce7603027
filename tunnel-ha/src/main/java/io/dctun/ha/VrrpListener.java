package io.dctun.ha;

/**
 * Hooks for an embedder: called after the VIPs have been added and announced by gratuitous ARP
 * (master) or removed (backup, fault), for every instance of the sync group, on the instance's
 * I/O thread. Keep them short; a slow hook delays adverts. The tunnel
 * uses {@link #becameMaster} to re-handshake every peer at once.
 */
public interface VrrpListener {
  default void becameMaster(String instance) {}

  default void becameBackup(String instance) {}

  default void becameFault(String instance) {}

  /** Every transition, including to INITIALIZE at shutdown. */
  default void stateChanged(String instance, VrrpState from, VrrpState to, String why) {}
}
