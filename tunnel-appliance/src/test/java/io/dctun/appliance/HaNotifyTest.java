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

  @Test
  void aFlappingPairQueuesAtMostQueueCommandsAndDropsTheOldest() throws Exception {
    Path out = dir.resolve("ran");
    Path gate = dir.resolve("gate");
    // Each command waits for the gate (bounded by the 30 s timeout), then records its instance.
    String cmd = "while [ ! -e " + gate + " ]; do sleep 0.02; done; echo $DCTUN_HA_INSTANCE >> " + out;
    try (HaNotify n = new HaNotify(Map.of("master", cmd))) {
      int fired = 20;
      for (int i = 0; i < fired; i++) {
        n.fire("master", Integer.toString(i), "eth0");
      }
      // #0 runs (held at the gate); QUEUE wait; each later one pushed out the oldest waiting.
      assertThat(n.dropped()).isEqualTo(fired - 1 - HaNotify.QUEUE);
      Files.createFile(gate);
    } // close waits for the queued commands (bounded)
    java.util.List<String> expected = new java.util.ArrayList<>(java.util.List.of("0"));
    for (int i = 20 - HaNotify.QUEUE; i < 20; i++) {
      expected.add(Integer.toString(i));
    }
    assertThat(Files.readAllLines(out)).containsExactlyElementsOf(expected);
  }
}
