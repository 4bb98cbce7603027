package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.engine.Engine;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.mesh.etcd.EtcdHostStore;
import io.dctun.core.route.Prefix;
import io.dctun.core.session.Device;
import io.dctun.core.status.StatusText;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.crypto.PrivateKey;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RouteSharingTest {
  final ManualClock clock = new ManualClock(1_000_000_000L, 1_790_000_000_000_000_000L);

  Device device() {
    InMemoryDevice tun = new InMemoryDevice("t");
    return new Device(PrivateKey.generate(), InMemoryDevice.DEFAULT_MTU,
        Engine.output(new InMemoryNetwork().bind(new java.net.InetSocketAddress("198.18.0.1", 51820)), tun, new AtomicLong()), clock);
  }

  @Test
  void meshModeRunsTheGossip() {
    try (HostLocations l = RouteSharing.start(new RouteSharing.Mesh(HostDirectory.DEFAULT_LEASE_MILLIS), device(), 1, clock.nanoTime())) {
      l.tick(clock.nanoTime());
      assertThat(l.owner(Prefix.parse("198.18.99.5/32"))).isNull();
      assertThat(StatusText.of(l)).contains("local-hosts 0").contains("messages-sent");
    }
  }

  @Test
  void etcdModeRunsTheStoreAndNeverBlocksWithoutEtcd() {
    // A closed local port: every call fails at once, and nothing here may wait for it.
    EtcdHostStore.Config cfg = new EtcdHostStore.Config(List.of(URI.create("http://127.0.0.1:9")), "dxt", 3000, Duration.ofMillis(200));
    try (HostLocations l = RouteSharing.start(new RouteSharing.Etcd(cfg), device(), 1, clock.nanoTime())) {
      l.tick(clock.nanoTime());
      assertThat(l.owner(Prefix.parse("198.18.99.5/32"))).isNull();
      assertThat(StatusText.of(l)).contains("etcd ");
    }
  }

  @Test
  void anEtcdLeaseBelowEtcdsMinimumIsRefused() {
    assertThatThrownBy(() -> new EtcdHostStore.Config(List.of(URI.create("http://127.0.0.1:2379")), "m", 1000, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1000");
  }
}
