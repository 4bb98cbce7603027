package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HaNotifyTest {
  @TempDir Path dir;

  @Test
  void commandSeesStateInstanceAndInterface() throws Exception {
    Path out = dir.resolve("out");
    int rc = HaNotify.run("echo \"$DCTUN_HA_STATE $DCTUN_HA_INSTANCE $DCTUN_HA_INTERFACE\" > " + out, "master",
        "dctun-public", "eth0");
    assertThat(rc).isZero();
    assertThat(Files.readString(out).strip()).isEqualTo("MASTER dctun-public eth0");
  }

  @Test
  void failingCommandIsReportedNotThrown() {
    assertThat(HaNotify.run("exit 3", "fault", "dctun-public", "eth0")).isEqualTo(3);
  }

  @Test
  void firedCommandsRunInOrderOnTheirOwnThread() throws Exception {
    Path out = dir.resolve("order");
    try (HaNotify n = new HaNotify(Map.of("backup", "echo backup >> " + out, "master", "echo master >> " + out))) {
      n.fire("backup", "dctun-public", "eth0");
      n.fire("master", "dctun-public", "eth0");
      n.fire("fault", "dctun-public", "eth0"); // not configured: nothing runs
    } // close waits for queued commands (bounded)
    assertThat(Files.readAllLines(out)).containsExactly("backup", "master");
  }
}
