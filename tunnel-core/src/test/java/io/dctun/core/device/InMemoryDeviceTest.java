package io.dctun.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class InMemoryDeviceTest {

  private static byte[] packet(int len, int seed) {
    byte[] p = new byte[len];
    for (int i = 0; i < len; i++) {
      p[i] = (byte) (seed + i);
    }
    return p;
  }

  @Test
  void readsInjectedPacketAtOffset() throws IOException {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      byte[] p = packet(60, 7);
      assertThat(dev.inject(p)).isTrue();
      p[0] = 99; // the device copied it
      byte[] buf = new byte[16 + 1420 + 16];
      int n = dev.read(buf, 16, 1420);
      assertThat(n).isEqualTo(60);
      assertThat(java.util.Arrays.copyOfRange(buf, 16, 76)).isEqualTo(packet(60, 7));
      assertThat(buf[15]).isZero();
      assertThat(dev.pendingInjected()).isZero();
    }
  }

  @Test
  void writtenPacketsComeOutInOrder() throws Exception {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      byte[] buf = new byte[100];
      System.arraycopy(packet(40, 1), 0, buf, 16, 40);
      dev.write(buf, 16, 40);
      dev.write(packet(20, 2), 0, 20);
      assertThat(dev.pendingWritten()).isEqualTo(2);
      assertThat(dev.takeWritten(Duration.ofSeconds(1))).isEqualTo(packet(40, 1));
      assertThat(dev.pollWritten()).isEqualTo(packet(20, 2));
      assertThat(dev.pollWritten()).isNull();
    }
  }

  @Test
  void takeWrittenTimesOutWithNull() throws Exception {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      long t0 = System.nanoTime();
      assertThat(dev.takeWritten(Duration.ofMillis(50))).isNull();
      assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(45));
    }
  }

  @Test
  void takeWrittenWakesOnWriteFromAnotherThread() throws Exception {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      CompletableFuture<byte[]> got =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return dev.takeWritten(Duration.ofSeconds(5));
                } catch (InterruptedException e) {
                  throw new RuntimeException(e);
                }
              });
      Thread.sleep(20);
      dev.write(packet(10, 3), 0, 10);
      assertThat(got.get(5, TimeUnit.SECONDS)).isEqualTo(packet(10, 3));
    }
  }

  @Test
  void countsDropsWhenFull() throws IOException {
    try (InMemoryDevice dev = new InMemoryDevice("mem0", 1420, 2)) {
      assertThat(dev.inject(packet(10, 0))).isTrue();
      assertThat(dev.inject(packet(10, 1))).isTrue();
      assertThat(dev.inject(packet(10, 2))).isFalse();
      assertThat(dev.injectDrops()).isEqualTo(1);

      dev.write(packet(10, 0), 0, 10);
      dev.write(packet(10, 1), 0, 10);
      dev.write(packet(10, 2), 0, 10);
      dev.write(packet(10, 3), 0, 10);
      assertThat(dev.writeDrops()).isEqualTo(2);
      assertThat(dev.pollWritten()).isEqualTo(packet(10, 0));
      assertThat(dev.pollWritten()).isEqualTo(packet(10, 1));
      assertThat(dev.pollWritten()).isNull();
    }
  }

  @Test
  void writeLongerThanMtuIsDroppedAndCounted() throws IOException {
    try (InMemoryDevice dev = new InMemoryDevice("mem0", 100, 8)) {
      dev.write(new byte[101], 0, 101);
      assertThat(dev.writeDrops()).isEqualTo(1);
      assertThat(dev.pollWritten()).isNull();
    }
  }

  @Test
  void injectLongerThanMtuIsRefused() {
    try (InMemoryDevice dev = new InMemoryDevice("mem0", 100, 8)) {
      assertThatThrownBy(() -> dev.inject(new byte[101]))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("101")
          .hasMessageContaining("100");
    }
  }

  @Test
  void readSkipsAndCountsPacketTooLongForBuffer() throws IOException {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      dev.inject(packet(200, 0));
      dev.inject(packet(50, 1));
      byte[] buf = new byte[100];
      assertThat(dev.read(buf, 0, 100)).isEqualTo(50);
      assertThat(dev.oversizeDrops()).isEqualTo(1);
    }
  }

  @Test
  void readBatchTakesWaitingPacketsWithoutBlocking() throws IOException {
    try (InMemoryDevice dev = new InMemoryDevice("mem0")) {
      for (int i = 0; i < 3; i++) {
        dev.inject(packet(20 + i, i));
      }
      byte[][] bufs = new byte[8][200];
      int[] lengths = new int[8];
      assertThat(dev.readBatch(bufs, 16, lengths)).isEqualTo(3);
      for (int i = 0; i < 3; i++) {
        assertThat(lengths[i]).isEqualTo(20 + i);
        assertThat(java.util.Arrays.copyOfRange(bufs[i], 16, 16 + lengths[i]))
            .isEqualTo(packet(20 + i, i));
      }
    }
  }

  @Test
  void closeWakesBlockedReaderWithMinusOne() throws Exception {
    InMemoryDevice dev = new InMemoryDevice("mem0");
    CompletableFuture<Integer> r =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return dev.read(new byte[1500], 0, 1500);
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            });
    Thread.sleep(50);
    assertThat(r).isNotDone();
    dev.close();
    assertThat(r.get(2, TimeUnit.SECONDS)).isEqualTo(-1);
    assertThat(dev.read(new byte[10], 0, 10)).isEqualTo(-1);
    assertThat(dev.readBatch(new byte[2][10], 0, new int[2])).isEqualTo(-1);
    assertThat(dev.isClosed()).isTrue();
  }

  @Test
  void afterCloseInjectIsRefusedWriteThrowsAndWrittenPacketsRemain() throws Exception {
    InMemoryDevice dev = new InMemoryDevice("mem0");
    dev.inject(packet(10, 0));
    dev.write(packet(10, 1), 0, 10);
    dev.close();
    dev.close();
    assertThat(dev.inject(packet(10, 0))).isFalse();
    assertThat(dev.injectDrops()).isZero();
    assertThat(dev.read(new byte[100], 0, 100)).isEqualTo(-1);
    assertThatThrownBy(() -> dev.write(packet(10, 2), 0, 10))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("mem0");
    assertThat(dev.takeWritten(Duration.ofMillis(10))).isEqualTo(packet(10, 1));
    assertThat(dev.takeWritten(Duration.ofSeconds(5))).isNull();
  }
}
