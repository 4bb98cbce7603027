package io.dctun.ha;

/** The states of a VRRP router (RFC 5798 section 6.4), plus FAULT as keepalived has it. */
public enum VrrpState {
  /** Not started, or shut down. */
  INITIALIZE,
  /** Watching the master; takes over when Master_Down_Timer fires. */
  BACKUP,
  /** Owns the virtual addresses and sends adverts. */
  MASTER,
  /** A tracked condition (or a sync-group peer) forbids this router to take part; no VIPs, no adverts. */
  FAULT
}
