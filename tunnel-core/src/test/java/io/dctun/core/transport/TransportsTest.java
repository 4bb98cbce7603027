package io.dctun.core.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The endpoint type, the choice of transport per endpoint, and the in-memory network's rules. */
class TransportsTest {

  /** A transport that records what it was asked to send and carries one address family. */
  static final class Recording implements Transport {
    final boolean v6;
    final List<Endpoint> sentTo = new ArrayList<>();
    int batches;
    int flushes;
    boolean closed;

    Recording(boolean v6) {
      this.v6 = v6;
    }

    @Override
    public void start(Receiver receiver) {}

    @Override
    public boolean carries(Endpoint to) {
      return to instanceof UdpEndpoint u && u.isIpv6() == v6;
    }

    @Override
    public void send(Endpoint to, byte[] buf, int off, int len) {
      sentTo.add(to);
    }

    @Override
    public void beginBatch() {
      batches++;
    }

    @Override
    public void flush() {
      flushes++;
    }

    @Override
    public long sendErrors() {
      return 0;
    }

    @Override
    public String kind() {
      return v6 ? "v6" : "v4";
    }

    @Override
    public void close() {
      closed = true;
      throw new IllegalStateException("close failed"); // must not stop the others from closing
    }
  }

  /** A carrier no UDP transport knows. */
  record Other(String name) implements Endpoint {
    @Override
    public InetSocketAddress address() {
      return null;
    }

    @Override
    public String carrier() {
      return "other";
    }
  }

  @Test
  void udpEndpointsAreValuesAndPrintAsWgDoes() {
    UdpEndpoint a = UdpEndpoint.of("198.18.0.1", 51820);
    assertThat(a).isEqualTo(UdpEndpoint.of(new InetSocketAddress("198.18.0.1", 51820))).hasSameHashCodeAs(UdpEndpoint.of("198.18.0.1", 51820));
    assertThat(a).isNotEqualTo(UdpEndpoint.of("198.18.0.1", 51821));
    assertThat(a.toString()).isEqualTo("198.18.0.1:51820");
    assertThat(a.isIpv6()).isFalse();
    UdpEndpoint b = UdpEndpoint.of("2001:db8::2", 51820);
    assertThat(b.toString()).isEqualTo("[2001:db8::2]:51820");
    assertThat(b.isIpv6()).isTrue();
    assertThat(b.carrier()).isEqualTo("udp");
    assertThat(UdpEndpoint.ofNullable(null)).isNull();
  }

  @Test
  void udpEndpointRefusesNamesAndUnresolvedAddresses() {
    assertThatThrownBy(() -> UdpEndpoint.of("gateway.example", 51820)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> UdpEndpoint.of(InetSocketAddress.createUnresolved("gateway.example", 1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not resolved");
  }

  @Test
  void eachEndpointGoesThroughTheFirstTransportThatCarriesIt() {
    Recording v4 = new Recording(false);
    Recording v6 = new Recording(true);
    Transports t = Transports.of(v4, v6);
    UdpEndpoint four = UdpEndpoint.of("198.18.0.1", 1);
    UdpEndpoint six = UdpEndpoint.of("2001:db8::1", 1);
    t.send(four, new byte[4], 0, 4);
    t.send(six, new byte[4], 0, 4);
    t.send(new Other("x"), new byte[4], 0, 4);
    assertThat(v4.sentTo).containsExactly(four);
    assertThat(v6.sentTo).containsExactly(six);
    assertThat(t.unroutable()).as("the carrier nobody has").isEqualTo(1);
    assertThat(t.carrierOf(six)).isSameAs(v6);
    t.beginBatch();
    t.flush();
    assertThat(v4.batches + v6.batches).isEqualTo(2);
    assertThat(v4.flushes + v6.flushes).isEqualTo(2);
  }

  @Test
  void aSingleTransportStillRefusesWhatItDoesNotCarry() {
    Recording v4 = new Recording(false);
    Transports t = Transports.of(v4);
    t.send(UdpEndpoint.of("2001:db8::1", 1), new byte[4], 0, 4);
    assertThat(v4.sentTo).isEmpty();
    assertThat(t.unroutable()).isEqualTo(1);
  }

  @Test
  void closeClosesEveryTransportEvenWhenOneFails() {
    Recording v4 = new Recording(false);
    Recording v6 = new Recording(true);
    Transports.of(v4, v6).close();
    assertThat(v4.closed).isTrue();
    assertThat(v6.closed).isTrue();
  }

  @Test
  void anEngineNeedsATransport() {
    assertThatThrownBy(() -> new Transports(List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theInMemoryNetworkRefusesATakenAddressAndCountsTheUnreachable() {
    InMemoryNetwork net = new InMemoryNetwork();
    InetSocketAddress at = new InetSocketAddress("198.18.0.1", 51820);
    try (InMemoryNetwork.MemoryTransport a = net.bind(at)) {
      assertThatThrownBy(() -> net.bind(at)).isInstanceOf(IllegalStateException.class).hasMessageContaining("in use");
      a.send(UdpEndpoint.of("198.18.0.2", 51820), new byte[3], 0, 3);
      assertThat(net.unreachable()).isEqualTo(1);
      a.send(new Other("x"), new byte[3], 0, 3);
      assertThat(a.sendErrors()).as("not a UDP endpoint").isEqualTo(1);
    }
    net.bind(at).close(); // released by close
  }
}
