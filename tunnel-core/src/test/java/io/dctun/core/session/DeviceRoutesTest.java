package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.route.Prefix;
import io.dctun.core.route.RouteConflictException;
import io.dctun.core.route.RouteResult;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import org.junit.jupiter.api.Test;

/** The device's route table through the library API: one meaning for overlaps, conflicts refused whole. */
class DeviceRoutesTest {
  final FakeClock clock = new FakeClock();
  final Device d = new Device(PrivateKey.generate(), 1420, new Pair.Net(UdpEndpoint.of("198.18.0.1", 1), new java.util.ArrayDeque<>()), clock);
  final PublicKey b = PrivateKey.generate().publicKey();
  final PublicKey c = PrivateKey.generate().publicKey();

  Peer dest(String ip) {
    byte[] pkt = Pair.ping("198.18.1.1", ip, 1);
    return d.route(pkt, 0, pkt.length);
  }

  PeerConfig cfg(PublicKey k, String name, String... allowed) {
    return PeerConfig.of(k, UdpEndpoint.of("198.18.0.9", 1), allowed).withName(name);
  }

  @Test
  void theLongestPrefixWins() {
    d.addPeer(cfg(b, "b", "198.18.0.0/16"));
    d.addPeer(cfg(c, "c", "198.18.7.0/24"));
    assertThat(dest("198.18.7.9").name()).isEqualTo("c");
    assertThat(dest("198.18.8.9").name()).isEqualTo("b");
  }

  @Test
  void theSamePrefixForTwoPeersIsRefusedAndNothingOfItApplied() {
    d.addPeer(cfg(b, "b", "198.18.2.0/24"));
    assertThatThrownBy(() -> d.addPeer(cfg(c, "c", "198.18.3.0/24", "198.18.2.0/24")))
        .isInstanceOf(RouteConflictException.class)
        .hasMessageContaining("198.18.2.0/24").hasMessageContaining("Peer[b").hasMessageContaining("Peer[c");
    assertThat(d.peers()).extracting(Peer::name).containsExactly("b");
    assertThat(dest("198.18.3.1")).as("c's other prefix was rolled back").isNull();
    assertThat(dest("198.18.2.1").name()).isEqualTo("b");
  }

  @Test
  void aReconfigurationIntoAConflictLeavesThePeerAsItWas() {
    d.addPeer(cfg(b, "b", "198.18.2.0/24"));
    d.addPeer(cfg(c, "c", "198.18.3.0/24"));
    assertThatThrownBy(() -> d.addPeer(cfg(c, "c", "198.18.4.0/24", "198.18.2.0/24"))).isInstanceOf(RouteConflictException.class);
    assertThat(dest("198.18.3.1").name()).isEqualTo("c");
    assertThat(dest("198.18.4.1")).isNull();
    assertThat(d.peer(c).config().allowedIps()).containsExactly(Prefix.parse("198.18.3.0/24"));
    d.addPeer(cfg(c, "c", "198.18.4.0/24")); // a plain move: the old prefix goes, the new one comes
    assertThat(dest("198.18.3.1")).isNull();
    assertThat(dest("198.18.4.1").name()).isEqualTo("c");
  }

  @Test
  void learnedRoutesFollowVersionsExpireAndYieldToConfiguration() {
    d.addPeer(cfg(b, "b", "198.18.2.0/24"));
    d.addPeer(cfg(c, "c", "198.18.3.0/24"));
    Prefix host = Prefix.parse("198.18.9.7/32");
    assertThat(d.learnRoute(host, b, "gw-b", 5, clock.now + 1_000_000_000L)).isEqualTo(RouteResult.ADDED);
    assertThat(dest("198.18.9.7").name()).isEqualTo("b");
    assertThat(d.learnRoute(host, c, "gw-c", 4, Long.MAX_VALUE)).as("older").isEqualTo(RouteResult.STALE);
    assertThat(d.learnRoute(host, c, "gw-c", 6, clock.now + 1_000_000_000L)).isEqualTo(RouteResult.REPLACED);
    assertThat(dest("198.18.9.7").name()).isEqualTo("c");
    assertThat(d.forgetRoute(host, "gw-b")).as("not b's any more").isFalse();
    clock.advanceSeconds(1);
    d.tick(clock.now);
    assertThat(dest("198.18.9.7")).as("the lease ran out").isNull();
    assertThat(d.learnRoute(host, PrivateKey.generate().publicKey(), "x", 9, Long.MAX_VALUE)).as("unknown peer").isNull();
    assertThat(d.learnRoute(Prefix.parse("198.18.2.0/24"), c, "gw-c", 1, Long.MAX_VALUE)).isEqualTo(RouteResult.SHADOWED);
    assertThat(dest("198.18.2.1").name()).isEqualTo("b");
  }

  @Test
  void removingAPeerRemovesItsRoutes() {
    d.addPeer(cfg(b, "b", "198.18.2.0/24"));
    d.learnRoute(Prefix.parse("198.18.9.7/32"), b, "gw-b", 1, Long.MAX_VALUE);
    d.removePeer(b);
    assertThat(dest("198.18.2.1")).isNull();
    assertThat(dest("198.18.9.7")).isNull();
    assertThat(d.routes()).isEmpty();
  }
}
