package io.dctun.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Arrays;

/**
 * Fuzz target for the route-sharing messages a peer gateway sends over the control channel: any
 * payload decodes or is refused with {@link MeshCodec.MalformedMessageException}, nothing else,
 * and what decodes encodes back to the same bytes (one meaning per message).
 */
class MeshCodecFuzzTest {

  @FuzzTest(maxDuration = "5s")
  void decodeRefusesOrRoundTrips(byte[] payload) {
    byte[] buf = new byte[payload.length + 5];
    System.arraycopy(payload, 0, buf, 5, payload.length);
    MeshMessage m;
    try {
      m = MeshCodec.decode(buf, 5, payload.length);
    } catch (MeshCodec.MalformedMessageException e) {
      assertThat(e.getMessage()).isNotBlank();
      return;
    }
    byte[] again = MeshCodec.encode(m);
    assertThat(again).isEqualTo(Arrays.copyOf(payload, again.length));
    assertThat(again.length).as("trailing bytes are refused, not ignored").isEqualTo(payload.length);
  }
}
