package io.dctun.tun;

import io.dctun.tun.internal.Errnos;
import java.io.IOException;

/**
 * A system call on a TUN device or netlink socket failed. The message says what was attempted,
 * why it failed in words, and the errno; {@link #errno()} gives the number to code against.
 */
public class NativeIoException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int errno;

  public NativeIoException(String what, int errno, String why) {
    super(what + ": " + (why == null ? "" : why + ": ") + Errnos.describe(errno));
    this.errno = errno;
  }

  /** The errno the kernel returned (positive), 0 if none. */
  public int errno() {
    return errno;
  }
}
