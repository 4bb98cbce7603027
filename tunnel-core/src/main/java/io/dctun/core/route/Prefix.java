package io.dctun.core.route;

import java.util.Arrays;

/**
 * An immutable IPv4 or IPv6 network prefix (address and length), as used in allowed IPs and
 * routes. Host bits are masked off on construction; {@link #isCanonical()} tells whether the
 * input had none, so configuration can warn about {@code 10.1.2.3/8}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Prefix {

  private final byte[] address;
  private final int length;
  private final boolean canonical;

  private Prefix(byte[] masked, int length, boolean canonical) {
    this.address = masked;
    this.length = length;
    this.canonical = canonical;
  }

  /**
   * A prefix from raw address bytes (4 or 16) and a length; host bits are masked off.
   *
   * @throws IllegalArgumentException if the address is not 4 or 16 bytes or the length is out of
   *     range
   */
  public static Prefix of(byte[] address, int length) {
    if (address == null || (address.length != 4 && address.length != 16)) {
      throw new IllegalArgumentException("address must be 4 or 16 bytes, got "
          + (address == null ? "null" : address.length));
    }
    if (length < 0 || length > address.length * 8) {
      throw new IllegalArgumentException("prefix length " + length + " out of range 0.."
          + address.length * 8);
    }
    byte[] masked = address.clone();
    boolean canonical = mask(masked, length);
    return new Prefix(masked, length, canonical);
  }

  /** Zeroes bits past {@code length}; returns whether none were set. */
  static boolean mask(byte[] a, int length) {
    boolean clean = true;
    for (int i = 0; i < a.length; i++) {
      int keep = length - i * 8;
      int m = keep >= 8 ? 0xFF : keep <= 0 ? 0 : (0xFF << (8 - keep)) & 0xFF;
      if ((a[i] & 0xFF & ~m) != 0) {
        clean = false;
        a[i] &= (byte) m;
      }
    }
    return clean;
  }

  /**
   * Parses CIDR text: {@code "198.18.0.0/15"}, {@code "fd00::/8"}, {@code "::ffff:10.0.0.0/104"}.
   * A bare address means a host prefix (/32 or /128), as in WireGuard configuration.
   *
   * @throws IllegalArgumentException naming the text when it is not a valid prefix
   */
  public static Prefix parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("prefix is null");
    }
    String s = text.trim();
    int slash = s.indexOf('/');
    String addr = slash < 0 ? s : s.substring(0, slash);
    byte[] bytes = addr.indexOf(':') >= 0 ? parseV6(addr) : parseV4(addr);
    if (bytes == null) {
      throw new IllegalArgumentException("invalid IP address in prefix '" + text + "'");
    }
    int len = bytes.length * 8;
    if (slash >= 0) {
      len = parseDecimal(s, slash + 1, s.length(), bytes.length * 8);
      if (len < 0) {
        throw new IllegalArgumentException("invalid prefix length in '" + text + "' (0.."
            + bytes.length * 8 + ")");
      }
    }
    return of(bytes, len);
  }

  /** Decimal in [0, max] without sign or leading zeros, or -1. */
  private static int parseDecimal(String s, int from, int to, int max) {
    if (from >= to || to - from > 3 || (s.charAt(from) == '0' && to - from > 1)) {
      return -1;
    }
    int v = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v <= max ? v : -1;
  }

  private static byte[] parseV4(String s) {
    byte[] out = new byte[4];
    return parseV4Into(s, out, 0) ? out : null;
  }

  private static boolean parseV4Into(String s, byte[] out, int at) {
    int part = 0;
    int start = 0;
    for (int i = 0; i <= s.length(); i++) {
      if (i == s.length() || s.charAt(i) == '.') {
        if (part == 4) {
          return false;
        }
        int v = parseDecimal(s, start, i, 255);
        if (v < 0) {
          return false;
        }
        out[at + part++] = (byte) v;
        start = i + 1;
      }
    }
    return part == 4;
  }

  private static byte[] parseV6(String s) {
    byte[] out = new byte[16];
    int[] groups = new int[8];
    int n = 0;
    int gap = -1;
    int i = 0;
    int len = s.length();
    if (s.startsWith("::")) {
      gap = 0;
      i = 2;
      if (len == 2) {
        return out;
      }
    } else if (s.startsWith(":")) {
      return null;
    }
    while (i < len) {
      int end = i;
      while (end < len && s.charAt(end) != ':') {
        end++;
      }
      String g = s.substring(i, end);
      if (g.indexOf('.') >= 0) {
        // Embedded IPv4 must be last and take two groups.
        if (end != len || n > 6) {
          return null;
        }
        byte[] v4 = new byte[4];
        if (!parseV4Into(g, v4, 0)) {
          return null;
        }
        groups[n++] = ((v4[0] & 0xFF) << 8) | (v4[1] & 0xFF);
        groups[n++] = ((v4[2] & 0xFF) << 8) | (v4[3] & 0xFF);
        i = len;
        break;
      }
      if (g.isEmpty() || g.length() > 4 || n == 8) {
        return null;
      }
      int v = 0;
      for (int k = 0; k < g.length(); k++) {
        int d = Character.digit(g.charAt(k), 16);
        if (d < 0) {
          return null;
        }
        v = (v << 4) | d;
      }
      groups[n++] = v;
      if (end == len) {
        i = len;
        break;
      }
      // end points at ':'
      if (end + 1 < len && s.charAt(end + 1) == ':') {
        if (gap >= 0) {
          return null;
        }
        gap = n;
        i = end + 2;
      } else if (end + 1 == len) {
        return null; // trailing single ':'
      } else {
        i = end + 1;
      }
    }
    if (gap < 0 && n != 8) {
      return null;
    }
    if (gap >= 0 && n > 7) {
      return null;
    }
    int fill = 8 - n;
    int g = 0;
    for (int k = 0; k < n; k++) {
      if (k == gap) {
        g += fill;
      }
      out[g * 2] = (byte) (groups[k] >>> 8);
      out[g * 2 + 1] = (byte) groups[k];
      g++;
    }
    return out;
  }

  /** A copy of the (masked) address bytes: 4 for IPv4, 16 for IPv6. */
  public byte[] address() {
    return address.clone();
  }

  /** The prefix length in bits. */
  public int length() {
    return length;
  }

  /** 4 or 16. */
  public int addressLength() {
    return address.length;
  }

  public boolean isIpv4() {
    return address.length == 4;
  }

  /** Whether the input had no host bits set past the prefix length. */
  public boolean isCanonical() {
    return canonical;
  }

  /** Whether {@code addr} (4 or 16 bytes, same family) lies inside this prefix. */
  public boolean contains(byte[] addr) {
    return addr != null && addr.length == address.length && contains(addr, 0);
  }

  /**
   * Whether the address of this prefix's family at {@code buf[off..]} (a packet's source field,
   * say) lies inside it. Allocation-free.
   */
  public boolean contains(byte[] buf, int off) {
    int full = length / 8;
    for (int i = 0; i < full; i++) {
      if (buf[off + i] != address[i]) {
        return false;
      }
    }
    int rest = length % 8;
    if (rest == 0) {
      return true;
    }
    int m = (0xFF << (8 - rest)) & 0xFF;
    return (buf[off + full] & m) == (address[full] & 0xFF);
  }


  /** CIDR text: dotted quad for IPv4, RFC 5952 form for IPv6. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(44);
    appendAddress(sb, address);
    return sb.append('/').append(length).toString();
  }

  /**
   * A 4- or 16-byte address as text: dotted quad, or RFC 5952 (what {@code wg} and {@code ip}
   * print; {@link java.net.InetAddress#getHostAddress} does not compress IPv6 zeros).
   */
  public static String addressText(byte[] address) {
    if (address.length != 4 && address.length != 16) {
      throw new IllegalArgumentException("an address has 4 or 16 bytes, not " + address.length);
    }
    StringBuilder sb = new StringBuilder(40);
    appendAddress(sb, address);
    return sb.toString();
  }

  private static void appendAddress(StringBuilder sb, byte[] address) {
    if (address.length == 4) {
      for (int i = 0; i < 4; i++) {
        if (i > 0) {
          sb.append('.');
        }
        sb.append(address[i] & 0xFF);
      }
    } else {
      appendV6(sb, address);
    }
  }

  private static void appendV6(StringBuilder sb, byte[] a) {
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((a[2 * i] & 0xFF) << 8) | (a[2 * i + 1] & 0xFF);
    }
    // Longest run of zero groups, at least two, leftmost on a tie (RFC 5952 4.2).
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (i > 0 && i != bestStart + bestLen) {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Prefix && ((Prefix) o).length == length
        && Arrays.equals(((Prefix) o).address, address);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(address) * 31 + length;
  }
}
