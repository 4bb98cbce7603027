package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PrivilegesTest {
  /** /proc/PID/status of a JVM started by `dctun up --user 65534` (trimmed). */
  static final String UNPRIVILEGED = String.join("\n",
      "Name:\tjava", "Umask:\t0022", "State:\tS (sleeping)", "Uid:\t65534\t65534\t65534\t65534",
      "Gid:\t65534\t65534\t65534\t65534", "CapInh:\t0000000000003000", "CapPrm:\t0000000000003000",
      "CapEff:\t0000000000003000", "CapBnd:\t0000000000003000", "CapAmb:\t0000000000003000", "NoNewPrivs:\t1",
      "Seccomp:\t0", "");
  static final String ROOT = String.join("\n",
      "Name:\tjava", "Uid:\t0\t0\t0\t0", "CapInh:\t0000000000000000", "CapPrm:\t000001ffffffffff",
      "CapEff:\t000001ffffffffff", "CapBnd:\t000001ffffffffff", "CapAmb:\t0000000000000000", "NoNewPrivs:\t0", "");

  @Test
  void readsUidAndEveryCapabilitySet() {
    Privileges p = Privileges.parse(UNPRIVILEGED);
    assertThat(p).isEqualTo(new Privileges(65534, 0x3000, 0x3000, 0x3000, 0x3000, 0x3000, true));
    assertThat(p.extra()).isZero();
    assertThat(Privileges.names(p.effective())).isEqualTo("net_admin,net_raw");
    assertThat(p.childrenInheritCapabilities()).isTrue();
  }

  @Test
  void rootWithEveryCapabilityHoldsMoreThanItNeeds() {
    Privileges p = Privileges.parse(ROOT);
    assertThat(p.uid()).isZero();
    assertThat(p.extra()).isNotZero();
    assertThat(Privileges.names(p.effective())).isEqualTo("all");
    assertThat(p.childrenInheritCapabilities()).as("root's children are root anyway").isFalse();
  }

  @Test
  void namesUnknownBitsAndNone() {
    assertThat(Privileges.names(0)).isEqualTo("none");
    assertThat(Privileges.names((1L << 10) | (1L << 50))).isEqualTo("net_bind_service,cap_50");
    assertThat(Privileges.names(0x1fffeffffffL)).as("root in a container").isEqualTo("all but sys_resource");
    assertThat(Privileges.hex(0x3000)).isEqualTo("0000000000003000");
  }

  @Test
  void aKernelWithoutAmbientCapabilitiesHasNone() {
    Privileges p = Privileges.parse(UNPRIVILEGED.replace("CapAmb:\t0000000000003000\n", ""));
    assertThat(p.ambient()).isZero();
  }

  @Test
  void refusesTextWithoutTheLines() {
    assertThatThrownBy(() -> Privileges.parse("Name:\tjava\n")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void thisThreadIsReadable() {
    Optional<Privileges> p = Privileges.current();
    assertThat(p).isPresent(); // Linux: the tests of this module need it
    assertThat(p.get().uid()).isGreaterThanOrEqualTo(0);
  }

  @Test
  void notifyCommandsGoThroughSetprivOnlyWhenTheyWouldInheritCapabilities() {
    Optional<Path> setpriv = Optional.of(Path.of("/usr/bin/setpriv"));
    List<String> sh = List.of("/bin/sh", "-c", "logger hi");
    assertThat(HaNotify.argv("logger hi", Optional.of(Privileges.parse(ROOT)), setpriv)).contains(sh);
    assertThat(HaNotify.argv("logger hi", Optional.empty(), setpriv)).contains(sh);
    assertThat(HaNotify.argv("logger hi", Optional.of(Privileges.parse(UNPRIVILEGED)), setpriv)).contains(List.of(
        "/usr/bin/setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--", "/bin/sh", "-c", "logger hi"));
    assertThat(HaNotify.argv("logger hi", Optional.of(Privileges.parse(UNPRIVILEGED)), Optional.empty()))
        .as("not run at all rather than with the gateway's capabilities").isEmpty();
  }
}
