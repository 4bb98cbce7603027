package io.dctun.appliance.metrics;

import io.dctun.core.status.StatusSink;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A {@link StatusSink} that turns one scrape's worth of module reports into Prometheus metric
 * families, by one rule for every module so that a counter a module adds is exported without
 * code here:
 *
 * <ul>
 *   <li>the name is {@code dctun_} and the sections joined by {@code _}, dashes becoming
 *       underscores ({@code firewall.expired-flows} -> {@code dctun_firewall_expired_flows});
 *   <li>a {@link #scope(String, String) scope} becomes a label ({@code peer.siteB.rx-bytes} ->
 *       {@code dctun_peer_rx_bytes_total{peer="siteB"}});
 *   <li>a counter whose own name is an enum constant ({@code NO_ROUTE}, {@code BAD_MAC}) becomes a
 *       {@code reason} label on its section ({@code drop.NO_ROUTE} -> {@code
 *       dctun_drop_total{reason="NO_ROUTE"}}): one family per kind of drop, as dashboards want;
 *   <li>a text value becomes an info metric {@code <name>_info{value="..."} 1} when it is a state (a short word
 *       such as MASTER or sending), and is left out otherwise (endpoints, error messages: text a
 *       metric label should not carry).
 * </ul>
 *
 * <p>Thread-safety: one instance per scrape, confined to the scraping thread.
 */
final class StatusSnapshot implements StatusSink {
  private static final Pattern ENUM_CONSTANT = Pattern.compile("[A-Z][A-Z0-9_]*");
  private static final Pattern STATE_WORD = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,31}");

  /** Families by name, each a type and its points, in first-reported order. */
  private final Map<String, Family> families;
  private final String prefix;
  private final Map<String, String> labels;

  StatusSnapshot() {
    this(new LinkedHashMap<>(), "dctun", Map.of());
  }

  private StatusSnapshot(Map<String, Family> families, String prefix, Map<String, String> labels) {
    this.families = families;
    this.prefix = prefix;
    this.labels = labels;
  }

  enum Kind { COUNTER, GAUGE, INFO }

  private static final class Family {
    final Kind kind;
    final List<Labels> labels = new ArrayList<>();
    final List<Double> values = new ArrayList<>();

    Family(Kind kind) {
      this.kind = kind;
    }
  }

  static String metricName(String s) {
    String n = s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    return n.isEmpty() || Character.isDigit(n.charAt(0)) ? "_" + n : n;
  }

  private String join(String name) {
    return prefix + "_" + metricName(name);
  }

  private void point(String name, Kind kind, Map<String, String> extra, double value) {
    Family f = families.computeIfAbsent(name, k -> new Family(kind));
    if (f.kind != kind) {
      return; // the same name reported as both kinds: keep the first, never fail a scrape
    }
    Labels.Builder b = Labels.builder();
    for (Map.Entry<String, String> e : labels.entrySet()) {
      b.label(e.getKey(), e.getValue());
    }
    for (Map.Entry<String, String> e : extra.entrySet()) {
      b.label(e.getKey(), e.getValue());
    }
    Labels l = b.build();
    if (f.labels.contains(l)) {
      return; // a duplicate point would make the exposition invalid
    }
    f.labels.add(l);
    f.values.add(value);
  }

  @Override
  public void text(String name, String value) {
    if (value != null && STATE_WORD.matcher(value).matches()) {
      point(join(name), Kind.INFO, Map.of("value", value), 1);
    }
  }

  @Override
  public void counter(String name, long value) {
    if (ENUM_CONSTANT.matcher(name).matches()) {
      point(prefix, Kind.COUNTER, Map.of("reason", name), value);
    } else {
      point(join(name), Kind.COUNTER, Map.of(), value);
    }
  }

  @Override
  public void gauge(String name, long value) {
    point(join(name), Kind.GAUGE, Map.of(), value);
  }

  @Override
  public StatusSink scope(String kind, String id) {
    Map<String, String> l = new LinkedHashMap<>(labels);
    l.put(metricName(kind), id);
    return new StatusSnapshot(families, join(kind), l);
  }

  @Override
  public StatusSink section(String name) {
    return new StatusSnapshot(families, join(name), labels);
  }

  /** The families reported so far, as Prometheus snapshots. */
  List<MetricSnapshot> snapshots() {
    List<MetricSnapshot> out = new ArrayList<>();
    for (Map.Entry<String, Family> e : families.entrySet()) {
      out.add(snapshot(e.getKey(), e.getValue().kind, e.getValue().labels, e.getValue().values));
    }
    return out;
  }

  /** One family: {@code name} without the {@code _total} or {@code _info} the exposition adds. */
  static MetricSnapshot snapshot(String name, Kind kind, List<Labels> labels, List<Double> values) {
    switch (kind) {
      case COUNTER: {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name(name);
        for (int i = 0; i < labels.size(); i++) {
          b.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels.get(i))
              .value(values.get(i)).build());
        }
        return b.build();
      }
      case GAUGE: {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name);
        for (int i = 0; i < labels.size(); i++) {
          b.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels.get(i))
              .value(values.get(i)).build());
        }
        return b.build();
      }
      default: {
        InfoSnapshot.Builder b = InfoSnapshot.builder().name(name);
        for (Labels l : labels) {
          b.dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(l).build());
        }
        return b.build();
      }
    }
  }
}
