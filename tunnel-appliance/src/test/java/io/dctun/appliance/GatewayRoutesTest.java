package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.core.Clock;
import io.dctun.core.device.InMemoryDevice;
import io.dctun.core.engine.Engine;
import io.dctun.core.route.Route;
import io.dctun.core.session.Device;
import io.dctun.core.session.Peer;
import io.dctun.core.transport.InMemoryNetwork;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The routes: of a configuration in the device's route table, as Gateway installs them (no TUN needed). */
class GatewayRoutesTest {
  @TempDir Path dir;

  @Test
  void staticRoutesAreLearnedRoutesWithSourceStatic() throws Exception {
    PrivateKey own = PrivateKey.generate();
    PrivateKey dc2 = PrivateKey.generate();
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), own);
    Path f = dir.resolve("gw.yaml");
    Files.writeString(f, String.join("\n",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "peers:",
        "  - name: dc2",
        "    public-key: " + dc2.publicKey().toBase64(),
        "    allowed-ips: [198.18.66.0/24]",
        "routes:",
        "  - {prefix: 198.18.99.0/24, via: dc2}",
        ""));
    GatewayConfig cfg = ConfigLoader.load(f);
    InMemoryDevice tun = new InMemoryDevice("t");
    Device d = new Device(own, 1420, Engine.output(new InMemoryNetwork().bind(
        new java.net.InetSocketAddress("198.18.64.1", 51820)), tun, new AtomicLong()), Clock.SYSTEM);
    d.addPeer(io.dctun.core.session.PeerConfig.of(dc2.publicKey(), (java.net.InetSocketAddress) null,
        "198.18.66.0/24").withName("dc2"));
    Gateway.installStaticRoutes(cfg, d);
    Route<Peer> r = d.routes().stream().filter(x -> x.prefix().toString().equals("198.18.99.0/24")).findFirst()
        .orElseThrow();
    assertThat(r.value().name()).isEqualTo("dc2");
    assertThat(r.origin().toString()).isEqualTo("learned from static");
    assertThat(r.expiresAtNanos()).isEqualTo(Long.MAX_VALUE);
    byte[] p = new byte[20];
    p[0] = 0x45;
    p[3] = 20;
    p[16] = (byte) 198;
    p[17] = 18;
    p[18] = 99;
    p[19] = 7;
    assertThat(d.route(p, 0, 20).name()).isEqualTo("dc2");
  }
}
