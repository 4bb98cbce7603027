package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * A keypair that rotates out of its peer's three slots is destroyed: its keys are zeroed
 * ({@code TransportCipherDestroyTest} shows what that means per implementation) and it neither
 * seals nor opens again, so a thread still holding it can never seal under a zeroed key.
 */
class KeypairWipeTest {

  @Test
  void aKeypairThatLeavesEverySlotIsDestroyedAndTrafficGoesOn() {
    Pair p = new Pair(true);
    p.send(p.a, Pair.ping("198.18.1.1", "198.18.2.1", 1));
    p.pump();
    Keypair first = p.bAtA.currentKeypair();
    assertThat(first).isNotNull();
    byte[] buf = new byte[128];
    assertThat(first.seal(first.nextCounter(), buf, 16, 32)).as("in use: seals").isEqualTo(48);

    for (int i = 0; i < 2; i++) { // two rekeys: current -> previous -> gone
      p.advance(6);
      p.a.initiateNow(p.keyB.publicKey(), p.clock.now);
      p.pump();
    }
    Keypair now = p.bAtA.currentKeypair();
    assertThat(now).isNotSameAs(first);

    assertThat(first.seal(first.nextCounter(), buf, 16, 32)).as("rotated out: refuses to seal").isEqualTo(-1);
    assertThat(first.open(0, buf, 16, 48)).as("and to open").isEqualTo(-1);

    int delivered = p.netB.delivered.size();
    p.send(p.a, Pair.ping("198.18.1.1", "198.18.2.1", 2));
    p.pump();
    assertThat(p.netB.delivered).hasSize(delivered + 1);
  }

  @Test
  void removingAPeerDestroysItsKeypairs() {
    Pair p = new Pair(true);
    p.send(p.a, Pair.ping("198.18.1.1", "198.18.2.1", 1));
    p.pump();
    Keypair kp = p.bAtA.currentKeypair();
    p.a.removePeer(p.keyB.publicKey());
    assertThat(kp.seal(kp.nextCounter(), new byte[128], 16, 32)).isEqualTo(-1);
  }
}
