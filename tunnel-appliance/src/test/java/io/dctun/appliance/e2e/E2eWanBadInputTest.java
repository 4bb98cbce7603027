package io.dctun.appliance.e2e;

import static io.dctun.appliance.e2e.Sites.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Pcap;
import io.dctun.core.testing.Requirements;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile or broken datagrams sent to gwA's tunnel port from the WAN: each is dropped and counted
 * under its reason, and the established session survives them (same handshake, same endpoint,
 * pings still pass).
 */
@Timeout(90)
class E2eWanBadInputTest {
  private static final SecureRandom RANDOM = new SecureRandom();

  @BeforeEach
  void requirements() {
    Sites.assumeRequirements();
    Requirements.assumeCommand("tcpdump");
  }

  @Test
  void badDatagramsAreCountedAndTheSessionSurvives() throws Exception {
    try (Sites s = new Sites()) {
      PrivateKey ka = PrivateKey.generate();
      PrivateKey kb = PrivateKey.generate();
      Sites.Gw a = s.startGateway(s.gwA, "gwA", ka, PORT, TUN_A + "/24", List.of(new PeerSpec("siteB",
          publicKeyOf(kb), WAN_B + ":" + PORT, List.of(LAN_B, TUN_B + "/32"), 0)));
      Sites.Gw b = s.startGateway(s.gwB, "gwB", kb, PORT, TUN_B + "/24", List.of(new PeerSpec("siteA",
          publicKeyOf(ka), WAN_A + ":" + PORT, List.of(LAN_A, TUN_A + "/32"), 0)));

      // A session, and one genuine transport message B -> A captured on A's WAN side (it reached A).
      Sites.Capture cap = s.capture(s.gwA, s.wanIfA, 0, 1,
          "udp and src host " + WAN_B + " and dst port " + PORT + " and udp[8] = 4 and udp[8:2] = 0x0400");
      assertPing(s.srvA, SRV_B, a, b);
      assertThat(cap.awaitExit(Duration.ofSeconds(5))).as("captured one transport message").isTrue();
      Path pcap = cap.stop();
      byte[] transport = Pcap.ipv4(pcap).stream().map(Pcap.Ipv4::udpPayload)
          .filter(u -> u != null && u.length >= 32 && u[0] == 4).findFirst().orElseThrow(
              () -> new AssertionError("no transport message in " + pcap));

      long handshake = a.awaitHandshake("siteB", Duration.ofSeconds(5));
      String endpoint = a.endpoint("siteB");
      assertThat(endpoint).endsWith(WAN_B + ":" + PORT);
      Map<String, Long> before = counters(a);

      // The bad input, each with the drop reason it must be counted under.
      Map<String, Integer> expected = new LinkedHashMap<>();
      List<String> datagrams = new ArrayList<>();
      byte[] garbage = random(64);
      garbage[0] = (byte) 0xde; // message type 0x...de: no such type
      add(datagrams, expected, "UNKNOWN_MESSAGE_TYPE", garbage);
      add(datagrams, expected, "UNKNOWN_MESSAGE_TYPE", new byte[] {1, 0}); // shorter than a type field
      byte[] shortInit = new byte[100];
      shortInit[0] = 1; // initiation, but 100 bytes instead of 148
      add(datagrams, expected, "BAD_MESSAGE_LENGTH", shortInit);
      byte[] forgedInit = random(148);
      forgedInit[0] = 1;
      forgedInit[1] = forgedInit[2] = forgedInit[3] = 0; // right length, mac1 not made with A's key
      add(datagrams, expected, "BAD_MAC1", forgedInit);
      add(datagrams, expected, "UNKNOWN_PEER", initiationFromUnknownKey(ka.publicKey()));
      byte[] strangerIndex = new byte[32];
      strangerIndex[0] = 4;
      int ownIndex = ByteBuffer.wrap(transport).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
      ByteBuffer.wrap(strangerIndex).order(ByteOrder.LITTLE_ENDIAN).putInt(4, ~ownIndex);
      add(datagrams, expected, "UNKNOWN_RECEIVER_INDEX", strangerIndex);
      add(datagrams, expected, "REPLAYED_COUNTER", transport);
      // The same message claiming a far-future counter: fails authentication, and must not move
      // the replay window (else every later genuine packet would be "replayed").
      byte[] futureCounter = transport.clone();
      ByteBuffer.wrap(futureCounter).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 1L << 40);
      add(datagrams, expected, "DECRYPT_FAILED", futureCounter);

      List<String> cmd = new ArrayList<>(Sites.javaCommand());
      cmd.addAll(List.of(UdpBlaster.class.getName(), WAN_A, Integer.toString(PORT)));
      cmd.addAll(datagrams);
      ExecResult sent = s.gwB.exec(Duration.ofSeconds(30), cmd.toArray(String[]::new));
      assertThat(sent.ok()).as(sent.describe()).isTrue();
      assertThat(sent.stdout()).contains("sent " + datagrams.size());

      // Counters are written every second: wait (bounded) until every reason has moved enough.
      Map<String, Long> delta = Map.of();
      long deadline = System.nanoTime() + Duration.ofSeconds(8).toNanos();
      for (int i = 0; i < 100 && System.nanoTime() < deadline; i++) {
        delta = delta(before, counters(a));
        Map<String, Long> d = delta;
        if (expected.entrySet().stream().allMatch(e -> d.getOrDefault(e.getKey(), 0L) >= e.getValue())) {
          break;
        }
        Sites.sleep(200);
      }
      Map<String, Long> want = new LinkedHashMap<>();
      expected.forEach((k, v) -> want.put(k, (long) v));
      assertThat(delta).as("drop counters that moved on gwA\n%s", a.describe()).isEqualTo(want);

      // The session survived: same handshake, same endpoint, traffic both ways.
      assertPing(s.srvA, SRV_B, a, b);
      assertPing(s.srvB, SRV_A, a, b);
      assertThat(a.latestHandshake("siteB")).as("no new handshake").isEqualTo(handshake);
      assertThat(a.endpoint("siteB")).as("a replayed or forged packet must not move the endpoint")
          .isEqualTo(endpoint);
      Map<String, Long> after = delta(before, counters(a));
      assertThat(after).as("no further drops from genuine traffic").isEqualTo(want);

      a.stopAndAssertClean();
      b.stopAndAssertClean();
    }
  }

  private static void add(List<String> datagrams, Map<String, Integer> expected, String reason, byte[] d) {
    datagrams.add(HexFormat.of().formatHex(d));
    expected.merge(reason, 1, Integer::sum);
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  /** A well-formed 148-byte initiation to {@code target} from a key it has never heard of. */
  private static byte[] initiationFromUnknownKey(PublicKey target) {
    List<byte[]> sent = new ArrayList<>();
    Output out = new Output() {
      @Override
      public void sendToNetwork(io.dctun.core.transport.Endpoint endpoint, byte[] buf, int off, int len) {
        sent.add(java.util.Arrays.copyOfRange(buf, off, off + len));
      }

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {}
    };
    Device stranger = new Device(PrivateKey.generate(), 1420, out, Clock.SYSTEM);
    stranger.addPeer(new io.dctun.core.session.PeerConfig("gwA", target, null,
        io.dctun.core.transport.UdpEndpoint.of(new InetSocketAddress(WAN_A, PORT)), List.of(), 0));
    stranger.initiate(target, Clock.SYSTEM.nanoTime());
    stranger.close();
    assertThat(sent).hasSize(1);
    assertThat(sent.get(0)).hasSize(148);
    assertThat(sent.get(0)[0]).isEqualTo((byte) 1);
    return sent.get(0);
  }

  /** Every drop counter of {@code gw}'s last status snapshot. */
  private static Map<String, Long> counters(Sites.Gw gw) {
    Map<String, Long> m = new LinkedHashMap<>();
    gw.status().forEach((k, v) -> {
      if (k.startsWith("drop.")) {
        m.put(k.substring(5), Long.parseLong(v));
      }
    });
    assertThat(m).as("drop counters in %s", gw.status).isNotEmpty();
    return m;
  }

  /** The counters that changed, with how much. */
  private static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> now) {
    Map<String, Long> d = new LinkedHashMap<>();
    now.forEach((k, v) -> {
      long diff = v - before.getOrDefault(k, 0L);
      if (diff != 0) {
        d.put(k, diff);
      }
    });
    return d;
  }
}
