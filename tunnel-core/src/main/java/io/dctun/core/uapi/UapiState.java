package io.dctun.core.uapi;

import io.dctun.crypto.PrivateKey;
import io.dctun.crypto.PublicKey;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The answer to {@code get=1} read back into values, as {@code wg} reads it ({@code
 * ipc-uapi.h userspace_get_device}); for {@code dctun status} and tests. The private key is read
 * only to derive the public key and is not kept. Immutable.
 *
 * @param publicKey the interface's public key, empty if the answer had no private key
 * @param listenPort 0 if none
 */
public record UapiState(Optional<PublicKey> publicKey, int listenPort, long fwmark, List<PeerState> peers) {

  /** One peer of the answer. {@code endpoint} as printed ({@code ip:port}, {@code [v6]:port}), empty if none. */
  public record PeerState(PublicKey publicKey, boolean hasPresharedKey, Optional<String> endpoint,
      long lastHandshakeSec, long lastHandshakeNsec, long rxBytes, long txBytes, int persistentKeepalive,
      List<String> allowedIps) {}

  public UapiState {
    peers = List.copyOf(peers);
  }

  /**
   * Parses a complete answer (lines, then {@code errno=N}, then a blank line).
   *
   * @throws UapiException with the answer's errno if it was not 0, or {@link UapiErrno#PROTOCOL} if it is malformed
   */
  public static UapiState parse(String reply) throws UapiException {
    Optional<PublicKey> pub = Optional.empty();
    int port = 0;
    long mark = 0;
    List<PeerState> peers = new ArrayList<>();
    Builder peer = null;
    Integer errno = null;
    String[] lines = reply.split("\n", -1);
    for (String line : lines) {
      if (line.isEmpty()) {
        break;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        throw new UapiException(UapiErrno.PROTOCOL, "malformed UAPI answer: a line without '='");
      }
      String k = line.substring(0, eq);
      String v = line.substring(eq + 1);
      try {
        switch (k) {
          case "private_key" -> {
            byte[] raw = key(v);
            pub = Optional.of(PrivateKey.of(raw).publicKey());
            java.util.Arrays.fill(raw, (byte) 0);
          }
          case "listen_port" -> port = (int) number(v, 65535);
          case "fwmark" -> mark = number(v, 0xFFFF_FFFFL);
          case "public_key" -> {
            if (peer != null) {
              peers.add(peer.build());
            }
            peer = new Builder(PublicKey.of(key(v)));
          }
          case "preshared_key" -> need(peer, k).psk = !v.equals("0".repeat(64));
          case "endpoint" -> need(peer, k).endpoint = v;
          case "last_handshake_time_sec" -> need(peer, k).sec = number(v, Long.MAX_VALUE);
          case "last_handshake_time_nsec" -> need(peer, k).nsec = number(v, Long.MAX_VALUE);
          case "rx_bytes" -> need(peer, k).rx = number(v, Long.MAX_VALUE);
          case "tx_bytes" -> need(peer, k).tx = number(v, Long.MAX_VALUE);
          case "persistent_keepalive_interval" -> need(peer, k).keepalive = (int) number(v, 65535);
          case "allowed_ip" -> need(peer, k).allowed.add(v);
          case "errno" -> errno = (int) Long.parseLong(v);
          default -> { } // protocol_version and keys of later versions: as wg, ignored
        }
      } catch (IllegalArgumentException e) {
        throw new UapiException(UapiErrno.PROTOCOL, "malformed UAPI answer at " + k + ": " + e.getMessage());
      }
    }
    if (errno == null) {
      throw new UapiException(UapiErrno.PROTOCOL, "malformed UAPI answer: no errno line");
    }
    if (errno != 0) {
      throw new UapiException(errno, "the UAPI get failed with errno " + errno);
    }
    if (peer != null) {
      peers.add(peer.build());
    }
    return new UapiState(pub, port, mark, peers);
  }

  /**
   * Asks the interface served on {@code socket} ({@code /var/run/wireguard/<if>.sock}) for its
   * state: one {@code get=1}, answered within {@code timeoutMillis} or refused.
   */
  public static UapiState get(Path socket, long timeoutMillis) throws IOException, UapiException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      ch.write(ByteBuffer.wrap("get=1\n\n".getBytes(StandardCharsets.US_ASCII)));
      ch.configureBlocking(false);
      java.nio.channels.Selector sel = java.nio.channels.Selector.open();
      try (sel) {
        ch.register(sel, java.nio.channels.SelectionKey.OP_READ);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(16 * 1024);
        while (true) {
          String s = out.toString(StandardCharsets.ISO_8859_1);
          if (s.contains("errno=") && s.endsWith("\n\n")) {
            return parse(s);
          }
          long left = (deadline - System.nanoTime()) / 1_000_000L;
          if (left <= 0) {
            throw new IOException("no answer from " + socket + " within " + timeoutMillis + " ms");
          }
          sel.select(left);
          sel.selectedKeys().clear();
          b.clear();
          int n = ch.read(b);
          if (n < 0) {
            throw new IOException(socket + " closed before answering");
          }
          out.write(b.array(), 0, n);
          if (out.size() > 64 << 20) {
            throw new IOException(socket + " answered more than 64 MiB");
          }
        }
      }
    }
  }

  private static Builder need(Builder peer, String key) {
    if (peer == null) {
      throw new IllegalArgumentException(key + " before any public_key");
    }
    return peer;
  }

  private static byte[] key(String v) {
    byte[] k = UapiText.key(v);
    if (k == null) {
      throw new IllegalArgumentException("not 64 hex digits");
    }
    return k;
  }

  private static long number(String v, long max) {
    long n = UapiText.unsigned(v, max);
    if (n < 0) {
      throw new IllegalArgumentException("not a number up to " + max);
    }
    return n;
  }

  private static final class Builder {
    final PublicKey key;
    boolean psk;
    String endpoint;
    long sec;
    long nsec;
    long rx;
    long tx;
    int keepalive;
    final List<String> allowed = new ArrayList<>();

    Builder(PublicKey key) {
      this.key = key;
    }

    PeerState build() {
      return new PeerState(key, psk, Optional.ofNullable(endpoint), sec, nsec, rx, tx, keepalive, allowed);
    }
  }
}
