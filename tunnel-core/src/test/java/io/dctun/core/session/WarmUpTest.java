package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.crypto.Aead;
import org.junit.jupiter.api.Test;

class WarmUpTest {
  @Test
  void aWholeHandshakeAndAPacketEachWayGoBetweenTheTwoDevices() {
    // initiation, response, data, data: the exchange really ran (it throws if a packet was lost)
    assertThat(WarmUp.handshake(null)).isEqualTo(4);
    for (Aead.Impl impl : Aead.Impl.values()) {
      assertThat(WarmUp.handshake(impl)).as(impl.name()).isEqualTo(4);
    }
  }
}
