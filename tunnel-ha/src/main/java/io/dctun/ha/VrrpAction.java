package io.dctun.ha;

/**
 * What a {@link VrrpRouter} asks its caller to do. The router does no I/O; the caller carries
 * these out in the order given. Each names the instance it belongs to, so a
 * {@link VrrpSyncGroup}'s actions can be dispatched to the right interface.
 */
public sealed interface VrrpAction {

  /** The instance this action belongs to ({@link VrrpConfig#name()}). */
  String instance();

  /** Send one advert with this priority (0: "I am leaving, take over now"). */
  record SendAdvert(String instance, int priority) implements VrrpAction {}

  /** Add every VIP to the interface. */
  record AddVips(String instance) implements VrrpAction {}

  /** Remove every VIP from the interface. */
  record RemoveVips(String instance) implements VrrpAction {}

  /** Announce the VIPs with gratuitous ARP (request form: who-has VIP tell VIP). */
  record GratuitousArp(String instance) implements VrrpAction {}

  /** The state changed; listeners are told. {@code why} is for logs. */
  record StateChange(String instance, VrrpState from, VrrpState to, String why)
      implements VrrpAction {}
}
