package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.uapi.UapiException;
import io.dctun.core.uapi.UapiServer;
import io.dctun.core.uapi.UapiState;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code dctun status}: the peer table of a running gateway, read from its UAPI socket (what
 * {@code wg show} reads), as text or {@code --json}; with {@code -c} the peers get their names
 * from the file. Prints no key but public ones.
 */
@Command(name = "status", description = "Show a running gateway's peers (from its UAPI socket, as `wg show`) and, with "
    + "--status-file, its HA pair, firewall, routes and drops; as tables or JSON.")
final class StatusCommand implements Callable<Integer> {
  @ParentCommand Main main;

  @Option(names = {"-i", "--interface"}, paramLabel = "NAME", description = "the interface (default: the file's, else dctun0)")
  String iface;

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "the gateway's YAML file: its interface and peer names")
  Path config;

  @Option(names = "--json", description = "one JSON object instead of text")
  boolean json;

  @Option(names = "--status-file", paramLabel = "FILE",
      description = "the gateway's --status-file: also its HA pair, firewall rules and table fill, routes, drops, "
          + "reloads and transports (or the status file of `dctun forward`: its sessions, listeners, connects)")
  Path statusFile;

  @Option(names = "--socket-dir", hidden = true, description = "where the sockets are (tests)")
  Path socketDir = UapiServer.DEFAULT_DIRECTORY;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    Map<PublicKey, String> names = new HashMap<>();
    String name = iface;
    if (config != null) {
      try {
        GatewayConfig cfg = ConfigLoader.load(main.resolve(config));
        cfg.peers().forEach(p -> names.put(p.publicKey(), p.label()));
        if (name == null) {
          name = cfg.interfaceName();
        }
      } catch (ConfigException e) {
        CheckCommand.printErrors(err, e);
        return Main.EXIT_CONFIG;
      }
    }
    if (name == null) {
      name = GatewayConfig.DEFAULT_INTERFACE;
    }
    Path sock = socketDir.resolve(name + ".sock");
    Map<String, String> gateway = null;
    if (statusFile != null) {
      try {
        gateway = StatusFile.read(main.resolve(statusFile));
      } catch (IOException e) {
        err.println("dctun status: cannot read " + statusFile + ": " + e.getMessage());
        err.flush();
        return Main.EXIT_FAILED;
      }
      if (gateway.isEmpty()) {
        err.println("dctun status: " + statusFile + " is empty or missing: is dctun up running with --status-file "
            + statusFile + "?");
        err.flush();
        return Main.EXIT_FAILED;
      }
    }
    UapiState st = null;
    String uapiError = null;
    boolean forwardOnly = gateway != null && !gateway.containsKey("interface") && iface == null && config == null;
    try {
      if (forwardOnly) {
        // the status file of `dctun forward`: no tunnel interface, no UAPI socket to ask
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? "{\"uapi\":null,\"status\":" + StatusTables.json(gateway) + "}\n" : StatusTables.text(gateway));
        out.flush();
        return Main.EXIT_OK;
      }
      st = UapiState.get(sock, 5000);
    } catch (IOException | UapiException e) {
      uapiError = name + ": cannot read " + sock + " (" + e.getMessage() + "); is dctun up running with uapi on?";
      if (gateway == null) {
        err.println("dctun status: " + uapiError);
        err.flush();
        return Main.EXIT_FAILED;
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      String peers = st == null ? null : json(name, st, names).strip();
      if (gateway == null) {
        out.println(peers);
      } else {
        // {"uapi": <the peer object, or null>, "status": <every status key>}
        out.println("{\"uapi\":" + (peers == null ? "null" : peers) + ",\"status\":" + StatusTables.json(gateway) + "}");
      }
    } else {
      if (st != null) {
        out.print(text(name, st, names, System.currentTimeMillis() / 1000));
      } else {
        out.println("interface: " + name + " (peers: " + uapiError + ")");
      }
      if (gateway != null) {
        out.print(StatusTables.text(gateway));
      }
    }
    out.flush();
    return Main.EXIT_OK;
  }

  static String text(String name, UapiState st, Map<PublicKey, String> names, long nowSec) {
    StringBuilder sb = new StringBuilder("interface: ").append(name).append('\n');
    st.publicKey().ifPresent(k -> sb.append("  public key: ").append(k.toBase64()).append('\n'));
    if (st.listenPort() != 0) {
      sb.append("  listening port: ").append(st.listenPort()).append('\n');
    }
    for (UapiState.PeerState p : st.peers()) {
      sb.append("\npeer: ").append(p.publicKey().toBase64());
      String n = names.get(p.publicKey());
      if (n != null) {
        sb.append(" (").append(n).append(')');
      }
      sb.append('\n');
      p.endpoint().ifPresent(e -> sb.append("  endpoint: ").append(e).append('\n'));
      sb.append("  allowed ips: ").append(p.allowedIps().isEmpty() ? "(none)" : String.join(", ", p.allowedIps())).append('\n');
      sb.append("  latest handshake: ");
      if (p.lastHandshakeSec() == 0) {
        sb.append("never\n");
      } else {
        sb.append(java.time.Instant.ofEpochSecond(p.lastHandshakeSec())).append(" (")
            .append(Math.max(0, nowSec - p.lastHandshakeSec())).append(" s ago)\n");
      }
      sb.append("  transfer: ").append(p.rxBytes()).append(" B received, ").append(p.txBytes()).append(" B sent\n");
      if (p.persistentKeepalive() != 0) {
        sb.append("  persistent keepalive: every ").append(p.persistentKeepalive()).append(" s\n");
      }
      if (p.hasPresharedKey()) {
        sb.append("  preshared key: (hidden)\n");
      }
    }
    return sb.toString();
  }

  static String json(String name, UapiState st, Map<PublicKey, String> names) {
    StringBuilder sb = new StringBuilder("{\"interface\":").append(quote(name));
    sb.append(",\"publicKey\":").append(st.publicKey().map(k -> quote(k.toBase64())).orElse("null"));
    sb.append(",\"listenPort\":").append(st.listenPort());
    sb.append(",\"peers\":[");
    boolean first = true;
    for (UapiState.PeerState p : st.peers()) {
      sb.append(first ? "" : ",").append("{\"publicKey\":").append(quote(p.publicKey().toBase64()));
      first = false;
      String n = names.get(p.publicKey());
      sb.append(",\"name\":").append(n == null ? "null" : quote(n));
      sb.append(",\"presharedKey\":").append(p.hasPresharedKey());
      sb.append(",\"endpoint\":").append(p.endpoint().map(StatusCommand::quote).orElse("null"));
      sb.append(",\"allowedIps\":[");
      for (int i = 0; i < p.allowedIps().size(); i++) {
        sb.append(i == 0 ? "" : ",").append(quote(p.allowedIps().get(i)));
      }
      sb.append("],\"latestHandshake\":").append(p.lastHandshakeSec());
      sb.append(",\"rxBytes\":").append(p.rxBytes()).append(",\"txBytes\":").append(p.txBytes());
      sb.append(",\"persistentKeepalive\":").append(p.persistentKeepalive()).append('}');
    }
    return sb.append("]}\n").toString();
  }

  /** A JSON string; names come from a file, so escape what JSON requires. */
  static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"').toString();
  }
}
