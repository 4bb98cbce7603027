package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Shell;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An existing WireGuard site moves over in one step: {@code dctun import-wg wgX.conf -o wgX.yaml}
 * produces a configuration that {@code dctun up} runs as is, and site A (imported) talks to
 * site B (native dctun configuration) through the tunnel.
 */
@Timeout(90)
class E2eImportWgTest {

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
  }

  @Test
  void importedWgQuickConfigRunsAsIs() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      String ifName = s.topology().ifName("wq");
      Path conf = s.dir().resolve(ifName + ".conf");
      Files.writeString(conf, String.join("\n",
          "[Interface]",
          "PrivateKey = " + ka.toBase64(),
          "ListenPort = " + PORT,
          "Address = " + TUN_A + "/24",
          "MTU = 1420",
          "DNS = 198.18.10.53",
          "PostUp = echo up",
          "",
          "[Peer]",
          "PublicKey = " + publicKeyOf(kb),
          "Endpoint = " + WAN_B + ":" + PORT,
          "AllowedIPs = " + LAN_B + ", " + TUN_B + "/32",
          "PersistentKeepalive = 5",
          ""));
      Files.setPosixFilePermissions(conf, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
      Path yaml = s.dir().resolve("imported.yaml");

      List<String> cmd = new ArrayList<>(javaCommand());
      cmd.addAll(List.of("io.dctun.appliance.Main", "import-wg", conf.toString(), "-o", yaml.toString()));
      ExecResult imported = Shell.exec(Duration.ofSeconds(60), cmd.toArray(String[]::new));
      assertThat(imported.exitCode()).as(imported.describe()).isZero();
      assertThat(imported.stderr()).as("lines it cannot carry are listed").contains("DNS").contains("PostUp");
      String y = Files.readString(yaml);
      assertThat(y).contains("interface: " + ifName).doesNotContain(ka.toBase64());

      List<String> check = new ArrayList<>(javaCommand());
      check.addAll(List.of("io.dctun.appliance.Main", "check", "-c", yaml.toString()));
      ExecResult checked = Shell.exec(Duration.ofSeconds(60), check.toArray(String[]::new));
      assertThat(checked.exitCode()).as(checked.describe()).isZero();

      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, PORT, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), null, List.of(LAN_A, TUN_A + "/32"), 0)));
      Sites.Gw a = s.launch(s.gwA, "gwA", ifName, ka, yaml);
      assertPing(s.srvA, SRV_B, a, b);
      assertPing(s.srvB, SRV_A, a, b);
      a.stopAndAssertClean();
      b.stopAndAssertClean();
    }
  }
}
