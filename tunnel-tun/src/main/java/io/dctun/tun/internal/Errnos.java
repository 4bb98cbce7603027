package io.dctun.tun.internal;

import jnr.constants.platform.Errno;

/** Names and descriptions of errno values for error messages. */
public final class Errnos {
  private Errnos() {}

  /** "EPERM (Operation not permitted)", or "errno 1234" when unknown. */
  public static String describe(int errno) {
    Errno e = Errno.valueOf(errno);
    if (e == null || e == Errno.__UNKNOWN_CONSTANT__) {
      return "errno " + errno;
    }
    return e.name() + " (" + e.description() + ", errno " + errno + ")";
  }

  /** The symbolic name, such as "EBUSY", or "errno N". */
  public static String name(int errno) {
    Errno e = Errno.valueOf(errno);
    return e == null || e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name();
  }
}
