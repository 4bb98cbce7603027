package io.dctun.core.uapi;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.Endpoint;
import io.dctun.crypto.PrivateKey;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fuzz target for the UAPI {@code set=1} request, what {@code wg set} and every wgctrl-based agent
 * send: whatever the lines, the answer is one {@code errno=N}, nothing throws, and a request that
 * fails changes nothing at all ({@code get=1} answers byte for byte as before: nothing
 * half-applied). The device starts with the two peers of {@link UapiTest#SET_AB}; the corpus
 * starts from that request.
 */
class UapiSetFuzzTest {
  private static final Pattern ERRNO = Pattern.compile("\\Aerrno=(-?[0-9]+)\n\n\\z");

  private static Uapi uapi;

  /** One device for every input (building one per input is 20 times slower than the request). */
  private static synchronized Uapi uapi() {
    if (uapi == null) {
      ManualClock clock = new ManualClock(1_000_000_000L, 1_790_000_000_000_000_000L);
      PrivateKey key = PrivateKey.fromBase64(UapiTest.PRIV);
      Device device = new Device(key, 1420, new Output() {
        @Override
        public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {}

        @Override
        public void deliverToDevice(byte[] buf, int off, int len) {}
      }, clock);
      uapi = new Uapi(device, key, SocketSettings.fixed(51820));
    }
    return uapi;
  }

  @FuzzTest(maxDuration = "5s")
  void aFailedSetChangesNothing(byte[] body) {
    Uapi uapi = uapi();
    // Back to the two peers of SET_AB, whatever the last input left.
    assertThat(talk(uapi, "set=1\nreplace_peers=true\n" + UapiTest.SET_AB.substring("set=1\n".length())))
        .isEqualTo("errno=0\n\n");
    String before = uapi.get();

    // One request: the fuzzed lines, without the blank line that would end it early.
    String lines = new String(body, ISO_8859_1).replaceAll("\n+", "\n").replaceAll("\\A\n|\n\\z", "");
    String answer = talk(uapi, "set=1\n" + lines + (lines.isEmpty() ? "" : "\n") + "\n");
    Matcher m = ERRNO.matcher(answer);
    assertThat(m.matches()).as("one errno answer, got %s", answer).isTrue();
    if (!m.group(1).equals("0")) {
      assertThat(uapi.get()).as("a failed set leaves the device as it was").isEqualTo(before);
    }
    assertThat(uapi.get()).isEqualTo(uapi.get()); // and it still answers
  }

  private static String talk(Uapi uapi, String request) {
    UapiConnection c = new UapiConnection(uapi, 1 << 20);
    byte[] in = request.getBytes(ISO_8859_1);
    c.receive(in, 0, in.length);
    return new String(c.takeOutput(), ISO_8859_1);
  }
}
