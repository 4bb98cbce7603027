package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.route.Prefix;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class EtcdCodecTest {
  final EtcdCodec codec = new EtcdCodec("prod");

  @Test
  void recordsRoundTrip() throws Exception {
    HostRecord r = new HostRecord("H1FMWGAvo1cN0Nnz556CoF4xz5J5W82IbNgd9UM+T0o=", 1_790_000_001_123_456_789L, 42);
    assertThat(EtcdCodec.decode(EtcdCodec.encode(r))).isEqualTo(r);
  }

  @Test
  void keysNameTheHostUnderTheMeshPrefix() {
    Prefix h = Prefix.parse("198.18.99.5/32");
    assertThat(codec.key(h)).isEqualTo("/dctun/prod/hosts/198.18.99.5/32");
    assertThat(codec.host(codec.key(h))).isEqualTo(h);
    assertThat(codec.host("/dctun/other/hosts/198.18.99.5/32")).isNull();
    assertThat(codec.host("/dctun/prod/hosts/not-a-prefix")).isNull();
  }

  @Test
  void refusesValuesThatAreNotHostRecords() {
    for (String bad : new String[] {"", "x", "[]", "{}", "{\"gateway\":1,\"version\":1,\"incarnation\":1}",
        "{\"gateway\":\"g\",\"version\":\"1\",\"incarnation\":1}", "{\"gateway\":\"g\",\"version\":1.5,\"incarnation\":1}"}) {
      assertThatThrownBy(() -> EtcdCodec.decode(bad.getBytes(StandardCharsets.UTF_8)))
          .as(bad).isInstanceOf(EtcdCodec.MalformedRecordException.class).hasMessageNotContaining(bad.isEmpty() ? "\u0000" : bad);
    }
  }

  @Test
  void theRangeEndCoversExactlyThePrefix() {
    String end = new String(Base64.getDecoder().decode(EtcdCodec.rangeEnd("/dctun/prod/hosts/")), StandardCharsets.UTF_8);
    assertThat(end).isEqualTo("/dctun/prod/hosts0");
  }

  @Test
  void refusesMeshNamesThatWouldEscapeThePrefix() {
    assertThatThrownBy(() -> new EtcdCodec("a/b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new EtcdCodec("")).isInstanceOf(IllegalArgumentException.class);
  }
}
