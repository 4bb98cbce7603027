package io.dctun.ha;

import io.dctun.ha.internal.NetIf;
import io.dctun.tun.NativeIoException;

/**
 * Interface link state as VRRP tracking sees it, for embedders that track more interfaces than
 * the sync group's own (which {@link VrrpInstance} watches itself). Answers for the network
 * namespace of the calling thread.
 */
public final class Links {
  private Links() {}

  /**
   * Whether {@code ifname} is administratively up and has carrier; false for an interface that
   * does not exist (any more): for tracking, gone is down.
   */
  public static boolean isRunning(String ifname) {
    try {
      return NetIf.isRunning(ifname);
    } catch (NativeIoException e) {
      return false;
    }
  }
}
