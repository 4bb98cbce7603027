package io.dctun.core.uapi;

/**
 * A UAPI request refused with an errno. The message names the offending key or value and is
 * safe to log: it never contains a private or preshared key (key lines are reported by key only).
 */
public final class UapiException extends Exception {
  private static final long serialVersionUID = 1L;
  private final int errno;

  public UapiException(int errno, String message) {
    super(message, null, false, false);
    this.errno = errno;
  }

  /** The negative errno the reply carries (see {@link UapiErrno}). */
  public int errno() {
    return errno;
  }
}
