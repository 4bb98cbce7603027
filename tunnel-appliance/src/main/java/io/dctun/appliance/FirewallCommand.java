package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.FirewallConfig;
import io.dctun.appliance.config.FirewallSection;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.Clock;
import io.dctun.firewall.Direction;
import io.dctun.firewall.Explanation;
import io.dctun.firewall.Firewall;
import io.dctun.firewall.RuleStats;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code dctun firewall ...}: the firewall of a configuration, without running the gateway. */
@Command(name = "firewall", description = "Inspect a configuration's firewall without running the gateway.",
    subcommands = {FirewallCommand.Explain.class, FirewallCommand.Rules.class})
final class FirewallCommand implements Runnable {
  @ParentCommand Main main;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (explain, rules)");
  }

  /**
   * {@code dctun firewall explain -c FILE --from PEER --proto tcp --src A --dst B --dport 5432}:
   * the verdict for the first packet of such a connection, and the rule that decided it.
   */
  @Command(name = "explain", description = {
      "What the firewall of FILE would do with the first packet of a connection, and which rule decides it.",
      "Exit 0 whatever the verdict; 1 for configuration errors; 2 for a bad packet description."})
  static final class Explain implements Callable<Integer> {
    @ParentCommand FirewallCommand parent;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "the YAML configuration")
    Path config;

    @Option(names = {"--from", "--peer", "--to"}, paramLabel = "PEER",
        description = "the peer (name or public key) the packet comes from (in) or goes to (out)")
    String peer;

    @Option(names = "--direction", defaultValue = "in", paramLabel = "in|out",
        description = "in = from the tunnel to the local network (default), out = into the tunnel")
    String direction;

    @Option(names = "--proto", defaultValue = "tcp", description = "tcp, udp, icmp, icmpv6 or a number (default tcp)")
    String proto;

    @Option(names = "--src", required = true, paramLabel = "ADDR", description = "source address")
    String src;

    @Option(names = "--dst", required = true, paramLabel = "ADDR", description = "destination address")
    String dst;

    @Option(names = "--sport", defaultValue = "40000", paramLabel = "N", description = "source port (default 40000)")
    int sport;

    @Option(names = "--dport", defaultValue = "0", paramLabel = "N", description = "destination port")
    int dport;

    @Option(names = "--icmp-type", paramLabel = "N", description = "ICMP type (default echo request)")
    Integer icmpType;

    @Option(names = "--icmp-code", defaultValue = "0", paramLabel = "N", description = "ICMP code")
    int icmpCode;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Direction dir;
      try {
        dir = FirewallSection.direction(direction);
      } catch (IllegalArgumentException e) {
        err.println("dctun firewall explain: --direction " + e.getMessage());
        err.flush();
        return Main.EXIT_USAGE;
      }
      GatewayConfig cfg;
      try {
        cfg = ConfigLoader.load(parent.main.resolve(config));
      } catch (ConfigException e) {
        CheckCommand.printErrors(err, e);
        return Main.EXIT_CONFIG;
      }
      String packet = describe();
      if (cfg.firewall().isEmpty()) {
        out.println("ACCEPT: " + config + " has no firewall section, so every packet passes (" + packet + ")");
        out.flush();
        return Main.EXIT_OK;
      }
      FirewallConfig fc = cfg.firewall().get();
      Firewall fw = new Firewall(fc.ruleSet(), fc.options().withMaxFlows(1024));
      Explanation x;
      try {
        x = fw.explain(dir, peer, packet, Clock.SYSTEM.nanoTime());
      } catch (IllegalArgumentException e) {
        err.println("dctun firewall explain: " + e.getMessage());
        err.flush();
        return Main.EXIT_USAGE;
      }
      out.println(x.action() + "  " + packet + "  " + (dir == Direction.INBOUND ? "from" : "to") + " peer "
          + (peer == null ? "(any)" : peer) + ", direction " + (dir == Direction.INBOUND ? "in" : "out"));
      if (x.rule() != null) {
        out.println("  rule '" + x.rule() + "' (#" + x.ruleIndex() + ", " + fc.where(x.rule()) + ") decides: "
            + x.reason() + ", state " + x.state());
      } else {
        out.println("  no rule matches: default deny (" + x.reason() + ", state " + x.state() + ")");
      }
      out.println("  steps (the data path's own decision, run dry):");
      for (String step : x.steps()) {
        out.println("    " + step);
      }
      out.flush();
      return Main.EXIT_OK;
    }

    private String describe() {
      String p = proto.toLowerCase(Locale.ROOT);
      String s = src.contains(":") ? "[" + src + "]" : src;
      String d = dst.contains(":") ? "[" + dst + "]" : dst;
      return switch (p) {
        case "tcp", "udp" -> p + " " + s + ":" + sport + " -> " + d + ":" + dport;
        case "icmp", "icmpv6" -> p + " " + src + " -> " + dst
            + (icmpType != null ? " type " + icmpType + " code " + icmpCode : "");
        default -> "proto " + p + " " + src + " -> " + dst;
      };
    }
  }

  /** {@code dctun firewall rules -c FILE}: the compiled rules in first-match order. */
  @Command(name = "rules", description = "List the rules of FILE's firewall in first-match order, with their lines.")
  static final class Rules implements Callable<Integer> {
    @ParentCommand FirewallCommand parent;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "the YAML configuration")
    Path config;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      GatewayConfig cfg;
      try {
        cfg = ConfigLoader.load(parent.main.resolve(config));
      } catch (ConfigException e) {
        CheckCommand.printErrors(spec.commandLine().getErr(), e);
        return Main.EXIT_CONFIG;
      }
      if (cfg.firewall().isEmpty()) {
        out.println("no firewall section: every packet is accepted");
      } else {
        FirewallConfig fc = cfg.firewall().get();
        int i = 0;
        for (RuleStats s : fc.ruleSet().stats()) {
          out.println("#" + i++ + " " + s.rule() + "  " + fc.where(s.rule()));
        }
        out.println("(anything else: dropped)");
      }
      out.flush();
      return Main.EXIT_OK;
    }
  }
}
