package io.dctun.core.uapi;

import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.crypto.PublicKey;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code set=1} request read and checked whole ({@link SetRequest}): what to change on the
 * socket, which peers to remove, and each peer's configuration afterwards. Its final state has no
 * prefix on two peers, so it applies without a {@link io.dctun.core.route.RouteConflictException}
 * in this order, whatever order the request named things in:
 *
 * <pre>
 *   1. listen port, fwmark         (may refuse: then nothing else happens)
 *   2. remove peers                (removed, or replaced by replace_peers / remove then re-added)
 *   3. shrink changed peers        (allowed IPs = old and new: only removals, cannot conflict)
 *   4. add / reconfigure peers     (final allowed IPs: disjoint from every other final set)
 *   5. endpoints named by the request move the live endpoint at once
 * </pre>
 *
 * A prefix can so move from peer A to peer B in one request, as {@code wg syncconf} does when a
 * file moves it. Apply it while holding the device's monitor, so that nothing else reconfigures
 * the device between the snapshot it was read against and its application.
 */
final class ChangeSet {
  /** One peer's configuration after the request; {@code before} null for a new peer. */
  record Upsert(PeerConfig before, PeerConfig after, Endpoint liveEndpoint) {}

  private final int listenPort;
  private final long fwmark;
  private final List<PublicKey> removals;
  private final List<Upsert> upserts;
  private final List<String> summary;

  ChangeSet(int listenPort, long fwmark, List<PublicKey> removals, List<Upsert> upserts, List<String> summary) {
    this.listenPort = listenPort;
    this.fwmark = fwmark;
    this.removals = List.copyOf(removals);
    this.upserts = List.copyOf(upserts);
    this.summary = summary;
  }

  boolean isEmpty() {
    return listenPort < 0 && fwmark < 0 && removals.isEmpty() && upserts.isEmpty();
  }

  List<PublicKey> removals() {
    return removals;
  }

  List<Upsert> upserts() {
    return upserts;
  }

  /** Applies it; a refusal by the socket settings comes first and leaves everything as it was. */
  void applyTo(Device device, SocketSettings socket) throws UapiException {
    if (listenPort >= 0) {
      socket.setListenPort(listenPort);
    }
    if (fwmark >= 0) {
      socket.setFwmark(fwmark);
    }
    try {
      for (PublicKey k : removals) {
        device.removePeer(k);
      }
      for (Upsert u : upserts) {
        if (u.before() != null) {
          List<Prefix> kept = new ArrayList<>(u.before().allowedIps());
          kept.retainAll(u.after().allowedIps());
          if (kept.size() != u.before().allowedIps().size()) {
            device.addPeer(u.before().withAllowedIps(kept));
          }
        }
      }
      for (Upsert u : upserts) {
        device.addPeer(u.after());
        if (u.liveEndpoint() != null) {
          device.setPeerEndpoint(u.after().publicKey(), u.liveEndpoint());
        }
      }
    } catch (RuntimeException e) {
      // Not expected: the final state was checked. Say plainly that part of it may be in force.
      throw new UapiException(UapiErrno.UNKNOWN, "applying failed part way, the device may be partly changed: " + e.getMessage());
    }
  }

  /** What changed, for the log: public keys and prefixes, never a private or preshared key. */
  String describe() {
    StringBuilder sb = new StringBuilder();
    for (String s : summary) {
      sb.append(s).append("; ");
    }
    if (listenPort >= 0) {
      sb.append("listen_port ").append(listenPort).append("; ");
    }
    for (PublicKey k : removals) {
      sb.append("remove ").append(k).append("; ");
    }
    for (Upsert u : upserts) {
      sb.append(u.before() == null ? "add " : "update ").append(u.after().publicKey())
          .append(" allowed ").append(u.after().allowedIps());
      if (u.after().endpoint() != null) {
        sb.append(" endpoint ").append(u.after().endpoint());
      }
      sb.append("; ");
    }
    return sb.length() == 0 ? "no change" : sb.substring(0, sb.length() - 2);
  }
}
