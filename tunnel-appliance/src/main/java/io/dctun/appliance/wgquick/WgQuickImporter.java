package io.dctun.appliance.wgquick;

import io.dctun.appliance.config.ConfigError;
import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.Endpoint;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.InterfaceAddress;
import io.dctun.appliance.config.PeerConfig;
import io.dctun.core.route.Prefix;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Turns a wg-quick configuration ({@code wg0.conf}) into a {@link GatewayConfig}: keys move out
 * into key files, everything dctun models is carried over, and every line it cannot carry is
 * reported with its line number rather than silently dropped. Not thread-safe; one per import.
 */
public final class WgQuickImporter {
  /** A line of the source that has no counterpart in dctun's configuration. */
  public record Skipped(int line, String key, String reason) {}

  /** What a parse found: the pieces of the configuration, keys not yet written anywhere. */
  public static final class Parsed {
    PrivateKey privateKey;
    OptionalInt listenPort = OptionalInt.empty();
    final List<InterfaceAddress> addresses = new ArrayList<>();
    int mtu = GatewayConfig.DEFAULT_MTU;
    final List<ParsedPeer> peers = new ArrayList<>();
    final List<Skipped> skipped = new ArrayList<>();
    final List<String> notes = new ArrayList<>();

    /** Lines not carried over, in file order. */
    public List<Skipped> skipped() {
      return List.copyOf(skipped);
    }

    /** Values changed on the way (e.g. host bits cleared), as "LINE: what" text. */
    public List<String> notes() {
      return List.copyOf(notes);
    }

    public int peerCount() {
      return peers.size();
    }
  }

  static final class ParsedPeer {
    final int line;
    PublicKey publicKey;
    PresharedKey presharedKey;
    Endpoint endpoint;
    final List<Prefix> allowedIps = new ArrayList<>();
    int keepalive;

    ParsedPeer(int line) {
      this.line = line;
    }
  }

  private static final Map<String, String> NOT_CARRIED = Map.of(
      "dns", "dctun does not manage the host's resolver",
      "postup", "dctun runs no hook commands",
      "postdown", "dctun runs no hook commands",
      "preup", "dctun runs no hook commands",
      "predown", "dctun runs no hook commands",
      "table", "routing table selection is not configurable in dctun",
      "saveconfig", "dctun never writes its configuration back",
      "fwmark", "packet marks are not configurable in dctun");

  private final Path file;
  private final List<ConfigError> errors = new ArrayList<>();

  private WgQuickImporter(Path file) {
    this.file = file;
  }

  /** The interface name wg-quick would use for {@code file}: its name without {@code .conf}. */
  public static String interfaceName(Path file) {
    String n = file.getFileName().toString();
    return n.endsWith(".conf") ? n.substring(0, n.length() - ".conf".length()) : n;
  }

  /** Reads and checks {@code file}; errors name its lines and wg-quick keys. */
  public static Parsed parse(Path file) throws ConfigException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new ConfigException(List.of(new ConfigError(file, 0, "", "cannot be read: " + e.getMessage())));
    }
    WgQuickImporter w = new WgQuickImporter(file);
    Parsed p = w.parse(lines);
    if (!w.errors.isEmpty()) {
      throw new ConfigException(w.errors);
    }
    return p;
  }

  /**
   * Writes the keys of {@code p} to files in {@code keyDir} ({@code NAME.key}, {@code
   * NAME-peerN.psk}, mode 0600) and returns the configuration that refers to them.
   *
   * @throws IOException if a key file exists and {@code replace} is false, or cannot be written
   */
  public static GatewayConfig write(Parsed p, String interfaceName, Path keyDir, boolean replace) throws IOException {
    Path keyFile = keyDir.resolve(interfaceName + ".key").toAbsolutePath().normalize();
    List<Path> toWrite = new ArrayList<>(List.of(keyFile));
    for (int i = 0; i < p.peers.size(); i++) {
      if (p.peers.get(i).presharedKey != null) toWrite.add(pskFile(keyDir, interfaceName, i));
    }
    if (!replace) {
      for (Path f : toWrite) {
        if (Files.exists(f)) throw new IOException(f + " already exists; move it away or pass --force to replace it");
      }
    }
    KeyFiles.writePrivateKey(keyFile, p.privateKey);
    List<PeerConfig> peers = new ArrayList<>();
    for (int i = 0; i < p.peers.size(); i++) {
      ParsedPeer pp = p.peers.get(i);
      Optional<Path> psk = Optional.empty();
      if (pp.presharedKey != null) {
        psk = Optional.of(pskFile(keyDir, interfaceName, i));
        KeyFiles.writePresharedKey(psk.get(), pp.presharedKey);
      }
      peers.add(new PeerConfig(Optional.empty(), pp.publicKey, Optional.ofNullable(pp.endpoint), pp.allowedIps,
          pp.keepalive, psk, pp.presharedKey == null ? PresharedKey.NONE : pp.presharedKey));
    }
    return new GatewayConfig(interfaceName, keyFile, p.privateKey, p.listenPort, Optional.empty(),
        p.addresses, p.mtu, peers);
  }

  private static Path pskFile(Path keyDir, String interfaceName, int peer) {
    return keyDir.resolve(interfaceName + "-peer" + (peer + 1) + ".psk").toAbsolutePath().normalize();
  }

  private Parsed parse(List<String> lines) {
    Parsed p = new Parsed();
    String section = null;
    boolean sawInterface = false;
    ParsedPeer peer = null;
    for (int i = 0; i < lines.size(); i++) {
      int ln = i + 1;
      String line = lines.get(i);
      int hash = line.indexOf('#');
      if (hash >= 0) line = line.substring(0, hash);
      line = line.strip();
      if (line.isEmpty()) continue;
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1).strip().toLowerCase(Locale.ROOT);
        if (section.equals("interface")) {
          if (sawInterface) error(ln, "[Interface]", "appears twice");
          sawInterface = true;
        } else if (section.equals("peer")) {
          peer = new ParsedPeer(ln);
          p.peers.add(peer);
        } else {
          error(ln, line, "unknown section");
        }
        continue;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        error(ln, "", "expected Key = Value");
        continue;
      }
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      String k = key.toLowerCase(Locale.ROOT);
      if (section == null) {
        error(ln, key, "appears before any [Interface] or [Peer] section");
      } else if (section.equals("interface")) {
        iface(p, ln, key, k, value);
      } else if (section.equals("peer")) {
        peer(p, peer, ln, key, k, value);
      }
    }
    if (!sawInterface) error(0, "[Interface]", "is missing");
    else if (p.privateKey == null && errors.stream().noneMatch(e -> e.field().equals("PrivateKey"))) {
      error(0, "PrivateKey", "is missing from [Interface]");
    }
    for (ParsedPeer pp : p.peers) {
      if (pp.publicKey == null && errors.stream().noneMatch(e -> e.line() > pp.line && e.field().equals("PublicKey"))) {
        error(pp.line, "[Peer]", "has no PublicKey");
      }
    }
    return p;
  }

  private void iface(Parsed p, int ln, String key, String k, String value) {
    try {
      switch (k) {
        case "privatekey":
          p.privateKey = PrivateKey.fromBase64(value);
          break;
        case "listenport":
          int port = number(value, 0, 65535);
          p.listenPort = port == 0 ? OptionalInt.empty() : OptionalInt.of(port); // 0 = any port, as wg reads it
          break;
        case "address":
          for (String a : list(value)) p.addresses.add(InterfaceAddress.parse(a));
          break;
        case "mtu":
          p.mtu = number(value, GatewayConfig.MIN_MTU, GatewayConfig.MAX_MTU);
          break;
        default:
          skip(p, ln, key, k);
      }
    } catch (IllegalArgumentException e) {
      error(ln, key, e.getMessage());
    }
  }

  private void peer(Parsed p, ParsedPeer peer, int ln, String key, String k, String value) {
    try {
      switch (k) {
        case "publickey": {
          PublicKey pub = PublicKey.fromBase64(value);
          if (pub.isLowOrder()) {
            throw new IllegalArgumentException("is a low-order point of Curve25519 (X25519 with it gives no shared"
                + " secret, so no handshake could ever complete): not a real public key");
          }
          peer.publicKey = pub;
          break;
        }
        case "presharedkey":
          peer.presharedKey = PresharedKey.fromBase64(value);
          break;
        case "endpoint":
          peer.endpoint = Endpoint.parse(value);
          break;
        case "allowedips":
          for (String a : list(value)) {
            Prefix prefix = Prefix.parse(a);
            if (!io.dctun.appliance.config.ConfigLoader.hasNoHostBits(a, prefix)) p.notes.add(ln + ": AllowedIPs " + a + " written as " + prefix + ", as wg reads it");
            peer.allowedIps.add(prefix);
          }
          break;
        case "persistentkeepalive":
          peer.keepalive = value.equalsIgnoreCase("off") ? 0 : number(value, 0, 65535);
          break;
        default:
          skip(p, ln, key, k);
      }
    } catch (IllegalArgumentException e) {
      error(ln, key, e.getMessage());
    }
  }

  private static void skip(Parsed p, int ln, String key, String k) {
    p.skipped.add(new Skipped(ln, key, NOT_CARRIED.getOrDefault(k, "not a wg-quick key dctun knows")));
  }

  private static List<String> list(String value) {
    List<String> out = new ArrayList<>();
    for (String s : value.split(",")) {
      if (!s.isBlank()) out.add(s.strip());
    }
    return out;
  }

  private static int number(String s, int min, int max) {
    if (s.isEmpty() || s.length() > 9 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("'" + s + "' is not a whole number " + min + "-" + max);
    }
    int v = Integer.parseInt(s);
    if (v < min || v > max) throw new IllegalArgumentException(v + " is outside " + min + "-" + max);
    return v;
  }

  private void error(int line, String field, String message) {
    errors.add(new ConfigError(file, line, field, message));
  }
}
