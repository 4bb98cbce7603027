package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.transport.NioUdpTransport;
import io.dctun.core.transport.UdpEndpoint;
import io.dctun.core.transport.UdpTransport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both UDP transports carry datagrams over IPv4 and IPv6 outer addresses, singly and in
 * batches, and report the sender. Loopback only (127.0.0.1 and ::1): nothing leaves the host.
 */
class UdpTransportLoopbackTest {

  private static UdpTransport bind(String kind, InetAddress a) throws Exception {
    return kind.equals("netty") ? NettyUdpTransport.bind(a, 0) : NioUdpTransport.bind(a, 0);
  }

  @org.junit.jupiter.api.Test
  void warmUpSendsToItselfOverLoopbackAndClosesItsSocket() throws Exception {
    assertThat(NettyUdpTransport.warmUp()).as("both datagrams came back").isTrue();
    assertThat(NettyUdpTransport.warmUp()).as("again: the first one closed its socket and loop").isTrue();
  }

  @ParameterizedTest
  @CsvSource({"netty, 127.0.0.1", "netty, ::1", "nio, 127.0.0.1", "nio, ::1"})
  void carriesSingleAndBatchedDatagramsWithTheirSender(String kind, String address) throws Exception {
    InetAddress a = InetAddress.getByName(address);
    try (UdpTransport rx = bind(kind, a); UdpTransport tx = bind(kind, a)) {
      LinkedBlockingQueue<Object[]> got = new LinkedBlockingQueue<>();
      rx.start((buf, off, len, from) -> got.add(new Object[] {Arrays.copyOfRange(buf, off, off + len), from}));
      tx.start((buf, off, len, from) -> { });
      UdpEndpoint to = UdpEndpoint.of(rx.localAddress());
      assertThat(to.address().getPort()).isPositive();

      byte[] one = {4, 0, 0, 0, 42};
      tx.send(to, one, 0, one.length); // not a batching thread: goes out at once
      Object[] first = got.poll(5, TimeUnit.SECONDS);
      assertThat(first).as("single datagram over %s/%s", kind, address).isNotNull();
      assertThat((byte[]) first[0]).containsExactly(one);
      assertThat(((UdpEndpoint) first[1]).address().getPort()).isEqualTo(tx.localAddress().getPort());
      assertThat(((UdpEndpoint) first[1]).address().getAddress()).isEqualTo(a);

      Thread batcher = new Thread(() -> {
        tx.beginBatch();
        byte[] buf = new byte[64];
        for (int i = 0; i < 20; i++) {
          buf[0] = (byte) i;
          tx.send(to, buf, 0, 10 + i); // the buffer is reused at once: the transport must copy
        }
        tx.flush();
      });
      batcher.start();
      batcher.join(5000);
      for (int i = 0; i < 20; i++) {
        Object[] d = got.poll(5, TimeUnit.SECONDS);
        assertThat(d).as("datagram %d of the batch", i).isNotNull();
        byte[] p = (byte[]) d[0];
        assertThat(p).hasSize(10 + p[0]);
      }
      assertThat(tx.sendErrors()).isZero();
    }
  }

  /**
   * With the event loop held (as a slow socket or a busy core would), batches pile up to the
   * send queue's bound and no further: the rest is dropped and counted, and exactly what was
   * queued arrives once the loop runs again. Before the bound, the queue grew without limit and
   * TCP inside the tunnel filled it (14.5 ms of RTT under one stream).
   */
  @org.junit.jupiter.api.Test
  void theSendQueueIsBoundedAndDropsWhatExceedsIt() throws Exception {
    InetAddress a = InetAddress.getByName("127.0.0.1");
    try (NettyUdpTransport rx = NettyUdpTransport.bind(a, 0); NettyUdpTransport tx = NettyUdpTransport.bind(a, 0)) {
      java.util.concurrent.atomic.AtomicInteger got = new java.util.concurrent.atomic.AtomicInteger();
      rx.start((buf, off, len, from) -> got.incrementAndGet());
      tx.start((buf, off, len, from) -> { });
      UdpEndpoint to = UdpEndpoint.of(rx.localAddress());
      java.util.concurrent.CountDownLatch hold = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
      tx.eventLoop().execute(() -> {
        held.countDown();
        try {
          hold.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      assertThat(held.await(5, TimeUnit.SECONDS)).isTrue();
      int size = 1000;
      int total = 400;
      int fits = tx.sendQueueBytes() / size;
      Thread batcher = new Thread(() -> {
        tx.beginBatch();
        byte[] buf = new byte[size];
        for (int i = 0; i < total; i++) {
          tx.send(to, buf, 0, size);
          if (i % 32 == 31) {
            tx.flush(); // as the engine does after each TUN read batch
          }
        }
        tx.flush();
      });
      batcher.start();
      batcher.join(5000);
      assertThat(batcher.isAlive()).isFalse();
      assertThat(fits).as("the test sends more than the bound").isLessThan(total);
      assertThat(tx.queueDrops()).as("what exceeded %d bytes", tx.sendQueueBytes()).isEqualTo(total - fits);
      hold.countDown();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (got.get() < fits && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(got.get()).as("what was queued arrives").isEqualTo(fits);
      assertThat(tx.sendErrors()).isZero();
      // Once drained, the queue takes sends again.
      tx.send(to, new byte[size], 0, size);
      deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (got.get() < fits + 1 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(got.get()).isEqualTo(fits + 1);
      assertThat(tx.queueDrops()).isEqualTo(total - fits);
    }
  }
}
