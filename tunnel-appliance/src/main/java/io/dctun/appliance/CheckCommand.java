package io.dctun.appliance;

import io.dctun.appliance.config.ConfigError;
import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.InterfaceAddress;
import io.dctun.appliance.config.PeerConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code dctun check -c FILE}: validates a configuration and summarises it. */
@Command(name = "check", description = "Check a gateway configuration and print a summary, or every error in it.")
final class CheckCommand implements Callable<Integer> {
  @ParentCommand Main main;

  @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "the YAML configuration")
  Path config;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    GatewayConfig cfg;
    try {
      cfg = ConfigLoader.load(main.resolve(config));
    } catch (ConfigException e) {
      printErrors(spec.commandLine().getErr(), e);
      return Main.EXIT_CONFIG;
    }
    out.println(config + ": OK");
    out.print(summary(cfg));
    out.flush();
    return Main.EXIT_OK;
  }

  static void printErrors(PrintWriter err, ConfigException e) {
    for (ConfigError error : e.errors()) {
      err.println(error);
    }
    err.println(e.errors().size() + (e.errors().size() == 1 ? " error" : " errors"));
    err.flush();
  }

  static String summary(GatewayConfig cfg) {
    StringBuilder s = new StringBuilder();
    s.append("  interface ").append(cfg.interfaceName()).append(", mtu ").append(cfg.mtu())
        .append(", public key ").append(cfg.publicKey()).append('\n');
    s.append("  ").append(cfg.listenPort().isPresent()
        ? "listens on " + cfg.listenAddress().map(InterfaceAddress::format).map(a -> a.contains(":") ? "[" + a + "]" : a).orElse("*")
            + ":" + cfg.listenPort().getAsInt()
        : "dials out only (no listen-port)").append('\n');
    s.append("  addresses: ").append(cfg.addresses().isEmpty() ? "none"
        : cfg.addresses().stream().map(Object::toString).collect(Collectors.joining(", "))).append('\n');
    s.append("  ").append(cfg.peers().size()).append(cfg.peers().size() == 1 ? " peer" : " peers").append('\n');
    for (PeerConfig p : cfg.peers()) {
      s.append("    ").append(p.label());
      if (p.name().isPresent()) s.append(" (").append(p.publicKey()).append(')');
      s.append(": endpoint ").append(p.endpoint().map(Object::toString).orElse("none (dials in)"));
      s.append(", allowed-ips ").append(p.allowedIps().isEmpty() ? "none"
          : p.allowedIps().stream().map(Object::toString).collect(Collectors.joining(", ")));
      if (p.persistentKeepalive() > 0) s.append(", keepalive ").append(p.persistentKeepalive()).append('s');
      if (p.presharedKeyFile().isPresent()) s.append(", preshared key");
      if (p.role() != PeerConfig.Role.SITE) s.append(", role ").append(p.role().text());
      if (!p.groups().isEmpty()) s.append(", groups ").append(String.join(", ", p.groups()));
      s.append('\n');
    }
    for (io.dctun.appliance.config.StaticRoute r : cfg.routes()) {
      s.append("  route ").append(r.prefix()).append(" via ").append(r.via()).append('\n');
    }
    cfg.mesh().ifPresent(m -> s.append("  mesh: ").append(m.mode().name().toLowerCase(java.util.Locale.ROOT))
        .append(", lease ").append(m.leaseMillis()).append(" ms, ")
        .append(cfg.peers().stream().filter(p -> p.role() == PeerConfig.Role.GATEWAY).count()).append(" gateway(s), ")
        .append(cfg.peers().stream().filter(p -> p.role() == PeerConfig.Role.HOST).count()).append(" host(s)")
        .append(m.mode() == io.dctun.appliance.config.MeshConfig.Mode.ETCD ? etcd(m) : "").append('\n'));
    s.append("  ").append(cfg.firewall().map(f -> "firewall: default deny, " + f.ruleSet().size() + " rule(s), "
        + f.groups().size() + " group(s), max " + f.options().maxFlows() + " flows, "
        + f.options().perPeerLimit(f.ruleSet().peerCount()) + " per peer").orElse("WARNING: no firewall section: every packet is accepted in both "
        + "directions (add 'firewall:' for default deny)")).append('\n');
    // What the class path (the launcher's modules directory) gave, so an operator sees a module arrive.
    s.append("  rule modules: ").append(String.join(", ",
        new java.util.TreeSet<>(io.dctun.firewall.RuleSet.Builder.discoverModules().keySet()))).append('\n');
    io.dctun.ha.PairConfig ha = cfg.ha().map(io.dctun.appliance.config.HaSection::pair).orElse(null);
    if (ha != null) {
      s.append("  ha: priority ").append(ha.priority()).append(", advert every ").append(ha.advertIntervalMillis())
          .append(" ms, preempt ").append(ha.preempt() ? "on" : "off");
      if (!ha.preemptDelay().isZero()) {
        s.append(" after ").append(ha.preemptDelay().toMillis()).append(" ms");
      }
      s.append('\n');
      for (io.dctun.ha.VrrpConfig v : ha.syncGroup()) {
        s.append("    ").append(v.name()).append(": vrid ").append(v.vrid()).append(", ")
            .append(v.vips().get(0)).append(" on ").append(v.interfaceName()).append(", ")
            .append(v.unicastPeers().isEmpty() ? (v.family() == 4 ? "multicast 224.0.0.18" : "multicast ff02::12")
                : "unicast to " + v.unicastPeers().stream().map(java.net.InetAddress::getHostAddress)
                    .collect(Collectors.joining(", "))).append('\n');
      }
      if (ha.handshakeWithinSeconds() > 0) {
        s.append("    track: no handshake with any peer for ").append(ha.handshakeWithinSeconds())
            .append(" s as master -> priority - ").append(ha.handshakeWeight()).append('\n');
      }
      if (!ha.trackInterfaces().isEmpty()) {
        s.append("    track: ").append(String.join(", ", ha.trackInterfaces())).append(" down -> FAULT\n");
      }
      s.append("    state sync: ").append(ha.stateSync() == null
          ? "none (a backup takes over without the master's connection state; peer-handshake tracking "
              + "cannot hear the other box)"
          : ha.stateSync().local() + " -> " + ha.stateSync().peer() + ", " + ha.stateSync().bytesPerSecond()
              + " bytes/s").append('\n');
    }
    return s.toString();
  }

  /** How dctun reaches etcd: endpoints, TLS, client certificate, user (names and paths, no secret). */
  private static String etcd(io.dctun.appliance.config.MeshConfig m) {
    io.dctun.core.mesh.etcd.EtcdSecurity sec = m.etcdSecurity();
    boolean tls = m.etcdEndpoints().get(0).getScheme().equals("https");
    return "; etcd: " + m.etcdEndpoints().size() + " endpoint(s), " + (tls ? "TLS (trust: "
        + (sec.caFile() != null ? sec.caFile() : "the JDK's trust store") + ")" : "plain http")
        + (sec.certFile() != null ? ", client certificate " + sec.certFile() : "")
        + (sec.user() != null ? ", user " + sec.user() : ", no etcd user");
  }
}
