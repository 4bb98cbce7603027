package io.dctun.appliance.config;

import java.util.regex.Pattern;

/**
 * Where a peer is reached: a host name or address literal and a port, written {@code host:port}
 * or {@code [v6]:port} for UDP, and {@code tcp://host:port} or {@code tls://host:port} for the
 * same WireGuard messages over TCP or TLS (a dctun peer with {@code listen-tcp}/{@code listen-tls}).
 * Names are kept as written and resolved when the tunnel starts, never while the configuration is
 * read. Immutable.
 *
 * @param carrier {@code udp}, {@code tcp} or {@code tls}
 */
public record Endpoint(String carrier, String host, int port) {
  /** The carriers an endpoint may name. */
  public static final java.util.Set<String> CARRIERS = java.util.Set.of("udp", "tcp", "tls");

  /** A UDP endpoint. */
  public Endpoint(String host, int port) {
    this("udp", host, port);
  }

  private static final Pattern HOST_NAME =
      Pattern.compile("(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?");

  public Endpoint {
    if (!CARRIERS.contains(carrier)) {
      throw new IllegalArgumentException("carrier " + carrier + " is not udp, tcp or tls");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port " + port + " is outside 1-65535");
    }
  }

  /**
   * Parses {@code host:port} or {@code [v6]:port}.
   *
   * @throws IllegalArgumentException naming the text and what is wrong with it
   */
  public static Endpoint parse(String text) {
    int scheme = text.indexOf("://");
    if (scheme >= 0) {
      String carrier = text.substring(0, scheme);
      if (!carrier.equals("tcp") && !carrier.equals("tls")) {
        throw new IllegalArgumentException("'" + text + "': '" + carrier + "://' is not a carrier (tcp:// or tls://; "
            + "plain host:port is UDP)");
      }
      Endpoint e = parse(text.substring(scheme + 3));
      return new Endpoint(carrier, e.host(), e.port());
    }
    String host;
    String port;
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
        throw new IllegalArgumentException("'" + text + "' is not [address]:port");
      }
      host = text.substring(1, close);
      port = text.substring(close + 2);
      if (host.indexOf(':') < 0) {
        throw new IllegalArgumentException("'" + text + "': brackets are only for IPv6 addresses");
      }
      try {
        host = InterfaceAddress.format(InterfaceAddress.parseLiteral(host));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + text + "': '" + host + "' is not a valid IPv6 address");
      }
    } else {
      int colon = text.lastIndexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException("'" + text + "' has no port (write host:port)");
      }
      host = text.substring(0, colon);
      port = text.substring(colon + 1);
      if (host.indexOf(':') >= 0) {
        throw new IllegalArgumentException("'" + text + "': write an IPv6 endpoint as [address]:port");
      }
      if (host.chars().allMatch(c -> (c >= '0' && c <= '9') || c == '.')) {
        try { // all digits and dots: must be a valid IPv4 literal
          InterfaceAddress.parseLiteral(host);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("'" + text + "': '" + host + "' is not a valid IPv4 address");
        }
      } else if (!HOST_NAME.matcher(host).matches()) {
        throw new IllegalArgumentException("'" + text + "': '" + host + "' is not a valid host name");
      }
    }
    if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("'" + text + "' has a bad port '" + port + "'");
    }
    int p = Integer.parseInt(port);
    if (p < 1 || p > 65535) {
      throw new IllegalArgumentException("'" + text + "' has port " + p + ", outside 1-65535");
    }
    return new Endpoint(host, p);
  }

  @Override
  public String toString() {
    String hp = host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    return carrier.equals("udp") ? hp : carrier + "://" + hp;
  }
}
