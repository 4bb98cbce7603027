package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PresharedKey;
import io.dctun.crypto.PrivateKey;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String stdin, String... args) {
    var cl = Main.commandLine(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.US_ASCII)), dir);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void genkeyThenPubkeyMatches() {
    assertThat(run("", "genkey")).isZero();
    String key = out.toString().strip();
    PrivateKey k = PrivateKey.fromBase64(key);
    out.getBuffer().setLength(0);
    assertThat(run(key + "\n", "pubkey")).isZero();
    assertThat(out.toString()).isEqualTo(k.publicKey().toBase64() + System.lineSeparator());
  }

  @Test
  void pubkeyRefusesGarbage() {
    assertThat(run("hello\n", "pubkey")).isEqualTo(1);
    assertThat(err.toString()).contains("does not hold a private key");
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(run("", "check")).isEqualTo(2);
    assertThat(run("", "frobnicate")).isEqualTo(2);
    assertThat(run("")).isEqualTo(2);
  }

  @Test
  void checkPrintsOkAndSummary() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), "private-key-file: gw.key\nlisten-port: 51820\npeers:\n  - name: dc2\n"
        + "    public-key: " + PrivateKey.generate().publicKey() + "\n    allowed-ips: [10.2.0.0/16]\n");
    assertThat(run("", "check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).startsWith("gw.yaml: OK").contains("1 peer", "dc2", "10.2.0.0/16", "listens on *:51820");
  }

  @Test
  void checkSummarisesTheHaPairWithEveryInstance() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: dc2",
        "    public-key: " + PrivateKey.generate().publicKey(),
        "    endpoint: 198.18.0.1:51820",
        "    allowed-ips: [198.18.10.0/24]",
        "ha:",
        "  priority: 150",
        "  advert-interval: 100",
        "  public: {interface: eth0, vrid: 51, vip: 198.18.0.100/24, unicast-peers: [198.18.0.12]}",
        "  private: {interface: eth1, vrid: 52, vip: 198.18.20.1/24, vip6: fe80::52:1/64}",
        "  track: {peer-handshake: {within: 200, weight: 60}}",
        ""));
    assertThat(run("", "check", "-c", "gw.yaml")).isZero();
    assertThat(out.toString()).contains(
        "  ha: priority 150, advert every 100 ms, preempt on\n",
        "    dctun-public: vrid 51, 198.18.0.100/24 on eth0, unicast to 198.18.0.12\n",
        "    dctun-private: vrid 52, 198.18.20.1/24 on eth1, multicast 224.0.0.18\n",
        "    dctun-private-v6: vrid 52, fe80:0:0:0:0:0:52:1/64 on eth1, multicast ff02::12\n",
        "    track: no handshake with any peer for 200 s as master -> priority - 60\n",
        "    state sync: none");
  }

  @Test
  void checkPrintsEveryErrorAndExitsOne() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), "private-key-file: gw.key\nmtu: 100\nlisten-prot: 1\n");
    assertThat(run("", "check", "-c", dir.resolve("gw.yaml").toString())).isEqualTo(1);
    assertThat(err.toString()).contains(
        dir.resolve("gw.yaml") + ":2: mtu: 100 is outside 1280-9000",
        dir.resolve("gw.yaml") + ":3: listen-prot: unknown field; did you mean 'listen-port'?",
        "2 errors");
  }

  @Test
  void checkRefusesALowOrderPeerKeyByLineWithoutPrintingIt() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    String zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    Files.writeString(dir.resolve("gw.yaml"), String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: dc2",
        "    public-key: " + zero,
        "    allowed-ips: [198.18.10.0/24]",
        ""));
    assertThat(run("", "check", "-c", dir.resolve("gw.yaml").toString())).isEqualTo(1);
    assertThat(err.toString()).contains(dir.resolve("gw.yaml") + ":5: peers[0].public-key: is a low-order point", "1 error")
        .doesNotContain(zero);
  }

  @Test
  void upValidatesThenReportsTheUnwiredDataPlane() throws Exception {
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    Files.writeString(dir.resolve("gw.yaml"), "private-key-file: gw.key\n");
    assertThat(run("", "up", "-c", "gw.yaml")).isEqualTo(3);
    assertThat(err.toString()).contains("the data plane is not wired yet");
  }

  @Test
  void upWithUserOutsideTheLauncherSaysWhoDoesIt() {
    assertThat(run("", "up", "--user", "dctun", "-c", "gw.yaml")).isEqualTo(2);
    assertThat(err.toString()).contains("--user dctun is done by the dctun launcher").contains("Least privilege");
  }

  static final String WG0 = String.join("\n",
      "[Interface]",                                         // 1
      "# site one",                                          // 2
      "PrivateKey = %s",                                     // 3
      "Address = 10.10.0.1/24, fd00:10::1/64",               // 4
      "ListenPort = 51820",                                  // 5
      "DNS = 10.10.0.53",                                    // 6
      "MTU = 1380",                                          // 7
      "PostUp = iptables -A FORWARD -i %%i -j ACCEPT",       // 8
      "PostDown = iptables -D FORWARD -i %%i -j ACCEPT",     // 9
      "",                                                    // 10
      "[Peer]",                                              // 11
      "PublicKey = %s",                                      // 12
      "PresharedKey = %s",                                   // 13
      "Endpoint = gw.dc2.example.net:51820",                 // 14
      "AllowedIPs = 10.20.0.0/16, fd00:20::/64",             // 15
      "PersistentKeepalive = 25",                            // 16
      "",                                                    // 17
      "[Peer]",                                              // 18
      "PublicKey = %s",                                      // 19
      "AllowedIPs = 10.30.0.5/32",                           // 20
      "");

  @Test
  void importsWgQuickConfigThatPassesCheck() throws Exception {
    PrivateKey own = PrivateKey.generate();
    Files.writeString(dir.resolve("wg0.conf"), String.format(WG0, own.toBase64(),
        PrivateKey.generate().publicKey(), PresharedKey.generate().toBase64(), PrivateKey.generate().publicKey()));
    Files.createDirectories(dir.resolve("etc"));
    assertThat(run("", "import-wg", "wg0.conf", "-o", "etc/wg0.yaml")).as(err.toString()).isZero();
    assertThat(err.toString()).contains("wg0.conf:6: DNS not carried over", "wg0.conf:8: PostUp not carried over",
        "wg0.conf:9: PostDown not carried over");
    Path key = dir.resolve("etc/wg0.key");
    assertThat(Files.getPosixFilePermissions(key)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(Files.getPosixFilePermissions(dir.resolve("etc/wg0-peer1.psk"))).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    String yaml = Files.readString(dir.resolve("etc/wg0.yaml"));
    assertThat(yaml).contains("private-key-file: wg0.key").doesNotContain(own.toBase64());
    GatewayConfig c = ConfigLoader.load(dir.resolve("etc/wg0.yaml"));
    assertThat(c.interfaceName()).isEqualTo("wg0");
    assertThat(c.publicKey()).isEqualTo(own.publicKey());
    assertThat(c.mtu()).isEqualTo(1380);
    assertThat(c.listenPort()).hasValue(51820);
    assertThat(c.peers()).hasSize(2);
    assertThat(c.peers().get(0).persistentKeepalive()).isEqualTo(25);
    assertThat(c.peers().get(0).presharedKeyFile()).contains(dir.resolve("etc/wg0-peer1.psk"));
    assertThat(c.peers().get(1).allowedIps()).extracting(Object::toString).containsExactly("10.30.0.5/32");

    // Importing again would silently replace the keys: refused unless --force.
    assertThat(run("", "import-wg", "wg0.conf", "-o", "etc/wg0.yaml")).isEqualTo(3);
    assertThat(err.toString()).contains("already exists");
  }

  @Test
  void importToStdoutPutsKeyInCurrentDirectory() throws Exception {
    Files.writeString(dir.resolve("wg1.conf"), String.format(WG0, PrivateKey.generate().toBase64(),
        PrivateKey.generate().publicKey(), PresharedKey.generate().toBase64(), PrivateKey.generate().publicKey()));
    assertThat(run("", "import-wg", dir.resolve("wg1.conf").toString())).as(err.toString()).isZero();
    assertThat(out.toString()).contains("private-key-file: " + dir.resolve("wg1.key"), "interface: wg1");
    assertThat(err.toString()).contains("wrote the private key to " + dir.resolve("wg1.key"));
    assertThat(Files.exists(dir.resolve("wg1.key"))).isTrue();
  }

  @Test
  void importRefusesALowOrderPeerKeyByLineWithoutPrintingIt() throws Exception {
    String zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    Files.writeString(dir.resolve("wg0.conf"), "[Interface]\nPrivateKey = " + PrivateKey.generate().toBase64()
        + "\n[Peer]\nPublicKey = " + zero + "\nAllowedIPs = 10.0.0.0/24\n");
    assertThat(run("", "import-wg", "wg0.conf")).isEqualTo(1);
    assertThat(err.toString()).contains("wg0.conf:4: PublicKey: is a low-order point").doesNotContain(zero)
        .doesNotContain("has no PublicKey");
    assertThat(Files.exists(dir.resolve("wg0.key"))).isFalse();
  }

  @Test
  void importReportsBadLines() throws Exception {
    Files.writeString(dir.resolve("wg0.conf"), "[Interface]\nPrivateKey = nope\n[Peer]\nPublicKey = "
        + PrivateKey.generate().publicKey() + "\nAllowedIPs = 10.0.0.0/33\n");
    assertThat(run("", "import-wg", "wg0.conf")).isEqualTo(1);
    assertThat(err.toString()).contains("wg0.conf:2: PrivateKey:", "wg0.conf:5: AllowedIPs:");
    assertThat(Files.exists(dir.resolve("wg0.key"))).isFalse();
  }
}
