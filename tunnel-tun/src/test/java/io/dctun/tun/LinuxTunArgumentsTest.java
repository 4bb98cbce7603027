package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Argument checks that fail before any system call, so they need no root. */
class LinuxTunArgumentsTest {

  @Test
  void rejectsBadNamesAndQueueCountsBeforeTouchingTheKernel() {
    assertThatThrownBy(() -> LinuxTun.open("a-name-of-16-chr"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("15")
        .hasMessageContaining("a-name-of-16-chr");
    assertThatThrownBy(() -> LinuxTun.open("a/b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LinuxTun.open("dtx", 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LinuxTun.open("dtx", 2, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("multiQueue");
  }
}
