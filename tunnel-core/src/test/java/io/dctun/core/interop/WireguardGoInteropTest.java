package io.dctun.core.interop;

import static io.dctun.crypto.WireFormat.INIT_MAC1;
import static io.dctun.crypto.WireFormat.INITIATION_LENGTH;
import static io.dctun.crypto.WireFormat.TRANSPORT_MIN_LENGTH;
import static io.dctun.crypto.WireFormat.TYPE_COOKIE_REPLY;
import static io.dctun.crypto.WireFormat.TYPE_INITIATION;
import static io.dctun.crypto.WireFormat.TYPE_RESPONSE;
import static io.dctun.crypto.WireFormat.TYPE_TRANSPORT;
import static io.dctun.crypto.WireFormat.getIntLE;
import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.Clock;
import io.dctun.core.packet.IcmpEcho;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.Device;
import io.dctun.core.session.DropReason;
import io.dctun.core.session.Output;
import io.dctun.core.session.Peer;
import io.dctun.core.session.PeerConfig;
import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import io.dctun.core.testing.Topology;
import io.dctun.core.testing.WireguardGo;
import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.net.InetAddress;
import io.dctun.core.transport.Endpoint;
import io.dctun.core.transport.UdpEndpoint;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proof that dctun speaks WireGuard: a {@link Device} driven by a plain {@link DatagramChannel} in the
 * JVM's (root) network namespace talks to Debian's stock wireguard-go running in a test namespace, across a
 * veth pair. No TUN on the Java side; the namespace's kernel answers (and sends) pings through wireguard-go.
 *
 * <pre>
 *   root ns (JVM)                                      dt-wgi-ID
 *   Device 198.19.N.1 -- DatagramChannel 198.18.N.1 ==veth== 198.18.N.2:51820 wireguard-go wgIF 198.19.N.2/24
 * </pre>
 *
 * Every wait is bounded by a deadline; everything is torn down by {@link Topology#close()} even on failure.
 * Needs root, network namespaces, /dev/net/tun, wireguard-go, wg and ping; skipped with a message otherwise.
 */
@Timeout(120)
class WireguardGoInteropTest {

  private static final int MTU = 1420;
  private static final int WG_PORT = 51820;
  private static final int ICMP_ID = 0x4d71;
  private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(5);

  @BeforeEach
  void requirements() {
    Requirements.assumeRoot();
    Requirements.assumeWireguardGo();
    Requirements.assumeCommand("ping");
  }

  // ------------------------------------------------------------------ tests

  /** Each data-path cipher against the real thing: the JDK's, and dctun's own allocation-free one. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(value = io.dctun.crypto.Aead.Impl.class, names = {"JDK", "JAVA"})
  void javaInitiatesAndWireguardGoAnswersPings(io.dctun.crypto.Aead.Impl aead) throws Exception {
    try (Fixture f = new Fixture(false, aead)) {
      Peer peer = f.javaPeer();
      for (int seq = 1; seq <= 20; seq++) {
        f.pingFromJava(seq);
      }
      assertThat(peer.currentKeypair()).as("Java keypair\n%s", f.diag()).isNotNull();
      assertThat(peer.currentKeypair().isInitiator()).isTrue();
      assertThat(peer.rxBytes()).isPositive();
      assertThat(peer.txBytes()).isPositive();
      assertThat(f.java.sent(TYPE_INITIATION)).as("initiations sent\n%s", f.diag()).isGreaterThanOrEqualTo(1);
      assertThat(f.java.received(TYPE_RESPONSE)).isGreaterThanOrEqualTo(1);

      WireguardGo.PeerStats st = f.wg.awaitHandshake(f.java.publicKeyBase64(), Duration.ofSeconds(5));
      assertThat(st.latestHandshake()).isPresent();
      assertThat(st.rxBytes()).as("wg rx\n%s", f.diag()).isPositive();
      assertThat(st.txBytes()).as("wg tx\n%s", f.diag()).isPositive();
      assertThat(st.endpoint()).isEqualTo(f.javaOuter + ":" + f.java.localPort());
      assertThat(st.allowedIps()).containsExactly(f.javaInner + "/32");
      f.assertHealthy();
    }
  }

  @Test
  void wireguardGoInitiatesToDialInOnlyJavaPeer() throws Exception {
    try (Fixture f = new Fixture(true)) {
      Peer peer = f.javaPeer();
      assertThat(peer.endpoint()).as("dial-in only: no endpoint before wireguard-go calls").isNull();

      PingResult r = f.pingFromNamespace(3);
      assertThat(r.exec().ok()).as("ping in the namespace\n%s\n%s", r.exec().describe(), f.diag()).isTrue();
      assertThat(r.received()).as("echo replies received by ping\n%s", r.exec().describe())
          .isGreaterThanOrEqualTo(3).isLessThanOrEqualTo(r.transmitted());
      assertThat(r.answered()).as("echo requests the Java side answered").isGreaterThanOrEqualTo(3);

      assertThat(peer.endpoint()).as("endpoint learned from wireguard-go").isEqualTo(UdpEndpoint.of(f.wgEndpoint));
      assertThat(f.java.sent(TYPE_INITIATION)).as("Java must only respond\n%s", f.diag()).isZero();
      assertThat(f.java.sent(TYPE_RESPONSE)).isGreaterThanOrEqualTo(1);
      assertThat(f.java.received(TYPE_INITIATION)).isGreaterThanOrEqualTo(1);
      assertThat(peer.currentKeypair()).isNotNull();
      assertThat(peer.currentKeypair().isInitiator()).isFalse();

      WireguardGo.PeerStats st = f.wg.awaitHandshake(f.java.publicKeyBase64(), Duration.ofSeconds(5));
      assertThat(st.rxBytes()).isPositive();
      assertThat(st.txBytes()).isPositive();
      assertThat(st.endpoint()).isEqualTo(f.javaOuter + ":" + f.java.localPort());
      f.assertHealthy();
    }
  }

  /**
   * Under load we answer wireguard-go's initiation with a cookie reply; it must open it, stamp
   * mac2 on its retry (after REKEY_TIMEOUT) and complete: our cookies are WireGuard's.
   */
  @Test
  void wireguardGoTakesOurCookieUnderLoadAndRetriesWithIt() throws Exception {
    try (Fixture f = new Fixture(true)) {
      f.java.device.setForceUnderLoad(true);
      long t0 = System.nanoTime();
      PingResult r = f.pingFromNamespace(3);
      long tookMs = (System.nanoTime() - t0) / 1_000_000L;
      assertThat(r.exec().ok()).as("ping in the namespace\n%s\n%s", r.exec().describe(), f.diag()).isTrue();
      // ping keeps sending one request a second while wireguard-go waits out REKEY_TIMEOUT for its retry; it
      // stages them and flushes them when the handshake completes, so ping may count more than 3 replies.
      assertThat(r.received()).as("echo replies received by ping\n%s", r.exec().describe())
          .isGreaterThanOrEqualTo(3).isLessThanOrEqualTo(r.transmitted());
      assertThat(f.java.sent(TYPE_COOKIE_REPLY)).as("cookie replies sent\n%s", f.diag()).isGreaterThanOrEqualTo(1);
      assertThat(f.java.device.drops().count(io.dctun.core.session.DropReason.COOKIE_REQUIRED)).isGreaterThanOrEqualTo(1);
      assertThat(f.java.device.drops().count(io.dctun.core.session.DropReason.HANDSHAKE_RATE_LIMITED)).isZero();
      assertThat(f.javaPeer().currentKeypair()).as("handshake with the cookie completed\n%s", f.diag()).isNotNull();
      System.out.println("WireguardGoInteropTest: wireguard-go's handshake under load (cookie, retry) and 3 pings took "
          + tookMs + " ms");
      assertThat(f.java.errors).as("errors on the Java side").isEmpty();
      assertThat(f.java.device.drops().snapshot().keySet()).as("Java drops\n%s", f.diag())
          .containsOnly(io.dctun.core.session.DropReason.COOKIE_REQUIRED);
    }
  }

  @Test
  void badInputDoesNotDisturbTheSession() throws Exception {
    try (Fixture f = new Fixture(false)) {
      Peer peer = f.javaPeer();
      f.pingFromJava(1);
      WireguardGo.PeerStats wgBefore = f.wg.awaitHandshake(f.java.publicKeyBase64(), Duration.ofSeconds(5));
      long javaHandshake = peer.lastHandshakeNanos();
      long javaInitiations = f.java.sent(TYPE_INITIATION);
      long javaResponses = f.java.sent(TYPE_RESPONSE);
      assertThat(javaHandshake).isNotEqualTo(Long.MIN_VALUE);

      // (a) + (b): capture one real transport message from wireguard-go before the device sees it.
      CompletableFuture<byte[]> captured = f.java.captureNextData();
      byte[] payload2 = payload(2);
      f.java.sendInner(echoRequest(f.javaInnerInt, f.wgInnerInt, ICMP_ID, 2, payload2));
      byte[] genuine = captured.get(REPLY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(getIntLE(genuine, 0)).isEqualTo(TYPE_TRANSPORT);
      assertThat(genuine.length).isGreaterThan(TRANSPORT_MIN_LENGTH);
      assertThat(f.java.delivered).as("the captured reply was withheld from the device").isEmpty();

      // (a) one flipped bit in the Poly1305 tag
      byte[] forged = genuine.clone();
      forged[forged.length - 1] ^= 0x01;
      Map<DropReason, Long> before = f.java.device.drops().snapshot();
      f.java.feed(forged, f.wgEndpoint);
      assertThat(diff(before, f.java.device.drops().snapshot())).as("drops after a forged tag\n%s", f.diag())
          .isEqualTo(Map.of(DropReason.DECRYPT_FAILED, 1L));
      assertThat(f.java.delivered).as("nothing delivered from a forgery").isEmpty();

      // (b) the genuine message once (delivered: the forgery did not burn its counter), then again (replay)
      before = f.java.device.drops().snapshot();
      f.java.feed(genuine.clone(), f.wgEndpoint);
      byte[] reply = f.java.delivered.poll();
      assertThat(reply).as("genuine message delivered synchronously\n%s", f.diag()).isNotNull();
      assertEchoReply(reply, f, 2, payload2);
      assertThat(diff(before, f.java.device.drops().snapshot())).isEmpty();
      f.java.feed(genuine.clone(), f.wgEndpoint);
      assertThat(diff(before, f.java.device.drops().snapshot())).as("drops after a replay\n%s", f.diag())
          .isEqualTo(Map.of(DropReason.REPLAYED_COUNTER, 1L));
      assertThat(f.java.delivered).as("nothing delivered from a replay").isEmpty();

      // (c1) an initiation with a corrupted mac1 sent to wireguard-go from another socket. It is built by a twin
      // with the Java side's own static key and a fresh timestamp, so only the mac1 bit stands between it and a
      // new handshake.
      byte[] badInit = captureInitiation(f.java.key, PublicKey.fromBase64(f.wg.publicKey()), f.wgEndpoint);
      badInit[INIT_MAC1] ^= 0x01;
      WireguardGo.PeerStats wgMid = f.wg.showDump().peer(f.java.publicKeyBase64()).orElseThrow();
      try (DatagramChannel side = DatagramChannel.open(StandardProtocolFamily.INET)) {
        side.bind(new InetSocketAddress(InetAddress.getByName(f.javaOuter), 0));
        side.configureBlocking(false);
        int logMarks = countOccurrences(f.wg.log(), "Received packet with invalid mac1");
        assertThat(side.send(ByteBuffer.wrap(badInit), f.wgEndpoint)).isEqualTo(badInit.length);
        awaitCondition(Duration.ofSeconds(5), () -> countOccurrences(f.wg.log(), "Received packet with invalid mac1") > logMarks,
            () -> "wireguard-go did not log the invalid mac1\n" + f.diag());
        // It must not answer: give a response that would have been sent at once a bounded chance to show up.
        ByteBuffer bb = ByteBuffer.allocate(2048);
        long deadline = System.nanoTime() + Duration.ofMillis(500).toNanos();
        SocketAddress from = null;
        while (from == null && System.nanoTime() < deadline) {
          from = side.receive(bb);
          if (from == null) {
            Thread.sleep(10);
          }
        }
        assertThat(from).as("wireguard-go answered a bad-mac1 initiation").isNull();
      }
      WireguardGo.PeerStats wgAfter = f.wg.showDump().peer(f.java.publicKeyBase64()).orElseThrow();
      assertThat(wgAfter.latestHandshakeEpochSeconds()).as("wg latest handshake").isEqualTo(wgMid.latestHandshakeEpochSeconds());
      assertThat(wgAfter.latestHandshakeEpochSeconds()).isEqualTo(wgBefore.latestHandshakeEpochSeconds());
      assertThat(wgAfter.endpoint()).as("wg endpoint for the Java peer").isEqualTo(f.javaOuter + ":" + f.java.localPort());

      // (c2) an initiation with a corrupted mac1 fed to the Java device, built with wireguard-go's own key.
      byte[] badInitToJava = captureInitiation(PrivateKey.fromBase64(f.wg.privateKey()),
          f.java.device.publicKey(), new InetSocketAddress(f.javaOuter, f.java.localPort()));
      badInitToJava[INIT_MAC1] ^= 0x01;
      before = f.java.device.drops().snapshot();
      f.java.feed(badInitToJava, f.wgEndpoint);
      assertThat(diff(before, f.java.device.drops().snapshot())).as("drops after a bad mac1\n%s", f.diag())
          .isEqualTo(Map.of(DropReason.BAD_MAC1, 1L));
      assertThat(f.java.sent(TYPE_RESPONSE)).as("no response to a bad mac1").isEqualTo(javaResponses);

      // After all that the session still carries traffic both ways, with no new handshake.
      for (int seq = 10; seq < 15; seq++) {
        f.pingFromJava(seq);
      }
      PingResult r = f.pingFromNamespace(3);
      assertThat(r.exec().ok()).as("ping in the namespace\n%s\n%s", r.exec().describe(), f.diag()).isTrue();
      assertThat(r.received()).isGreaterThanOrEqualTo(3).isLessThanOrEqualTo(r.transmitted());

      assertThat(peer.lastHandshakeNanos()).as("Java handshake unchanged\n%s", f.diag()).isEqualTo(javaHandshake);
      assertThat(f.java.sent(TYPE_INITIATION)).as("Java initiations\n%s", f.diag()).isEqualTo(javaInitiations);
      assertThat(f.java.sent(TYPE_RESPONSE)).isEqualTo(javaResponses);
      assertThat(f.java.received(TYPE_INITIATION)).as("wireguard-go initiations\n%s", f.diag()).isZero();
      WireguardGo.PeerStats wgEnd = f.wg.showDump().peer(f.java.publicKeyBase64()).orElseThrow();
      assertThat(wgEnd.latestHandshakeEpochSeconds()).isEqualTo(wgBefore.latestHandshakeEpochSeconds());
      assertThat(wgEnd.rxBytes()).isGreaterThan(wgBefore.rxBytes());
      assertThat(wgEnd.txBytes()).isGreaterThan(wgBefore.txBytes());
      Map<DropReason, Long> drops = f.java.device.drops().snapshot();
      assertThat(drops).as("all drops over the test").isEqualTo(Map.of(
          DropReason.DECRYPT_FAILED, 1L, DropReason.REPLAYED_COUNTER, 1L, DropReason.BAD_MAC1, 1L));
      assertThat(f.java.errors).isEmpty();

      // Control: the very same initiation with its mac1 bit restored is answered by wireguard-go, so the
      // silence above was the mac1 check and nothing else. (Last, as it starts a new handshake.)
      badInit[INIT_MAC1] ^= 0x01;
      try (DatagramChannel side = DatagramChannel.open(StandardProtocolFamily.INET)) {
        side.bind(new InetSocketAddress(InetAddress.getByName(f.javaOuter), 0));
        side.configureBlocking(false);
        assertThat(side.send(ByteBuffer.wrap(badInit), f.wgEndpoint)).isEqualTo(badInit.length);
        ByteBuffer bb = ByteBuffer.allocate(2048);
        long deadline = System.nanoTime() + REPLY_TIMEOUT.toNanos();
        SocketAddress from = null;
        while (from == null && System.nanoTime() < deadline) {
          from = side.receive(bb);
          if (from == null) {
            Thread.sleep(10);
          }
        }
        assertThat(from).as("wireguard-go answers the intact initiation\n%s", f.diag()).isEqualTo(f.wgEndpoint);
        assertThat(bb.position()).isEqualTo(io.dctun.crypto.WireFormat.RESPONSE_LENGTH);
        assertThat(getIntLE(bb.array(), 0)).isEqualTo(TYPE_RESPONSE);
      }
    }
  }

  // ------------------------------------------------------------------ fixture

  /** The namespace with wireguard-go, the veth to the root namespace, and the Java side. */
  private static final class Fixture implements AutoCloseable {
    final Topology topology = new Topology();
    final int octet;
    final String javaOuter;
    final String wgOuter;
    final String javaInner;
    final String wgInner;
    final int javaInnerInt;
    final int wgInnerInt;
    final NetNs ns;
    final WireguardGo wg;
    final InetSocketAddress wgEndpoint;
    final JavaSide java;
    final ExecutorService async = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "interop-ping");
      t.setDaemon(true);
      return t;
    });

    Fixture(boolean wireguardGoDialsJava) throws IOException {
      this(wireguardGoDialsJava, null);
    }

    /** @param aead the JVM side's data-path cipher, or null for the default */
    Fixture(boolean wireguardGoDialsJava, io.dctun.crypto.Aead.Impl aead) throws IOException {
      try {
        octet = freeOctet();
        javaOuter = "198.18." + octet + ".1";
        wgOuter = "198.18." + octet + ".2";
        javaInner = "198.19." + octet + ".1";
        wgInner = "198.19." + octet + ".2";
        javaInnerInt = v4(javaInner);
        wgInnerInt = v4(wgInner);
        ns = topology.namespace("wgi");
        topology.veth(topology.root(), javaOuter + "/24", ns, wgOuter + "/24");
        awaitCondition(Duration.ofSeconds(10),
            () -> Shell.exec(Duration.ofSeconds(3), "ping", "-c", "1", "-W", "1", wgOuter).ok(),
            () -> "veth path " + javaOuter + " -> " + wgOuter + " does not work");

        wg = topology.own(WireguardGo.start(ns, topology.ifName("wg"), WG_PORT));
        wgEndpoint = new InetSocketAddress(wgOuter, WG_PORT);
        java = topology.own(new JavaSide(InetAddress.getByName(javaOuter), aead));

        WireguardGo.Peer p = WireguardGo.Peer.of(java.publicKeyBase64()).allowedIps(javaInner + "/32");
        if (wireguardGoDialsJava) {
          p.endpoint(javaOuter + ":" + java.localPort());
        }
        wg.addPeer(p);
        wg.addressUp(wgInner + "/24");
        assertThat(wg.showDump().listenPort()).isEqualTo(WG_PORT);

        java.device.addPeer(new PeerConfig("wireguard-go", PublicKey.fromBase64(wg.publicKey()), null,
            wireguardGoDialsJava ? null : UdpEndpoint.of(wgEndpoint),
            List.of(io.dctun.core.route.Prefix.parse(wgInner + "/32")), 0));
      } catch (IOException | RuntimeException | Error e) {
        try {
          close();
        } catch (RuntimeException s) {
          e.addSuppressed(s);
        }
        throw e;
      }
    }

    Peer javaPeer() {
      return java.device.peer(PublicKey.fromBase64(wg.publicKey()));
    }

    /** One echo request from the Java side to the namespace, answered by its kernel through wireguard-go. */
    void pingFromJava(int seq) throws InterruptedException {
      byte[] payload = payload(seq);
      java.sendInner(echoRequest(javaInnerInt, wgInnerInt, ICMP_ID, seq, payload));
      long deadline = System.nanoTime() + REPLY_TIMEOUT.toNanos();
      List<String> other = new ArrayList<>();
      while (System.nanoTime() < deadline) {
        byte[] p = java.delivered.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (p == null) {
          break;
        }
        if (IcmpEcho.parseV4(p, 0, p.length) == IcmpEcho.TYPE_ECHO_REPLY
            && IcmpEcho.sequence(p, 0, p.length) == seq && IcmpEcho.id(p, 0, p.length) == ICMP_ID) {
          assertEchoReply(p, this, seq, payload);
          return;
        }
        other.add(hex(p));
      }
      throw new AssertionError("no echo reply for seq " + seq + " within " + REPLY_TIMEOUT
          + "; other packets delivered: " + other + "\n" + diag());
    }

    /**
     * Runs {@code ping -c N -w 15 javaInner} (N replies or a 15 s deadline) in the namespace while answering every echo request the Java side
     * receives; bounded.
     */
    PingResult pingFromNamespace(int count) throws Exception {
      CompletableFuture<ExecResult> f = CompletableFuture.supplyAsync(
          () -> ns.exec(Duration.ofSeconds(20), "ping", "-c", Integer.toString(count), "-w", "15", javaInner), async);
      long deadline = System.nanoTime() + Duration.ofSeconds(25).toNanos();
      int answered = 0;
      List<String> other = new ArrayList<>();
      while (!f.isDone() && System.nanoTime() < deadline) {
        byte[] p = java.delivered.poll(50, TimeUnit.MILLISECONDS);
        if (p == null) {
          continue;
        }
        if (IcmpEcho.parseV4(p, 0, p.length) == IcmpEcho.TYPE_ECHO_REQUEST
            && IpPacket.sourceV4(p, 0, p.length) == wgInnerInt
            && IpPacket.destinationV4(p, 0, p.length) == javaInnerInt) {
          byte[] buf = new byte[16 + p.length + 64];
          System.arraycopy(p, 0, buf, 16, p.length);
          int n = IcmpEcho.toReplyInPlace(buf, 16, p.length);
          assertThat(n).isEqualTo(p.length);
          java.device.outbound(buf, 16, n, Clock.SYSTEM.nanoTime());
          answered++;
        } else {
          other.add(hex(p));
        }
      }
      ExecResult r;
      try {
        r = f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        throw new AssertionError("ping in the namespace did not finish\n" + diag(), e);
      }
      assertThat(other).as("unexpected packets delivered while answering pings").isEmpty();
      Matcher m = Pattern.compile("(\\d+) packets transmitted, (\\d+) received").matcher(r.stdout());
      boolean found = m.find();
      assertThat(r.stdout()).as("ping saw no duplicate replies").doesNotContain("duplicates");
      return new PingResult(r, found ? Integer.parseInt(m.group(2)) : -1, found ? Integer.parseInt(m.group(1)) : -1,
          answered);
    }

    void assertHealthy() {
      assertThat(java.errors).as("errors on the Java side").isEmpty();
      assertThat(java.device.drops().snapshot()).as("Java drops\n%s", diag()).isEmpty();
    }

    String diag() {
      StringBuilder b = new StringBuilder();
      if (java != null) {
        b.append("java: ").append(java.device.describe()).append(" drops=").append(java.device.drops().snapshot())
            .append(" sent=").append(java.sentByType).append(" received=").append(java.receivedByType)
            .append(" errors=").append(java.errors).append('\n');
      }
      if (wg != null) {
        try {
          b.append("wg dump: ").append(wg.showDump()).append('\n');
        } catch (RuntimeException e) {
          b.append("wg dump failed: ").append(e).append('\n');
        }
        b.append(wg.process().describe());
      }
      return b.toString();
    }

    @Override
    public void close() {
      async.shutdownNow();
      topology.close(); // closes the Java side, then wireguard-go, the veth and the namespace
    }

    /** A third octet N whose 198.18.N.0/24 is unused in the root namespace: 44 unless taken. */
    private static int freeOctet() {
      String addrs = Shell.run("ip", "-o", "-4", "addr", "show").stdout();
      String routes = Shell.run("ip", "-4", "route", "show").stdout();
      java.util.Random rnd = new java.util.Random();
      for (int i = 0; i < 64; i++) {
        int o = i == 0 ? 44 : 128 + rnd.nextInt(126);
        String net = "198.18." + o + ".";
        if (!addrs.contains(net) && !routes.contains(net)) {
          return o;
        }
      }
      throw new IllegalStateException("no free 198.18.N.0/24 in the root namespace:\n" + addrs + routes);
    }
  }

  /**
   * What ping printed, and how many echo requests the Java side answered. ping sends one request a second until
   * it has {@code count} replies, so a slow handshake (the cookie retry takes REKEY_TIMEOUT) means more requests
   * transmitted, staged by wireguard-go and all answered: received is then more than {@code count}.
   */
  private record PingResult(ExecResult exec, int received, int transmitted, int answered) {
  }

  // ------------------------------------------------------------------ the JVM side

  /**
   * A {@link Device} on a plain UDP socket: one receive thread (selector, bounded lifetime), a 100 ms ticker,
   * and an {@link Output} that sends through the socket and queues delivered inner packets.
   */
  private static final class JavaSide implements AutoCloseable, Output {
    private static final Duration MAX_LIFETIME = Duration.ofSeconds(110);

    final PrivateKey key = PrivateKey.generate();
    final Device device;
    final DatagramChannel channel;
    final Selector selector;
    final BlockingQueue<byte[]> delivered = new LinkedBlockingQueue<>();
    final AtomicLongArray sentByType = new AtomicLongArray(5);
    final AtomicLongArray receivedByType = new AtomicLongArray(5);
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    final AtomicReference<CompletableFuture<byte[]>> capture = new AtomicReference<>();
    final ScheduledExecutorService ticker;
    final Thread receiver;
    volatile boolean closed;

    JavaSide(InetAddress bind, io.dctun.crypto.Aead.Impl aead) throws IOException {
      device = new Device(key, MTU, this, Clock.SYSTEM, aead);
      channel = DatagramChannel.open(StandardProtocolFamily.INET);
      try {
        channel.bind(new InetSocketAddress(bind, 0));
        channel.configureBlocking(false);
        selector = Selector.open();
        channel.register(selector, SelectionKey.OP_READ);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
      ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "interop-tick");
        t.setDaemon(true);
        return t;
      });
      ticker.scheduleAtFixedRate(() -> {
        try {
          device.tick(Clock.SYSTEM.nanoTime());
        } catch (Throwable t) {
          errors.add(t);
        }
      }, 100, 100, TimeUnit.MILLISECONDS);
      receiver = new Thread(this::receiveLoop, "interop-recv");
      receiver.setDaemon(true);
      receiver.start();
    }

    String publicKeyBase64() {
      return device.publicKey().toBase64();
    }

    int localPort() {
      try {
        return ((InetSocketAddress) channel.getLocalAddress()).getPort();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    long sent(int type) {
      return sentByType.get(type);
    }

    long received(int type) {
      return receivedByType.get(type);
    }

    /** The next transport message from the network that carries data is handed over here instead of to the device. */
    CompletableFuture<byte[]> captureNextData() {
      CompletableFuture<byte[]> f = new CompletableFuture<>();
      if (!capture.compareAndSet(null, f)) {
        throw new IllegalStateException("a capture is already armed");
      }
      return f;
    }

    /** Feeds a datagram to the device as if it had arrived from {@code from}. */
    void feed(byte[] datagram, InetSocketAddress from) {
      device.inbound(datagram, 0, datagram.length, UdpEndpoint.of(from), Clock.SYSTEM.nanoTime());
    }

    /** Sends an inner packet into the device as a TUN read would (16 bytes headroom, room for padding and tag). */
    void sendInner(byte[] pkt) {
      byte[] buf = new byte[16 + pkt.length + 64];
      System.arraycopy(pkt, 0, buf, 16, pkt.length);
      device.outbound(buf, 16, pkt.length, Clock.SYSTEM.nanoTime());
    }

    private void receiveLoop() {
      long end = System.nanoTime() + MAX_LIFETIME.toNanos();
      byte[] buf = new byte[65536];
      ByteBuffer bb = ByteBuffer.wrap(buf);
      while (!closed && System.nanoTime() < end) {
        try {
          selector.select(100);
          selector.selectedKeys().clear();
          while (!closed) {
            bb.clear();
            SocketAddress from = channel.receive(bb);
            if (from == null) {
              break;
            }
            dispatch(buf, bb.position(), (InetSocketAddress) from);
          }
        } catch (ClosedChannelException | ClosedSelectorException e) {
          return;
        } catch (Throwable t) {
          if (!closed) {
            errors.add(t);
          }
        }
      }
    }

    private void dispatch(byte[] buf, int len, InetSocketAddress from) {
      int type = len >= 4 ? getIntLE(buf, 0) : 0;
      if (type > 0 && type < receivedByType.length()) {
        receivedByType.incrementAndGet(type);
      }
      if (type == TYPE_TRANSPORT && len > TRANSPORT_MIN_LENGTH) {
        CompletableFuture<byte[]> f = capture.getAndSet(null);
        if (f != null) {
          f.complete(Arrays.copyOf(buf, len));
          return;
        }
      }
      device.inbound(buf, 0, len, UdpEndpoint.of(from), Clock.SYSTEM.nanoTime());
    }

    @Override
    public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {
      int type = len >= 4 ? getIntLE(buf, off) : 0;
      if (type > 0 && type < sentByType.length()) {
        sentByType.incrementAndGet(type);
      }
      try {
        int n = channel.send(ByteBuffer.wrap(buf, off, len), endpoint.address());
        if (n != len && !closed) {
          errors.add(new IOException("short send to " + endpoint + ": " + n + " of " + len));
        }
      } catch (IOException e) {
        if (!closed) {
          errors.add(e);
        }
      }
    }

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {
      delivered.add(Arrays.copyOfRange(buf, off, off + len));
    }

    @Override
    public void close() throws IOException, InterruptedException {
      closed = true;
      ticker.shutdownNow();
      try {
        selector.close();
        channel.close();
      } finally {
        receiver.join(2000);
        ticker.awaitTermination(2, TimeUnit.SECONDS);
        device.close();
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  /** The first initiation a throw-away device with {@code key} emits towards {@code peer} (not sent anywhere). */
  private static byte[] captureInitiation(PrivateKey key, PublicKey peer, InetSocketAddress endpoint) {
    List<byte[]> out = new ArrayList<>();
    Output capture = new Output() {
      @Override
      public void sendToNetwork(Endpoint ep, byte[] buf, int off, int len) {
        out.add(Arrays.copyOfRange(buf, off, off + len));
      }

      @Override
      public void deliverToDevice(byte[] buf, int off, int len) {
      }
    };
    Device d = new Device(key, MTU, capture, Clock.SYSTEM);
    try {
      d.addPeer(PeerConfig.of(peer, endpoint, "198.19.255.255/32"));
      d.initiate(peer, Clock.SYSTEM.nanoTime());
    } finally {
      d.close();
    }
    assertThat(out).hasSize(1);
    byte[] init = out.get(0);
    assertThat(init).hasSize(INITIATION_LENGTH);
    assertThat(getIntLE(init, 0)).isEqualTo(TYPE_INITIATION);
    return init;
  }

  private static void assertEchoReply(byte[] p, Fixture f, int seq, byte[] payload) {
    assertThat(IcmpEcho.parseV4(p, 0, p.length)).as("echo reply %s", hex(p)).isEqualTo(IcmpEcho.TYPE_ECHO_REPLY);
    assertThat(IpPacket.sourceV4(p, 0, p.length)).isEqualTo(f.wgInnerInt);
    assertThat(IpPacket.destinationV4(p, 0, p.length)).isEqualTo(f.javaInnerInt);
    assertThat(IcmpEcho.id(p, 0, p.length)).isEqualTo(ICMP_ID);
    assertThat(IcmpEcho.sequence(p, 0, p.length)).isEqualTo(seq);
    int po = IcmpEcho.payloadOffset(p, 0, p.length);
    int pl = IcmpEcho.payloadLength(p, 0, p.length);
    assertThat(Arrays.copyOfRange(p, po, po + pl)).as("echo payload").isEqualTo(payload);
  }

  private static byte[] echoRequest(int src, int dst, int id, int seq, byte[] payload) {
    byte[] buf = new byte[IcmpEcho.V4_OVERHEAD + payload.length];
    int n = IcmpEcho.writeV4Request(buf, 0, src, dst, id, seq, payload);
    assertThat(n).isEqualTo(buf.length);
    return buf;
  }

  /** 56 bytes that differ per sequence number. */
  private static byte[] payload(int seq) {
    byte[] p = new byte[56];
    for (int i = 0; i < p.length; i++) {
      p[i] = (byte) (seq * 31 + i * 7);
    }
    return p;
  }

  private static Map<DropReason, Long> diff(Map<DropReason, Long> before, Map<DropReason, Long> after) {
    Map<DropReason, Long> d = new EnumMap<>(DropReason.class);
    for (Map.Entry<DropReason, Long> e : after.entrySet()) {
      long delta = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      if (delta != 0) {
        d.put(e.getKey(), delta);
      }
    }
    return d;
  }

  private static int countOccurrences(String s, String needle) {
    int n = 0;
    for (int i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + needle.length())) {
      n++;
    }
    return n;
  }

  private interface Condition {
    boolean holds() throws Exception;
  }

  /** Polls {@code c} every 20 ms until it holds or {@code timeout} passes (then fails with {@code why}). */
  private static void awaitCondition(Duration timeout, Condition c, java.util.function.Supplier<String> why) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (true) {
        if (c.holds()) {
          return;
        }
        if (System.nanoTime() >= deadline) {
          throw new AssertionError(why.get() + " (waited " + timeout + ")");
        }
        Thread.sleep(20);
      }
    } catch (AssertionError e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static int v4(String s) {
    String[] p = s.split("\\.");
    return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8
        | Integer.parseInt(p[3]);
  }

  private static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < Math.min(b.length, 48); i++) {
      s.append(String.format("%02x", b[i]));
    }
    return s + (b.length > 48 ? "...(" + b.length + " bytes)" : "");
  }
}
