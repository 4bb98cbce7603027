package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * packaging/dctun@.service: systemd accepts it as written ({@code systemd-analyze verify}, with
 * {@code ExecStart} pointed at this checkout's launcher, which systemd checks exists), and it
 * grants exactly the two capabilities README's "Least privilege" names.
 */
class SystemdUnitTest {
  @TempDir Path dir;

  private static Path unit() {
    return Path.of("").toAbsolutePath().getParent().resolve("packaging").resolve("dctun@.service");
  }

  @Test
  void grantsOnlyNetAdminAndNetRawToAnUnprivilegedUser() throws Exception {
    List<String> lines = Files.readAllLines(unit());
    assertThat(lines).contains("User=dctun", "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW", "NoNewPrivileges=yes", "ProtectSystem=strict",
        "DeviceAllow=/dev/net/tun rw", "RuntimeDirectoryPreserve=yes", "ExecReload=/bin/kill -HUP $MAINPID");
    assertThat(lines).filteredOn(l -> l.startsWith("ExecStart=")).singleElement().asString()
        .doesNotContain("--user").contains(" up -c /etc/dctun/%i.yaml");
  }

  @Test
  void systemdAnalyzeVerifyAcceptsIt() throws Exception {
    Requirements.assumeCommand("systemd-analyze");
    Path launcher = unit().getParent().getParent().resolve("dctun");
    String text = Files.readString(unit()).replace("ExecStart=/opt/dctun/dctun ", "ExecStart=" + launcher + " ");
    assertThat(text).contains("ExecStart=" + launcher + " ");
    Files.writeString(dir.resolve("dctun@.service"), text);
    Files.createSymbolicLink(dir.resolve("dctun@site-a.service"), Path.of("dctun@.service"));
    ExecResult r = Shell.exec(Duration.ofSeconds(60), Map.of("SYSTEMD_LOG_LEVEL", "notice"), null,
        List.of("systemd-analyze", "verify", dir.resolve("dctun@site-a.service").toString()));
    assertThat(r.exitCode()).as(r.describe()).isZero();
    assertThat(r.stdout() + r.stderr()).as(r.describe()).doesNotContain("dctun@");
  }
}
