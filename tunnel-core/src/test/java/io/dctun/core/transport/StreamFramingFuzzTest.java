package io.dctun.core.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Fuzz target for the TCP/TLS stream framing: a stream cut into arbitrary reads must decode to the
 * same messages as the whole stream at once, every message is whole and within bounds, and the
 * only failure is the documented {@link StreamFraming.FramingException}, at the same place.
 */
class StreamFramingFuzzTest {

  @FuzzTest(maxDuration = "5s")
  void anySplitGivesTheSameMessages(FuzzedDataProvider in) {
    int[] cuts = new int[in.consumeInt(0, 16)];
    for (int i = 0; i < cuts.length; i++) {
      cuts[i] = in.consumeInt(1, 70_000);
    }
    byte[] stream = in.consumeRemainingAsBytes();

    Outcome whole = decode(stream, new int[0]);
    Outcome split = decode(stream, cuts);
    assertThat(split.messages.toByteArray()).isEqualTo(whole.messages.toByteArray());
    assertThat(split.count).isEqualTo(whole.count);
    assertThat(split.failed).isEqualTo(whole.failed);
    if (!whole.failed) {
      // Everything not handed out is a partial message waiting for its rest.
      assertThat(whole.consumedByMessages + whole.buffered).isEqualTo(stream.length);
    }
  }

  private static final class Outcome {
    final ByteArrayOutputStream messages = new ByteArrayOutputStream();
    int count;
    int consumedByMessages;
    int buffered;
    boolean failed;
  }

  private static Outcome decode(byte[] stream, int[] cuts) {
    StreamFraming f = new StreamFraming();
    Outcome o = new Outcome();
    StreamFraming.Sink sink = (buf, off, len) -> {
      assertThat(len).isBetween(1, StreamFraming.MAX_MESSAGE);
      assertThat(off).isGreaterThanOrEqualTo(0);
      assertThat(off + len).isLessThanOrEqualTo(buf.length);
      byte[] m = Arrays.copyOfRange(buf, off, off + len);
      o.messages.write(len >>> 8);
      o.messages.write(len);
      o.messages.writeBytes(m);
      o.count++;
      o.consumedByMessages += StreamFraming.PREFIX + len;
    };
    int at = 0;
    int c = 0;
    try {
      while (at < stream.length) {
        int n = c < cuts.length ? Math.min(cuts[c++], stream.length - at) : stream.length - at;
        // Each read lands at an offset inside a bigger buffer, as a socket read would.
        byte[] read = new byte[n + 3];
        System.arraycopy(stream, at, read, 3, n);
        f.feed(read, 3, n, sink);
        at += n;
      }
    } catch (StreamFraming.FramingException e) {
      o.failed = true;
    }
    o.buffered = f.buffered();
    return o;
  }
}
