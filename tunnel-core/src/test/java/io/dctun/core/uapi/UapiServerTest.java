package io.dctun.core.uapi;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.session.Device;
import io.dctun.core.session.Output;
import io.dctun.core.testing.ManualClock;
import io.dctun.core.transport.Endpoint;
import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The socket side, in a temporary directory (no root): permissions, liveness, bounds, cleanup. */
class UapiServerTest {
  @TempDir Path tmp;
  final PrivateKey key = PrivateKey.generate();
  final Device device = new Device(key, 1420, new Output() {
    @Override
    public void sendToNetwork(Endpoint endpoint, byte[] buf, int off, int len) {}

    @Override
    public void deliverToDevice(byte[] buf, int off, int len) {}
  }, new ManualClock(1, 1));
  final Uapi uapi = new Uapi(device, key, SocketSettings.fixed(51820));
  final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void cleanup() throws Exception {
    for (AutoCloseable c : closeMe) {
      c.close();
    }
  }

  UapiServer start(Path dir, UapiServer.Options o) throws IOException {
    UapiServer s = UapiServer.start(uapi, dir, "du0test", o);
    closeMe.add(s);
    return s;
  }

  /** Writes {@code request}, reads until the server closes or the reply ends in a blank line. */
  static String talk(Path sock, String request) throws IOException {
    return talk(sock, request, 1);
  }

  /** As {@link #talk(Path, String)}, until {@code replies} replies came. */
  static String talk(Path sock, String request, int replies) throws IOException {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
      ch.write(ByteBuffer.wrap(request.getBytes(US_ASCII)));
      StringBuilder sb = new StringBuilder();
      ByteBuffer b = ByteBuffer.allocate(4096);
      while (sb.toString().split("errno=-?[0-9]+\n\n", -1).length <= replies && ch.read(b) > 0) {
        sb.append(new String(b.array(), 0, b.position(), US_ASCII));
        b.clear();
      }
      return sb.toString();
    }
  }

  @Test
  void servesGetAndSetOnAPrivateSocketInAPrivateDirectory() throws IOException {
    Path dir = tmp.resolve("wireguard");
    UapiServer s = start(dir, UapiServer.Options.DEFAULT);
    assertThat(s.socketPath()).isEqualTo(dir.resolve("du0test.sock"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(s.socketPath()))).isEqualTo("rw-------");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("du0test.sock"); // no temp name left
    }
    assertThat(talk(s.socketPath(), "get=1\n\n")).startsWith("private_key=").endsWith("listen_port=51820\nerrno=0\n\n");
    String pk = PrivateKey.generate().publicKey().toBase64();
    String hex = UapiTest.bytesHex(java.util.Base64.getDecoder().decode(pk));
    assertThat(talk(s.socketPath(), "set=1\npublic_key=" + hex + "\nallowed_ip=198.18.224.0/24\n\n")).isEqualTo("errno=0\n\n");
    assertThat(device.peers()).hasSize(1);
  }

  @Test
  void severalOperationsOnOneConnection() throws IOException {
    UapiServer s = start(tmp, UapiServer.Options.DEFAULT);
    String reply = talk(s.socketPath(), "get=1\n\nget=1\n\n", 2);
    assertThat(reply.split("errno=0\n\n", -1)).hasSize(3).endsWith("");
  }

  @Test
  void refusesToStartWhileAnotherProcessServesTheSocket() throws IOException {
    Path sock = tmp.resolve("du0test.sock");
    try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(sock));
      assertThatThrownBy(() -> UapiServer.start(uapi, tmp, "du0test", UapiServer.Options.DEFAULT))
          .isInstanceOf(IOException.class).hasMessageContaining("another live process");
      assertThat(sock).exists();
    }
  }

  @Test
  void replacesAStaleSocket() throws IOException {
    Path sock = tmp.resolve("du0test.sock");
    ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    dead.bind(UnixDomainSocketAddress.of(sock));
    dead.close(); // the file stays, nobody listens: what a killed process leaves
    assertThat(sock).exists();
    UapiServer s = start(tmp, UapiServer.Options.DEFAULT);
    assertThat(talk(s.socketPath(), "get=1\n\n")).endsWith("errno=0\n\n");
  }

  @Test
  void refusesToReplaceSomethingThatIsNotASocket() throws IOException {
    Files.writeString(tmp.resolve("du0test.sock"), "mine");
    assertThatThrownBy(() -> UapiServer.start(uapi, tmp, "du0test", UapiServer.Options.DEFAULT))
        .isInstanceOf(IOException.class).hasMessageContaining("not a socket");
    assertThat(Files.readString(tmp.resolve("du0test.sock"))).isEqualTo("mine");
  }

  @Test
  void closeRemovesTheSocketButNotASuccessors() throws IOException {
    UapiServer s = UapiServer.start(uapi, tmp, "du0test", UapiServer.Options.DEFAULT);
    s.close();
    assertThat(s.socketPath()).doesNotExist();

    UapiServer first = UapiServer.start(uapi, tmp, "du0test", UapiServer.Options.DEFAULT);
    Files.delete(first.socketPath()); // an operator removed it, and a successor started
    UapiServer second = start(tmp, UapiServer.Options.DEFAULT);
    first.close();
    assertThat(second.socketPath()).exists();
    assertThat(talk(second.socketPath(), "get=1\n\n")).endsWith("errno=0\n\n");
  }

  @Test
  void aSilentClientIsClosedAtItsDeadlineAndCounted() throws IOException {
    UapiServer s = start(tmp, new UapiServer.Options(4, 200, 1 << 20));
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(s.socketPath()))) {
      ch.write(ByteBuffer.wrap("set=1\n".getBytes(US_ASCII)));
      // blocking read: returns -1 when the server closes at the deadline (bounded by it, not by a sleep)
      assertThat(ch.read(ByteBuffer.allocate(16))).isEqualTo(-1);
    }
    assertThat(uapi.errors("timeout")).isEqualTo(1);
    assertThat(device.peers()).isEmpty();
  }

  @Test
  void connectionsOverTheBoundAreClosedAndCounted() throws IOException {
    UapiServer s = start(tmp, new UapiServer.Options(1, 5000, 1 << 20));
    try (SocketChannel first = SocketChannel.open(UnixDomainSocketAddress.of(s.socketPath()));
        SocketChannel second = SocketChannel.open(UnixDomainSocketAddress.of(s.socketPath()))) {
      assertThat(second.read(ByteBuffer.allocate(16))).isEqualTo(-1);
      first.write(ByteBuffer.wrap("get=1\n\n".getBytes(US_ASCII)));
      assertThat(first.read(ByteBuffer.allocate(4096))).isPositive();
    }
    assertThat(uapi.errors("too-many-connections")).isEqualTo(1);
  }

  @Test
  void aProbeThatConnectsAndClosesIsNoError() throws IOException {
    UapiServer s = start(tmp, UapiServer.Options.DEFAULT);
    SocketChannel.open(UnixDomainSocketAddress.of(s.socketPath())).close(); // what wg does to find userspace interfaces
    assertThat(talk(s.socketPath(), "get=1\n\n")).endsWith("errno=0\n\n");
    assertThat(uapi.errors("bad-operation")).isZero();
  }

  @Test
  void badNamesAreRefused() {
    for (String n : new String[] {"", "a/b", "..", "sixteen-chars-xx", "sp ace"}) {
      assertThatThrownBy(() -> UapiServer.start(uapi, tmp, n, UapiServer.Options.DEFAULT)).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
