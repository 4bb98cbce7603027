package io.dctun.core.uapi;

import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard's cross-platform userspace API (<a href="https://www.wireguard.com/xplatform/">
 * xplatform</a>) for one {@link Device}, as wireguard-go's {@code device/uapi.go} speaks it, so
 * that the stock {@code wg} and what is built on it (wgctrl, Prometheus exporters) drive a running
 * dctun. This class is the operations; {@link UapiConnection} frames them on a byte stream and
 * {@link UapiServer} puts that on {@code /var/run/wireguard/<interface>.sock}.
 *
 * <pre>
 *   get=1\n\n          ->  private_key=&lt;hex&gt;\n listen_port=N\n [fwmark=N\n]
 *                          per peer: public_key= preshared_key= protocol_version=1 [endpoint=]
 *                          last_handshake_time_sec= _nsec= tx_bytes= rx_bytes=
 *                          persistent_keepalive_interval= allowed_ip=...
 *                          errno=0\n\n
 *   set=1\n lines \n   ->  errno=0\n\n | errno=-22\n\n (negative errno, as wireguard-go)
 * </pre>
 *
 * <p>{@code get} returns the private key, as wireguard-go does: the socket is root's, mode 0600.
 * No key ever reaches a log. A {@code set} is checked whole and then applied whole ({@link
 * SetRequest}, {@link ChangeSet}); wireguard-go applies line by line and keeps what came before a
 * bad line. Changes take effect at once: a removed peer's sessions end, allowed IPs route the
 * next packet.
 *
 * <p>Thread-safe: requests are serialised, as wireguard-go's {@code ipcMutex} serialises them.
 */
public final class Uapi implements StatusSource {
  private static final Logger log = LoggerFactory.getLogger(Uapi.class);

  private final Device device;
  private final PrivateKey privateKey;
  private final SocketSettings socket;
  private final AtomicLong gets = new AtomicLong();
  private final AtomicLong sets = new AtomicLong();
  private final AtomicLong changes = new AtomicLong();
  private final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
  private final io.dctun.core.LogLimiter warnLog = new io.dctun.core.LogLimiter(1_000_000_000L); // one line a second
  private final AtomicLong suppressed = new AtomicLong();

  /** @param privateKey the device's own key (the device does not hand it out): {@code get} shows it */
  public Uapi(Device device, PrivateKey privateKey, SocketSettings socket) {
    if (!privateKey.publicKey().equals(device.publicKey())) {
      throw new IllegalArgumentException("the private key is not the device's (public " + device.publicKey() + ")");
    }
    this.device = device;
    this.privateKey = privateKey;
    this.socket = socket;
  }

  public Device device() {
    return device;
  }

  /** The answer to {@code get=1}, without its {@code errno=0} ending. */
  public synchronized String get() {
    gets.incrementAndGet();
    StringBuilder sb = new StringBuilder(256 + 256 * device.peers().size());
    sb.append("private_key=");
    UapiText.appendHex(sb, Base64.getDecoder().decode(privateKey.toBase64()));
    sb.append('\n');
    if (socket.listenPort() != 0) {
      sb.append("listen_port=").append(socket.listenPort()).append('\n');
    }
    if (socket.fwmark() != 0) {
      sb.append("fwmark=").append(socket.fwmark()).append('\n');
    }
    for (Peer p : device.peers()) {
      PeerConfig c = p.config();
      sb.append("public_key=");
      UapiText.appendHex(sb, p.publicKey().toBytes());
      sb.append("\npreshared_key=");
      UapiText.appendHex(sb, Base64.getDecoder().decode(c.presharedKey().toBase64()));
      sb.append("\nprotocol_version=1\n");
      String ep = UapiText.endpointText(p.endpoint());
      if (ep != null) {
        sb.append("endpoint=").append(ep).append('\n');
      }
      long wall = p.lastHandshakeWallNanos();
      sb.append("last_handshake_time_sec=").append(wall / 1_000_000_000L).append('\n');
      sb.append("last_handshake_time_nsec=").append(wall % 1_000_000_000L).append('\n');
      sb.append("tx_bytes=").append(p.txBytes()).append('\n');
      sb.append("rx_bytes=").append(p.rxBytes()).append('\n');
      sb.append("persistent_keepalive_interval=").append(c.persistentKeepaliveSeconds()).append('\n');
      for (Prefix a : c.allowedIps()) {
        sb.append("allowed_ip=").append(a).append('\n');
      }
    }
    return sb.toString();
  }

  /**
   * Carries out a {@code set=1} request: its lines, without newlines and without the blank line
   * that ends it.
   *
   * @return 0, or the negative errno of the refusal (nothing of the request is applied then)
   */
  public int set(List<String> lines) {
    sets.incrementAndGet();
    synchronized (this) {
      synchronized (device) { // Device's configuration methods hold this monitor: no change between snapshot and apply
        try {
          Map<PublicKey, PeerConfig> before = new LinkedHashMap<>();
          for (Peer p : device.peers()) {
            before.put(p.publicKey(), p.config());
          }
          SetRequest r = new SetRequest(privateKey, socket, before);
          for (String l : lines) {
            r.line(l);
          }
          ChangeSet cs = r.finish();
          if (!cs.isEmpty()) {
            cs.applyTo(device, socket);
            changes.incrementAndGet();
            log.info("uapi set: {}", cs.describe());
          }
          return UapiErrno.OK;
        } catch (UapiException e) {
          refused(e.errno(), "uapi set refused (errno " + e.errno() + "): " + e.getMessage());
          return e.errno();
        } catch (RuntimeException e) {
          refused(UapiErrno.UNKNOWN, "uapi set failed (errno " + UapiErrno.UNKNOWN + "): " + e);
          return UapiErrno.UNKNOWN;
        }
      }
    }
  }

  /** Counts a refused request or malformed input under {@code reason} and logs it, at most once a second. */
  void refused(int errno, String message) {
    errors.computeIfAbsent(UapiErrno.name(errno), k -> new AtomicLong()).incrementAndGet();
    warn(message);
  }

  /** Counts a connection-level problem (bad operation, oversize, timeout) by name. */
  void count(String reason, String message) {
    errors.computeIfAbsent(reason, k -> new AtomicLong()).incrementAndGet();
    warn(message);
  }

  private void warn(String message) {
    if (!warnLog.allow()) {
      suppressed.incrementAndGet();
      return;
    }
    long s = suppressed.getAndSet(0);
    log.warn(s == 0 ? message : message + " (" + s + " more since the last such message)");
  }

  /** The count of refusals and malformed input by reason ({@code EINVAL}, {@code bad-operation}, ...). */
  public long errors(String reason) {
    AtomicLong n = errors.get(reason);
    return n == null ? 0 : n.get();
  }

  @Override
  public void report(StatusSink s) {
    s.counter("gets", gets.get());
    s.counter("sets", sets.get());
    s.counter("changes", changes.get());
    for (Map.Entry<String, AtomicLong> e : new java.util.TreeMap<>(errors).entrySet()) {
      s.counter("error." + e.getKey(), e.getValue().get());
    }
  }
}
