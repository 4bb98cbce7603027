package io.dctun.core.uapi;

import io.dctun.core.route.Prefix;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * The value syntax of UAPI lines, as wireguard-go parses and prints it: keys as 64 hex digits
 * (either case in, lower case out: Go's {@code hex}), unsigned decimals as Go's {@code
 * strconv.ParseUint(v, 10, bits)} (digits only, no sign), endpoints as {@code
 * netip.ParseAddrPort} ({@code 198.18.0.1:51820}, {@code [2001:db8::1]:51820}; numeric, never a
 * name), allowed IPs as {@code netip.ParsePrefix} (the {@code /bits} is required). Stateless.
 */
final class UapiText {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private UapiText() {}

  static void appendHex(StringBuilder sb, byte[] b) {
    for (byte x : b) {
      sb.append(HEX[(x >> 4) & 0xF]).append(HEX[x & 0xF]);
    }
  }

  /** 32 bytes from 64 hex digits, or null. */
  static byte[] key(String v) {
    if (v.length() != 64) {
      return null;
    }
    byte[] out = new byte[32];
    for (int i = 0; i < 32; i++) {
      int hi = Character.digit(v.charAt(2 * i), 16);
      int lo = Character.digit(v.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0 || v.charAt(2 * i) > 'f' || v.charAt(2 * i + 1) > 'f') {
        return null; // Character.digit also takes non-ASCII digits
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }

  /** An unsigned decimal not above {@code max}, or -1. Leading zeros are fine (ParseUint takes them). */
  static long unsigned(String v, long max) {
    if (v.isEmpty() || v.length() > 20) {
      return -1;
    }
    long n = 0;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
      if (n > max) {
        return -1;
      }
    }
    return n;
  }

  /** {@code a.b.c.d:port} or {@code [v6]:port}, numeric only; null if not. Zones are refused. */
  static UdpEndpoint endpoint(String v) {
    String host;
    String port;
    if (v.startsWith("[")) {
      int close = v.indexOf(']');
      if (close < 0 || close + 1 >= v.length() || v.charAt(close + 1) != ':') {
        return null;
      }
      host = v.substring(1, close);
      port = v.substring(close + 2);
      if (host.indexOf(':') < 0) {
        return null; // netip wants an IPv6 address inside brackets
      }
    } else {
      int colon = v.lastIndexOf(':');
      if (colon < 0) {
        return null;
      }
      host = v.substring(0, colon);
      port = v.substring(colon + 1);
      if (host.indexOf(':') >= 0) {
        return null; // IPv6 without brackets
      }
    }
    long p = unsigned(port, 65535);
    byte[] addr = address(host);
    if (p < 0 || addr == null) {
      return null;
    }
    try {
      return UdpEndpoint.of(new InetSocketAddress(InetAddress.getByAddress(addr), (int) p));
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** An IP literal's bytes (4 or 16), or null; nothing but the literal (no zone, no spaces). */
  private static byte[] address(String host) {
    if (host.isEmpty() || host.indexOf('%') >= 0 || host.indexOf('/') >= 0 || !host.strip().equals(host)) {
      return null;
    }
    try {
      Prefix pre = Prefix.parse(host);
      return pre.isCanonical() ? pre.address() : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** {@code addr/bits} (bits required; host bits allowed and masked, as wireguard-go's trie does), or null. */
  static Prefix prefix(String v) {
    int slash = v.indexOf('/');
    if (slash <= 0 || slash == v.length() - 1 || !v.strip().equals(v) || v.indexOf('%') >= 0) {
      return null;
    }
    try {
      return Prefix.parse(v);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** What {@code get} prints for an endpoint, or null when it is not an IP address and port. */
  static String endpointText(Endpoint ep) {
    if (!(ep instanceof UdpEndpoint)) {
      return null; // wg resolves whatever follows endpoint=; anything but ip:port fails its whole get
    }
    return ep.toString(); // 198.18.0.1:51820 or [2001:db8::1]:51820, as netip.AddrPort prints
  }
}
