package io.dctun.appliance;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.appliance.config.ConfigError;
import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.FirewallConfig;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.session.Device;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.Reason;
import io.dctun.firewall.RuleSet;
import io.dctun.firewall.RuleStats;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The firewall of one running {@link Gateway}: builds it from the configuration's {@code
 * firewall:} section and installs it on the {@link Device}, expires idle flows once a second,
 * reloads the rules from the configuration file on SIGHUP (a file with any error is refused whole
 * and the running rules stay), and adds its counters to the gateway's status.
 *
 * <p>Without a {@code firewall:} section there is no firewall: the device accepts every packet,
 * as before the firewall existed, and a warning says so at startup.
 *
 * <p>Thread-safety: {@link #reload} is synchronized; status reads counters only.
 */
public final class GatewayFirewall implements AutoCloseable, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayFirewall.class);
  /** Every open firewall of this process, for the SIGHUP handler. */
  private static final Set<GatewayFirewall> OPEN = new CopyOnWriteArraySet<>();
  private static boolean signalInstalled;

  private final String ifName;
  private final Firewall firewall; // null: no firewall section
  private final FirewallConfig initial;
  private volatile FirewallConfig current;
  private final AtomicLong reloads = new AtomicLong();
  private final AtomicLong reloadFailures = new AtomicLong();
  private final AtomicLong expired = new AtomicLong();
  private volatile String lastReloadError = "none";
  private static final long EXPIRY_INTERVAL_NANOS = 1_000_000_000L;
  private long lastExpiry = Long.MIN_VALUE;
  /** What SIGHUP does: this firewall's rules only, or (a gateway started from a file) the whole file. */
  private volatile java.util.function.BooleanSupplier onSighup = this::reload;

  private GatewayFirewall(GatewayConfig cfg, Device device) {
    this.ifName = cfg.interfaceName();
    this.initial = cfg.firewall().orElse(null);
    this.current = initial;
    if (initial == null) {
      LOG.warn("{}: no firewall section in the configuration: every packet is accepted in both directions "
          + "(add 'firewall:' for default deny)", ifName);
      firewall = null;
      return;
    }
    firewall = new Firewall(initial.ruleSet(), initial.options());
    device.setFilter(firewall);
    LOG.info("{}: firewall on, default deny, {} rule(s) from {} (max {} flows, {} per peer)", ifName,
        initial.ruleSet().size(), initial.where(null), initial.options().maxFlows(),
        firewall.maxFlowsPerPeer());
  }

  /** Builds and installs the firewall of {@code cfg} on {@code device} (none without a section). */
  public static GatewayFirewall attach(GatewayConfig cfg, Device device) {
    GatewayFirewall g = new GatewayFirewall(cfg, device);
    // Also without a firewall: with no handler, the JVM's default for SIGHUP ends the process.
    OPEN.add(g);
    installSignal();
    return g;
  }

  /**
   * SIGHUP reloads the rules of every open firewall (a gateway without one logs that there is
   * nothing to reload); once per process, where the JVM allows it. {@code -Ddctun.noSighup=true}
   * leaves SIGHUP alone (an embedder with a handler of its own).
   */
  private static synchronized void installSignal() {
    if (signalInstalled || Boolean.getBoolean("dctun.noSighup")) {
      return;
    }
    try {
      // Under nohup SIGHUP arrives ignored, and the JVM would then never call our handler.
      io.dctun.tun.Signals.restoreDefault(io.dctun.tun.Signals.SIGHUP);
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> {
        if (OPEN.isEmpty()) {
          LOG.info("SIGHUP: no gateway is running; nothing to reload");
        }
        for (GatewayFirewall g : OPEN) {
          g.onSighup.getAsBoolean();
        }
      });
      signalInstalled = true;
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      LOG.warn("cannot handle SIGHUP ({}): firewall rules reload only on restart", e.getMessage());
    }
  }

  /**
   * Expires idle flows, at most once a second; driven by the engine's tick ({@link
   * io.dctun.core.engine.Engine#everyTick}) rather than a timer thread of its own.
   */
  public void tick(long now) {
    if (firewall == null || (lastExpiry != Long.MIN_VALUE && now - lastExpiry < EXPIRY_INTERVAL_NANOS)) {
      return;
    }
    lastExpiry = now;
    try {
      expired.addAndGet(firewall.expire(now));
    } catch (RuntimeException e) {
      LOG.warn("{}: firewall expiry failed: {}", ifName, e.toString());
    }
  }

  /** SIGHUP runs {@code reload} instead of reloading the rules alone (the gateway's whole-file reload). */
  void onSighup(java.util.function.BooleanSupplier reload) {
    onSighup = reload;
  }

  /** The running firewall, or null when the configuration has no firewall section. */
  public Firewall firewall() {
    return firewall;
  }

  /**
   * Reads the configuration file again and installs its rules. Any error in the file (the
   * firewall section or any other) refuses the new rules whole; the running ones stay.
   *
   * @return true if the new rules were installed
   */
  public synchronized boolean reload() {
    if (firewall == null) {
      LOG.warn("{}: SIGHUP: nothing to reload: this gateway runs without a firewall section (restart to add "
          + "one); it keeps running", ifName);
      return false;
    }
    GatewayConfig next;
    try {
      next = ConfigLoader.load(initial.file());
    } catch (ConfigException e) {
      StringBuilder why = new StringBuilder();
      for (ConfigError err : e.errors()) {
        why.append("\n  ").append(err);
      }
      return refuse(e.errors().size() + " error(s) in the configuration:" + why,
          e.errors().get(0).toString());
    } catch (RuntimeException e) {
      return refuse(e.toString(), e.toString());
    }
    if (next.firewall().isEmpty()) {
      return refuse(initial.file() + ": the firewall section is gone; running without a firewall needs a "
          + "restart", initial.file() + ": firewall section removed");
    }
    install(next);
    return true;
  }

  /**
   * Installs the rules of {@code next}, a whole configuration already loaded and checked (a
   * gateway's reload); does nothing without a firewall here or there.
   */
  synchronized void install(GatewayConfig next) {
    if (firewall == null || next.firewall().isEmpty()) {
      return;
    }
    FirewallConfig fc = next.firewall().get();
    if (fc.options().maxFlows() != current.options().maxFlows()) {
      LOG.warn("{}: firewall reload: max-flows {} applies only after a restart (the table keeps {})",
          ifName, fc.options().maxFlows(), firewall.maxFlows());
    }
    RuleSet rs = fc.ruleSet();
    if (fc.options().maxFlowsPerPeer() != current.options().maxFlowsPerPeer()) {
      firewall.setMaxFlowsPerPeer(fc.options().maxFlowsPerPeer());
      LOG.info("{}: firewall reload: max-flows-per-peer now {} (flows already held stay)", ifName,
          firewall.maxFlowsPerPeer());
    }
    firewall.install(rs);
    current = fc;
    reloads.incrementAndGet();
    lastReloadError = "none";
    LOG.info("{}: firewall rules reloaded from {}: version {}, {} rule(s); tracked flows are re-checked "
        + "on their next packet", ifName, fc.file(), firewall.rulesVersion(), rs.size());
  }

  /**
   * The gateway refused a reload of its whole file (logged there): the rules were not reloaded
   * either, which this firewall's counters say too.
   */
  void reloadRefused(String shortWhy) {
    if (firewall != null) {
      reloadFailures.incrementAndGet();
      lastReloadError = shortWhy.replace('\n', ' ');
    }
  }

  private boolean refuse(String why, String shortWhy) {
    reloadFailures.incrementAndGet();
    lastReloadError = shortWhy.replace('\n', ' ');
    LOG.error("{}: firewall reload refused, keeping rules version {}: {}", ifName, firewall.rulesVersion(), why);
    return false;
  }

  /** The firewall's state under {@code firewall.}: on/off, the reload history, then the library's own report. */
  @Override
  public void report(StatusSink sink) {
    if (firewall == null) {
      sink.text("firewall", "off");
      return;
    }
    sink.text("firewall", "on");
    StatusSink s = sink.section("firewall");
    s.counter("reloads", reloads.get());
    s.counter("reload-failures", reloadFailures.get());
    s.text("last-reload-error", lastReloadError);
    s.counter("expired-flows", expired.get());
    firewall.report(s);
  }

  @Override
  public void close() {
    OPEN.remove(this);
  }
}
