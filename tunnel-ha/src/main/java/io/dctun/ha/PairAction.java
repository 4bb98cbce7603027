package io.dctun.ha;

import io.dctun.crypto.PublicKey;

/**
 * What a {@link PairController} asks its driver to do, in the order given. The controller does
 * no I/O; the driver ({@link GatewayPair}, or an embedder's own) carries these out. The VIPs
 * themselves and the first burst of gratuitous ARP are VRRP's ({@link VrrpAction}), carried out
 * before the pair hears of the state change.
 */
public sealed interface PairAction {

  /** Let the tunnel's network output through ({@link OutputGate#open()}): this box is master. */
  record OpenGate() implements PairAction {}

  /** Mute the tunnel's network output: this box is not master (the twin sends from the same VIP). */
  record CloseGate() implements PairAction {}

  /** Start a handshake with every peer now, without waiting for either side's timers. */
  record InitiateAll() implements PairAction {}

  /**
   * Start a handshake with this peer now, even within REKEY_TIMEOUT of the last: its answer to
   * the takeover's initiation may have gone to the old master.
   */
  record Initiate(PublicKey peer) implements PairAction {}

  /** Announce the VIPs once more (gratuitous ARP, unsolicited NA): {@link VrrpInstance#announce()}. */
  record Announce() implements PairAction {}

  /** Report a tracked condition to VRRP ({@link VrrpInstance#setCondition}); {@code why} is for logs. */
  record SetCondition(String condition, boolean healthy, String why) implements PairAction {}

  /** Stream state to the twin ({@code true}, whole table first) or stop ({@link StateSync#setSending}). */
  record StreamState(boolean on) implements PairAction {}

  /**
   * Run the embedder's hook for a pair state change: {@code event} is "master", "backup" or
   * "fault"; {@code instance} and {@code interfaceName} are the public side's.
   */
  record RunHook(String event, String instance, String interfaceName) implements PairAction {}
}
