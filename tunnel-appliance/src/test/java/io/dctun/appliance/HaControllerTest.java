package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.config.HaSection;
import io.dctun.core.Clock;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import io.dctun.ha.GatewayPair;
import io.dctun.ha.OutputGate;
import io.dctun.ha.SyncSession;
import io.dctun.ha.VrrpState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The appliance's wiring of a pair, without VRRP sockets: the {@code ha:} section becomes the
 * library's pair, the notify commands run on the pair's state changes, and the status file shows
 * what the pair decided. The rules themselves are tunnel-ha's (PairControllerTest, GatewayPairTest).
 */
class HaControllerTest {
  static final long S = 1_000_000_000L;

  @TempDir Path dir;

  /** Monotonic and wall time, moved by the test; wall is 2040-01-01 plus the monotonic time. */
  static final class ManualClock implements Clock {
    long now = 5 * S;

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public long wallClockNanos() {
      return 2_208_988_800L * S + now;
    }
  }

  GatewayConfig load(String extra) throws Exception {
    PrivateKey key = PrivateKey.generate();
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), key);
    Path yaml = dir.resolve("gw.yaml");
    Files.writeString(yaml, String.join("\n",
        "interface: dctun0",
        "private-key-file: gw.key",
        "listen-port: 51820",
        "addresses: [198.19.0.2/24]",
        "peers:",
        "  - name: siteA",
        "    public-key: " + PrivateKey.generate().publicKey().toBase64(),
        "    endpoint: 198.18.0.1:51820",
        "    allowed-ips: [198.18.10.0/24]",
        "ha:",
        "  priority: 150",
        "  advert-interval: 100",
        "  public: {interface: eth0, vrid: 51, vip: 198.18.0.100/24}",
        "  private: {interface: eth1, vrid: 52, vip: 198.18.20.1/24}",
        "  track:",
        "    peer-handshake: {within: 10, weight: 50}",
        extra,
        ""));
    return ConfigLoader.load(yaml);
  }

  static final Output NOWHERE = new Output() {
    @Override
    public void sendToNetwork(Endpoint to, byte[] buf, int off, int len) {}

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {}
  };

  @Test
  void thePairsStateReachesTheNotifyCommandsAndTheStatus() throws Exception {
    Path notified = dir.resolve("notified");
    GatewayConfig cfg = load("  notify: {master: 'echo \"$DCTUN_HA_STATE $DCTUN_HA_INSTANCE\" >> " + notified
        + "', backup: 'echo $DCTUN_HA_STATE >> " + notified + "'}");
    HaSection ha = cfg.ha().orElseThrow();
    assertThat(HaController.gate(cfg, NOWHERE)).isInstanceOf(OutputGate.class);
    OutputGate gate = (OutputGate) HaController.gate(cfg, NOWHERE);
    ManualClock clock = new ManualClock();
    Device device = new Device(cfg.privateKey(), 1420, gate, clock);
    device.addPeer(PeerConfig.of(cfg.peers().get(0).publicKey(), UdpEndpoint.of("198.18.0.1", 51820),
        "198.18.10.0/24"));
    SyncSession sync = new SyncSession(cfg.privateKey().deriveSecret(HaController.SYNC_KEY_LABEL), 1, null, device,
        100_000);
    HaNotify notify = new HaNotify(ha.notifyCommands());
    List<String> conditions = new ArrayList<>();
    GatewayPair pair = new GatewayPair(ha.pair(), device, gate, sync, notify::fire);
    pair.useVrrp(new GatewayPair.Vrrp() {
      @Override
      public void setCondition(String condition, boolean healthy) {
        conditions.add(condition + "=" + healthy);
      }

      @Override
      public void announce() {}
    });
    try (HaController c = new HaController(pair, notify)) {
      assertThat(c.status()).contains("ha.dctun-public.state INITIALIZE\n", "ha.tunnel muted\n",
          "ha.handshake.failed-as-master no\n", "ha.takeovers 0\n", "ha.sync.bad-mac 0\n",
          "ha.sync.drop.UNKNOWN_PEER 0\n");
      pair.listener().stateChanged("dctun-public", VrrpState.INITIALIZE, VrrpState.BACKUP, "test");
      pair.listener().stateChanged("dctun-public", VrrpState.BACKUP, VrrpState.MASTER, "test");
      assertThat(c.isMaster()).isTrue();
      assertThat(c.status()).contains("ha.tunnel sending\n", "ha.takeovers 1\n", "ha.releases 0\n");
      // The initiation went nowhere: past N s as master without a handshake, the box lowers itself.
      pair.tick();
      clock.now += 10 * S;
      pair.tick();
      assertThat(conditions).containsExactly("peer-handshake=true", "peer-handshake=false");
      assertThat(c.status()).contains("ha.handshake.failed-as-master yes\n");
    }
    assertThat(gate.isOpen()).as("closed with the controller").isFalse();
    assertThat(Files.readAllLines(notified)).containsExactly("BACKUP", "MASTER dctun-public");
    device.close();
  }

  @Test
  void aGatewayWithoutHaSendsUngated() throws Exception {
    PrivateKey key = PrivateKey.generate();
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), key);
    Path yaml = dir.resolve("gw.yaml");
    Files.writeString(yaml, "private-key-file: gw.key\nlisten-port: 51820\n");
    GatewayConfig cfg = ConfigLoader.load(yaml);
    assertThat(cfg.ha()).isEmpty();
    assertThat(HaController.gate(cfg, NOWHERE)).isSameAs(NOWHERE);
    assertThat(HaController.start(cfg, null, NOWHERE, null)).isNull();
  }
}
