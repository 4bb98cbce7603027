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
}
