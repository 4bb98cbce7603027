package io.dctun.appliance.metrics;

import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.status.StatusSource;
import io.dctun.core.transport.Endpoint;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * Prometheus {@code /metrics} for a running gateway, through the Prometheus Java client (its
 * registry, snapshot model, text exposition and JDK-based HTTP server): nothing of the
 * exposition format is written here.
 *
 * <p>Two kinds of families, both read from the modules at scrape time, so the packet path pays
 * nothing:
 *
 * <ul>
 *   <li>per peer, under the names the two common WireGuard exporters use, so existing
 *       dashboards work unchanged: mdlayher/wireguard_exporter's {@code wireguard_device_info},
 *       {@code wireguard_peer_info}, {@code wireguard_peer_receive_bytes_total}, {@code
 *       wireguard_peer_transmit_bytes_total}, {@code wireguard_peer_last_handshake_seconds}
 *       (labels {@code device}, {@code public_key}), and MindFlavor/prometheus_wireguard_exporter's
 *       {@code wireguard_sent_bytes_total}, {@code wireguard_received_bytes_total}, {@code
 *       wireguard_latest_handshake_seconds} (labels {@code interface}, {@code public_key},
 *       {@code allowed_ips}, {@code friendly_name});
 *   <li>everything the modules report through {@link StatusSource} (drops by reason, firewall
 *       rule hits and connection-table fill, VRRP states and events, learned routes), named by
 *       {@link StatusSnapshot}'s rule under {@code dctun_}.
 * </ul>
 *
 * <p>Off unless configured; the address is the operator's choice (a loopback or management
 * address: the page names peers and their endpoints, though never a key other than public ones).
 */
public final class MetricsEndpoint implements AutoCloseable {
  private final HTTPServer server;

  private MetricsEndpoint(HTTPServer server) {
    this.server = server;
  }

  /**
   * Serves {@code /metrics} on {@code listen}.
   *
   * @param sources the modules' reports, asked again at every scrape (a supplier, so that modules
   *     started later, or replaced by a reload, are seen)
   */
  public static MetricsEndpoint start(InetSocketAddress listen, String ifname, Device device,
      Supplier<List<StatusSource>> sources) throws IOException {
    PrometheusRegistry registry = new PrometheusRegistry();
    registry.register(collector(ifname, device, sources));
    HTTPServer server = HTTPServer.builder().inetAddress(listen.getAddress()).port(listen.getPort())
        .registry(registry).buildAndStart();
    return new MetricsEndpoint(server);
  }

  /** The collector behind {@link #start}, usable with any registry (for embedding programs). */
  public static MultiCollector collector(String ifname, Device device, Supplier<List<StatusSource>> sources) {
    return () -> {
      List<MetricSnapshot> all = new ArrayList<>(wireguard(ifname, device));
      StatusSnapshot s = new StatusSnapshot();
      for (StatusSource src : sources.get()) {
        src.report(s);
      }
      all.addAll(s.snapshots());
      return new MetricSnapshots(all);
    };
  }

  /** The port actually bound (useful with port 0). */
  public int port() {
    return server.getPort();
  }

  static List<MetricSnapshot> wireguard(String ifname, Device device) {
    List<Labels> md = new ArrayList<>();
    List<Labels> mdInfo = new ArrayList<>();
    List<Labels> mf = new ArrayList<>();
    List<Double> rx = new ArrayList<>();
    List<Double> tx = new ArrayList<>();
    List<Double> hs = new ArrayList<>();
    for (Peer p : device.peers()) {
      String key = p.publicKey().toBase64();
      StringJoiner ips = new StringJoiner(",");
      for (Prefix a : p.config().allowedIps()) {
        ips.add(a.toString());
      }
      Endpoint ep = p.endpoint();
      md.add(Labels.of("device", ifname, "public_key", key));
      mdInfo.add(Labels.of("allowed_ips", ips.toString(), "device", ifname, "endpoint",
          ep == null ? "" : ep.toString(), "name", p.name(), "public_key", key));
      mf.add(Labels.of("allowed_ips", ips.toString(), "friendly_name", p.name(), "interface", ifname,
          "public_key", key));
      rx.add((double) p.rxBytes());
      tx.add((double) p.txBytes());
      long wall = p.lastHandshakeWallNanos();
      hs.add(wall <= 0 ? 0 : wall / 1e9);
    }
    List<MetricSnapshot> out = new ArrayList<>();
    out.add(StatusSnapshot.snapshot("wireguard_device", StatusSnapshot.Kind.INFO,
        List.of(Labels.of("device", ifname, "public_key", device.publicKey().toBase64())), List.of(1.0)));
    out.add(StatusSnapshot.snapshot("wireguard_peer", StatusSnapshot.Kind.INFO, mdInfo,
        java.util.Collections.nCopies(mdInfo.size(), 1.0)));
    out.add(StatusSnapshot.snapshot("wireguard_peer_receive_bytes", StatusSnapshot.Kind.COUNTER, md, rx));
    out.add(StatusSnapshot.snapshot("wireguard_peer_transmit_bytes", StatusSnapshot.Kind.COUNTER, md, tx));
    out.add(StatusSnapshot.snapshot("wireguard_peer_last_handshake_seconds", StatusSnapshot.Kind.GAUGE, md, hs));
    out.add(StatusSnapshot.snapshot("wireguard_sent_bytes", StatusSnapshot.Kind.COUNTER, mf, tx));
    out.add(StatusSnapshot.snapshot("wireguard_received_bytes", StatusSnapshot.Kind.COUNTER, mf, rx));
    out.add(StatusSnapshot.snapshot("wireguard_latest_handshake_seconds", StatusSnapshot.Kind.GAUGE, mf, hs));
    return out;
  }

  @Override
  public void close() {
    server.close();
  }
}
