package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * What an embedding program gets when it prints the status objects it reads ({@code
 * device.drops()}, the device, its control channel): the counts, by reason, and never a secret.
 */
class StatusToStringTest {

  @Test
  void dropCountersPrintTheTotalAndEachNonZeroReasonInEnumOrder() {
    DropCounters d = new DropCounters("device test");
    assertThat(d).hasToString("DropCounters[device test: none dropped]");

    d.drop(DropReason.NO_ROUTE, 0, "198.18.9.9");
    d.drop(DropReason.BAD_MAC1, 1, "198.18.0.7:51820");
    d.drop(DropReason.NO_ROUTE, 2, "198.18.9.9");
    assertThat(d).hasToString("DropCounters[device test: 3 dropped: BAD_MAC1=1, NO_ROUTE=2]");
    assertThat(d.toString()).as("the details a drop was logged with are not kept").doesNotContain("198.18");
  }

  @Test
  void aDevicePrintsItsPublicKeyPeersAndDropsButNotItsPrivateKey() {
    Pair p = new Pair(true);
    p.b.inbound(new byte[3], 0, 3, Pair.EP_A, p.clock.now); // one datagram too short to be WireGuard
    p.b.inbound(new byte[3], 0, 3, Pair.EP_A, p.clock.now);

    String device = p.b.toString();
    assertThat(device).isEqualTo("Device[" + p.keyB.publicKey() + ", mtu 1420, 1 peer, 0 forwarded, 2 dropped]");
    String drops = p.b.drops().toString();
    assertThat(drops).isEqualTo("DropCounters[device " + p.keyB.publicKey().toBase64().substring(0, 8)
        + ": 2 dropped: UNKNOWN_MESSAGE_TYPE=2]");
    for (String s : new String[] {device, drops, p.b.control().toString()}) {
      assertThat(s).doesNotContain(p.keyB.toBase64());
    }
  }

  @Test
  void theControlChannelPrintsItsCountsAndTheTypesItHandles() {
    Pair p = new Pair(true);
    assertThat(p.a.control()).hasToString("ControlChannel[sent=0, received=0, handlers for types none]");
    p.a.control().register(7, (from, type, buf, off, len, now) -> { });
    p.a.control().register(2, (from, type, buf, off, len, now) -> { });
    assertThat(p.a.control()).hasToString("ControlChannel[sent=0, received=0, handlers for types 2, 7]");
  }
}
