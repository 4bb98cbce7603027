package io.dctun.core.uapi;

/**
 * The status codes a UAPI reply ends with ({@code errno=N}), exactly the values wireguard-go
 * sends on Linux ({@code ipc/uapi_unix.go}): the <em>negated</em> errno, which {@code wg} turns
 * back into a message ("Unable to modify interface: Invalid argument"). 0 is success.
 */
public final class UapiErrno {
  public static final int OK = 0;
  /** -EIO: the request could not be read (a line over 64 KiB, a request over the size bound). */
  public static final int IO = -5;
  /** -EINVAL: a key, value or change that is not valid, or not supported while running. */
  public static final int INVALID = -22;
  /** -EPROTO: a line without {@code =}. */
  public static final int PROTOCOL = -71;
  /** -EADDRINUSE: the listen port (or fwmark) could not be applied to the socket. */
  public static final int PORT_IN_USE = -98;
  /** -ENOANO, wireguard-go's "other UAPI error": something failed that should not have. */
  public static final int UNKNOWN = -55;

  private UapiErrno() {}

  /** A short name for counters and logs: {@code EINVAL}, {@code EPROTO}, ... */
  public static String name(int errno) {
    switch (errno) {
      case OK: return "OK";
      case IO: return "EIO";
      case INVALID: return "EINVAL";
      case PROTOCOL: return "EPROTO";
      case PORT_IN_USE: return "EADDRINUSE";
      case UNKNOWN: return "ENOANO";
      default: return "E" + errno;
    }
  }
}
