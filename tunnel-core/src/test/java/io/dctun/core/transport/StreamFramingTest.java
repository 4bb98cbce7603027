package io.dctun.core.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StreamFramingTest {

  static byte[] frame(byte[]... messages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] m : messages) {
      byte[] p = new byte[2];
      StreamFraming.writePrefix(p, 0, m.length);
      out.writeBytes(p);
      out.writeBytes(m);
    }
    return out.toByteArray();
  }

  static byte[] message(SplittableRandom r, int len) {
    byte[] m = new byte[len];
    for (int i = 0; i < len; i++) {
      m[i] = (byte) r.nextInt();
    }
    return m;
  }

  @Test
  void everySplitOfTheStreamGivesTheSameMessages() throws Exception {
    SplittableRandom r = new SplittableRandom(7);
    byte[][] msgs = {message(r, 148), message(r, 1), message(r, 92), message(r, StreamFraming.MAX_MESSAGE), message(r, 32)};
    byte[] stream = frame(msgs);
    for (int trial = 0; trial < 200; trial++) {
      StreamFraming f = new StreamFraming();
      List<byte[]> got = new ArrayList<>();
      int at = 0;
      while (at < stream.length) {
        int n = trial == 0 ? 1 : Math.min(stream.length - at, 1 + r.nextInt(trial < 100 ? 7 : 70_000));
        f.feed(stream, at, n, (b, o, l) -> got.add(Arrays.copyOfRange(b, o, o + l)));
        at += n;
      }
      assertThat(got).as("trial %d", trial).hasSize(msgs.length);
      for (int i = 0; i < msgs.length; i++) {
        assertThat(got.get(i)).as("trial %d message %d", trial, i).isEqualTo(msgs[i]);
      }
      assertThat(f.buffered()).isZero();
    }
  }

  @Test
  void aZeroLengthFrameIsNotThisProtocol() {
    StreamFraming f = new StreamFraming();
    assertThatThrownBy(() -> f.feed(new byte[] {0, 0, 1, 2}, 0, 4, (b, o, l) -> {}))
        .isInstanceOf(StreamFraming.FramingException.class).hasMessageContaining("zero-length");
  }

  @Test
  void prefixesOutsideOneToMaxAreRefused() {
    assertThatThrownBy(() -> StreamFraming.writePrefix(new byte[2], 0, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StreamFraming.writePrefix(new byte[2], 0, 65_536)).isInstanceOf(IllegalArgumentException.class);
  }
}
