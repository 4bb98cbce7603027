package io.dctun.ha.internal;

import io.dctun.ha.VrrpConfig;
import io.dctun.tun.LibC;
import io.dctun.tun.LinkConfig;
import io.dctun.tun.NativeIoException;
import java.io.Closeable;
import java.io.IOException;
import java.util.List;

/**
 * Adds and removes an instance's VIPs through rtnetlink ({@link LinkConfig}). Idempotent: an
 * address already present (EEXIST) or already gone (EADDRNOTAVAIL) is not an error, because a
 * restart or a peer's earlier action may have got there first.
 *
 * <p>Thread-safety: as {@link LinkConfig} (serialised).
 */
public final class VipManager implements Closeable {
  private final LinkConfig link;
  private final String ifname;
  private final List<VrrpConfig.Vip> vips;

  public VipManager(LinkConfig link, String ifname, List<VrrpConfig.Vip> vips) {
    this.link = link;
    this.ifname = ifname;
    this.vips = vips;
  }

  public void addAll() throws IOException {
    for (VrrpConfig.Vip v : vips) {
      try {
        link.addAddress(ifname, v.address(), v.prefixLength());
      } catch (NativeIoException e) {
        if (e.errno() != LibC.EEXIST) {
          throw e;
        }
      }
    }
  }

  public void removeAll() throws IOException {
    for (VrrpConfig.Vip v : vips) {
      try {
        link.removeAddress(ifname, v.address(), v.prefixLength());
      } catch (NativeIoException e) {
        if (e.errno() != LibC.EADDRNOTAVAIL) {
          throw e;
        }
      }
    }
  }

  @Override
  public void close() {
    // the LinkConfig is shared; its owner closes it
  }
}
