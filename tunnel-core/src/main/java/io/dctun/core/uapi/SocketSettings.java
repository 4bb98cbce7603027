package io.dctun.core.uapi;

/**
 * What UAPI shows and sets that belongs to the socket under a {@code Device}, not to the device:
 * the listen port and the fwmark. The sans-I/O device opens no socket, so whoever runs one (the
 * appliance, an embedding program) says what it is and whether it can change while running.
 *
 * <p>The change methods are called only with a value that differs from the current one, before
 * anything else of the same request is applied; throwing refuses the whole request.
 */
public interface SocketSettings {

  /** The UDP port the device listens on, 0 if none (then {@code get} omits {@code listen_port}). */
  int listenPort();

  /** The fwmark of the device's sockets, 0 if none (then {@code get} omits {@code fwmark}). */
  default long fwmark() {
    return 0;
  }

  /**
   * Moves the device to another port. The default refuses with {@link UapiErrno#INVALID}, the
   * errno wireguard-go gives a request it does not support; a driver that rebinds and fails gives
   * {@link UapiErrno#PORT_IN_USE}, as wireguard-go's failed rebind does.
   */
  default void setListenPort(int port) throws UapiException {
    throw new UapiException(UapiErrno.INVALID,
        "listen_port: the port cannot change while running (now " + listenPort() + ", asked " + port + "); change the configuration and restart");
  }

  /** Sets the fwmark; refused by default, as {@link #setListenPort}. */
  default void setFwmark(long mark) throws UapiException {
    throw new UapiException(UapiErrno.INVALID, "fwmark: not supported by this device (asked " + mark + ")");
  }

  /** A port that is what it is: shown by {@code get}, changes refused. */
  static SocketSettings fixed(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("listen port must be 0..65535, got " + port);
    }
    return () -> port;
  }
}
