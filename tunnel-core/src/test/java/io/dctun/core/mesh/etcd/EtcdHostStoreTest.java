package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import io.dctun.core.status.StatusText;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The store's engine-side edge, without etcd: it never blocks the caller. */
class EtcdHostStoreTest {
  @Test
  void eventsBeyondTheInboxAreDroppedAndCountedWithoutBlocking() {
    EtcdHostStore s = new EtcdHostStore(new EtcdHostStore.Config(List.of(URI.create("http://127.0.0.1:9")), "dxt", 3000,
        Duration.ofMillis(200)), "A", 1, (h, o) -> {});
    // Not started: nothing drains the inbox.
    Prefix h = Prefix.parse("198.18.199.5/32");
    for (int i = 0; i < EtcdHostStore.INBOX_CAPACITY + 10; i++) {
      s.connected(h, i + 1);
    }
    String status = StatusText.of(s);
    assertThat(status).contains("events-dropped 10").contains("etcd unreachable");
  }
}
