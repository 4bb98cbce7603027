package io.dctun.core.uapi;

import io.dctun.core.route.Prefix;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The lines of one {@code set=1} request, read against a snapshot of the device into a {@link
 * ChangeSet}, with wireguard-go's semantics line by line ({@code device/uapi.go}
 * {@code IpcSetOperation}): device keys ({@code private_key}, {@code listen_port}, {@code fwmark},
 * {@code replace_peers}) until the first {@code public_key}; then per peer {@code update_only},
 * {@code remove}, {@code preshared_key}, {@code endpoint}, {@code persistent_keepalive_interval},
 * {@code replace_allowed_ips}, {@code allowed_ip} ({@code -} in front removes), {@code
 * protocol_version}; a peer with the device's own key is a "dummy" whose lines are checked and
 * ignored; the first bad line ends the request with its errno. A {@code public_key} of low order
 * ({@link PublicKey#isLowOrder()}) is such a bad line (-EINVAL), whatever follows it.
 *
 * <p>One difference, on purpose: nothing is applied while reading. wireguard-go applies each line
 * as it reads it, so a request that fails at line 40 leaves lines 1-39 in force; here the whole
 * request is checked first and then applied whole, or not at all ({@link ChangeSet}).
 *
 * <p>Not thread-safe; one per request.
 */
final class SetRequest {
  /** A peer as the request leaves it; starts as the snapshot's configuration, or empty. */
  static final class Draft {
    final PublicKey key;
    final PeerConfig base; // null: the request creates it
    PresharedKey psk;
    Endpoint endpoint;
    boolean endpointSet;
    int keepalive;
    final LinkedHashSet<Prefix> allowed = new LinkedHashSet<>();

    Draft(PublicKey key, PeerConfig base) {
      this.key = key;
      this.base = base;
      if (base != null) {
        psk = base.presharedKey();
        endpoint = base.endpoint();
        keepalive = base.persistentKeepaliveSeconds();
        allowed.addAll(base.allowedIps());
      } else {
        psk = PresharedKey.NONE;
      }
    }
  }

  private final PrivateKey privateKey;
  private final SocketSettings socket;
  private final Map<PublicKey, PeerConfig> before;
  private final Map<PublicKey, Draft> peers = new LinkedHashMap<>();
  /** Keys removed at some point of the request: if they come back, they come back as new peers. */
  private final Set<PublicKey> removed = new HashSet<>();
  private final List<String> summary = new ArrayList<>();

  private boolean deviceSection = true;
  private Draft current;
  private boolean dummy;
  private boolean created;
  private int listenPort = -1;
  private long fwmark = -1;
  private int lineNumber;

  /** @param before the device's peers now, in the order {@code get} lists them */
  SetRequest(PrivateKey privateKey, SocketSettings socket, Map<PublicKey, PeerConfig> before) {
    this.privateKey = privateKey;
    this.socket = socket;
    this.before = before;
    for (Map.Entry<PublicKey, PeerConfig> e : before.entrySet()) {
      peers.put(e.getKey(), new Draft(e.getKey(), e.getValue()));
    }
  }

  /** Reads one line (without its newline; never the blank line that ends the request). */
  void line(String line) throws UapiException {
    lineNumber++;
    int eq = line.indexOf('=');
    if (eq < 0) {
      // not quoted: a line without '=' may still be a key
      throw fail(UapiErrno.PROTOCOL, "failed to parse line: no '=' in its " + line.length() + " characters");
    }
    String key = line.substring(0, eq);
    String value = line.substring(eq + 1);
    if (key.equals("public_key")) {
      deviceSection = false;
      publicKey(value);
    } else if (deviceSection) {
      deviceLine(key, value);
    } else {
      peerLine(key, value);
    }
  }

  /** The request read whole: checked as a whole, ready to apply. */
  ChangeSet finish() throws UapiException {
    List<PublicKey> toRemove = new ArrayList<>();
    for (PublicKey k : before.keySet()) {
      if (!peers.containsKey(k) || removed.contains(k)) {
        toRemove.add(k);
      }
    }
    List<ChangeSet.Upsert> upserts = new ArrayList<>();
    Map<Prefix, PublicKey> owner = new LinkedHashMap<>();
    for (Draft d : peers.values()) {
      PeerConfig old = removed.contains(d.key) ? null : before.get(d.key);
      PeerConfig base = d.base != null && old != null ? d.base : new PeerConfig(null, d.key, null, null, List.of(), 0);
      PeerConfig next;
      try {
        next = base.withPresharedKey(d.psk).withPersistentKeepalive(d.keepalive)
            .withAllowedIps(List.copyOf(d.allowed))
            .withEndpoint(old != null && !d.endpointSet ? base.endpoint() : d.endpoint);
      } catch (IllegalArgumentException e) {
        throw fail(UapiErrno.INVALID, "peer " + d.key + ": " + e.getMessage());
      }
      if (!next.roaming()) {
        for (Prefix p : next.allowedIps()) {
          PublicKey other = owner.putIfAbsent(p, d.key);
          if (other != null) {
            // wireguard-go moves the prefix to the later peer; dctun refuses (RouteConflictException)
            throw fail(UapiErrno.INVALID, "allowed_ip " + p + " would route to two peers, " + other + " and " + d.key
                + " (remove it from one first)");
          }
        }
      }
      if (old == null || !same(old, next)) {
        upserts.add(new ChangeSet.Upsert(old, next, old != null && d.endpointSet ? d.endpoint : null));
      } else if (d.endpointSet && d.endpoint != null) {
        upserts.add(new ChangeSet.Upsert(old, next, d.endpoint)); // same configuration, endpoint set anew
      }
    }
    int port = listenPort >= 0 && listenPort != socket.listenPort() ? listenPort : -1;
    long mark = fwmark >= 0 && fwmark != socket.fwmark() ? fwmark : -1;
    return new ChangeSet(port, mark, toRemove, upserts, List.copyOf(summary));
  }

  private static boolean same(PeerConfig a, PeerConfig b) {
    return a.presharedKey().toBase64().equals(b.presharedKey().toBase64())
        && java.util.Objects.equals(a.endpoint(), b.endpoint())
        && a.persistentKeepaliveSeconds() == b.persistentKeepaliveSeconds()
        && a.allowedIps().equals(b.allowedIps());
  }

  private void deviceLine(String key, String value) throws UapiException {
    switch (key) {
      case "private_key": {
        byte[] k = UapiText.key(value);
        if (k == null) {
          throw fail(UapiErrno.INVALID, "failed to set private_key: not 64 hex digits");
        }
        // Compared through the base64 form: PrivateKey has no equals, and clamping is the same.
        boolean zero = true;
        for (byte b : k) {
          zero &= b == 0;
        }
        if (zero || !PrivateKey.of(k).toBase64().equals(privateKey.toBase64())) {
          throw fail(UapiErrno.INVALID, "private_key: changing the private key while running is not supported; change the key file and restart");
        }
        java.util.Arrays.fill(k, (byte) 0);
        return;
      }
      case "listen_port": {
        long p = UapiText.unsigned(value, 65535);
        if (p < 0) {
          throw fail(UapiErrno.INVALID, "failed to parse listen_port " + quoted(value));
        }
        listenPort = (int) p;
        return;
      }
      case "fwmark": {
        long m = UapiText.unsigned(value, 0xFFFF_FFFFL);
        if (m < 0) {
          throw fail(UapiErrno.INVALID, "invalid fwmark " + quoted(value));
        }
        fwmark = m;
        return;
      }
      case "replace_peers":
        if (!value.equals("true")) {
          throw fail(UapiErrno.INVALID, "failed to set replace_peers, invalid value " + quoted(value));
        }
        removed.addAll(peers.keySet());
        peers.clear();
        summary.add("replace_peers");
        return;
      default:
        throw fail(UapiErrno.INVALID, "invalid UAPI device key " + quoted(key));
    }
  }

  private void publicKey(String value) throws UapiException {
    byte[] k = UapiText.key(value);
    if (k == null) {
      throw fail(UapiErrno.INVALID, "failed to get peer by public key: not 64 hex digits");
    }
    PublicKey key = PublicKey.of(k);
    if (key.isLowOrder()) {
      // wireguard-go takes such a peer and can never reach it; a device here refuses it, and
      // so does this request, before anything of it is applied. The key is not repeated.
      throw fail(UapiErrno.INVALID, "failed to set public key: it is a low-order point of Curve25519 (fingerprint "
          + key.fingerprint() + "), with which X25519 gives no shared secret");
    }
    dummy = key.equals(privateKey.publicKey());
    created = false;
    if (dummy) {
      current = new Draft(key, null);
      return;
    }
    current = peers.get(key);
    if (current == null) {
      current = new Draft(key, null);
      peers.put(key, current);
      created = true;
    }
  }

  private void peerLine(String key, String value) throws UapiException {
    switch (key) {
      case "update_only":
        if (!value.equals("true")) {
          throw fail(UapiErrno.INVALID, "failed to set update only, invalid value " + quoted(value));
        }
        if (created && !dummy) {
          peers.remove(current.key);
          becomeDummy();
        }
        return;
      case "remove":
        if (!value.equals("true")) {
          throw fail(UapiErrno.INVALID, "failed to set remove, invalid value " + quoted(value));
        }
        if (!dummy) {
          peers.remove(current.key);
          removed.add(current.key);
        }
        becomeDummy();
        return;
      case "preshared_key": {
        byte[] k = UapiText.key(value);
        if (k == null) {
          throw fail(UapiErrno.INVALID, "failed to set preshared key: not 64 hex digits"); // never the value
        }
        current.psk = PresharedKey.fromBase64(Base64.getEncoder().encodeToString(k));
        java.util.Arrays.fill(k, (byte) 0);
        return;
      }
      case "endpoint": {
        Endpoint ep = UapiText.endpoint(value);
        if (ep == null) {
          throw fail(UapiErrno.INVALID, "failed to set endpoint " + quoted(value) + " (an IP address and port)");
        }
        current.endpoint = ep;
        current.endpointSet = true;
        return;
      }
      case "persistent_keepalive_interval": {
        long s = UapiText.unsigned(value, 65535);
        if (s < 0) {
          throw fail(UapiErrno.INVALID, "failed to set persistent keepalive interval " + quoted(value));
        }
        current.keepalive = (int) s;
        return;
      }
      case "replace_allowed_ips":
        if (!value.equals("true")) {
          throw fail(UapiErrno.INVALID, "failed to replace allowedips, invalid value " + quoted(value));
        }
        if (!dummy) {
          current.allowed.clear();
        }
        return;
      case "allowed_ip": {
        boolean add = !value.startsWith("-");
        Prefix p = UapiText.prefix(add ? value : value.substring(1));
        if (p == null) {
          throw fail(UapiErrno.INVALID, "failed to set allowed ip " + quoted(value));
        }
        if (dummy) {
          return;
        }
        if (add) {
          current.allowed.add(p);
        } else {
          current.allowed.remove(p);
        }
        return;
      }
      case "protocol_version":
        if (!value.equals("1")) {
          throw fail(UapiErrno.INVALID, "invalid protocol version " + quoted(value));
        }
        return;
      default:
        throw fail(UapiErrno.INVALID, "invalid UAPI peer key " + quoted(key));
    }
  }

  private void becomeDummy() {
    current = new Draft(current.key, null);
    dummy = true;
  }

  private UapiException fail(int errno, String message) {
    return new UapiException(errno, "line " + lineNumber + ": " + message);
  }

  /** A value for a message: quoted, cut short, control characters escaped (it came from anyone). */
  static String quoted(String s) {
    StringBuilder sb = new StringBuilder("'");
    for (int i = 0; i < s.length() && i < 80; i++) {
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return sb.append(s.length() > 80 ? "...'" : "'").toString();
  }
}
