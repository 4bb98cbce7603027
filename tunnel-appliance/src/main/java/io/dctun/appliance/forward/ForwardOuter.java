package io.dctun.appliance.forward;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.forward.PortForwardingEventListener;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.util.net.SshdSocketAddress;
import org.apache.sshd.core.CoreModuleProperties;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.forward.ForwardingFilter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outer side of reverse TCP forwards: the side that may be connected to (a DMZ host). It
 * accepts one authenticated, encrypted connection from the inner side and, for each port the
 * inner side asks for and this side allows, listens there; every accepted TCP connection becomes
 * one stream to the inner side, which connects to its own target and pipes bytes both ways.
 *
 * <p>The protocol is SSH's remote port forwarding ({@code ssh -R}, RFC 4254 section 7), through
 * Apache MINA SSHD rather than a multiplexer of our own: SSH channels have per-stream windows, so
 * one stream whose reader stalls only closes its own window and never blocks the others (the
 * failure that kills yamux sessions); EOF is per channel, so half-closes pass; and the keys are
 * pinned both ways, as WireGuard's are: the inner side's public key is the only one accepted, and
 * the inner side accepts only this side's host key. No passwords, no shell, no commands, no other
 * kind of forwarding.
 *
 * <p>Half-close: an EOF from the inner side's target reaches the outer client as a half-close
 * (SSHD shuts down the socket's output), but an EOF from the outer client closes the whole stream
 * (SSHD's forwarder closes the channel when the accepted socket's input ends), so protocols
 * whose client half-closes and then waits for the answer do not work through it yet.
 *
 * <p>A dead inner side does not leave listeners behind (chisel's failure): the inner side sends a
 * heartbeat every {@code heartbeat}; a session silent for three heartbeats is closed, and with it
 * every listener it opened.
 *
 * <p>Thread-safety: start and close from one thread; status from any.
 */
public final class ForwardOuter implements AutoCloseable, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(ForwardOuter.class);

  /**
   * @param listen where the inner side connects (the SSH port)
   * @param ports the ports the inner side may ask this side to listen on
   * @param bind the address those listeners bind (never the wildcard unless configured so)
   */
  public record Config(InetSocketAddress listen, KeyPair hostKey, PublicKey innerKey, Set<Integer> ports,
      InetAddress bind, Duration heartbeat) {
    public Config {
      Objects.requireNonNull(listen, "listen");
      Objects.requireNonNull(hostKey, "hostKey");
      Objects.requireNonNull(innerKey, "innerKey");
      ports = Set.copyOf(ports);
      Objects.requireNonNull(bind, "bind");
      Objects.requireNonNull(heartbeat, "heartbeat");
    }
  }

  private final Config config;
  private final SshServer sshd;
  private final AtomicLong refusedKeys = new AtomicLong();
  private final AtomicLong refusedPorts = new AtomicLong();
  /** Listeners open now, per session: SSHD closes them with their session without an event. */
  private final java.util.Map<Session, java.util.Set<SshdSocketAddress>> listening =
      new java.util.concurrent.ConcurrentHashMap<>();

  private ForwardOuter(Config config, SshServer sshd) {
    this.config = config;
    this.sshd = sshd;
  }

  public static ForwardOuter start(Config c) throws IOException {
    SshServer sshd = SshServer.setUpDefaultServer();
    ForwardOuter outer = new ForwardOuter(c, sshd);
    sshd.setHost(c.listen().getAddress().getHostAddress());
    sshd.setPort(c.listen().getPort());
    sshd.setKeyPairProvider(KeyPairProvider.wrap(c.hostKey()));
    sshd.setPasswordAuthenticator(null);
    sshd.setKeyboardInteractiveAuthenticator(null);
    sshd.setGSSAuthenticator(null);
    sshd.setHostBasedAuthenticator(null);
    sshd.setPublickeyAuthenticator((user, key, session) -> {
      boolean ok = KeyUtils.compareKeys(key, c.innerKey());
      if (!ok) {
        outer.refusedKeys.incrementAndGet();
        LOG.warn("reverse forwards: refused a client key {} from {}", KeyUtils.getFingerPrint(key),
            session.getClientAddress());
      }
      return ok;
    });
    sshd.setForwardingFilter(new ForwardingFilter() {
      @Override
      public boolean canForwardAgent(Session session, String requestType) {
        return false;
      }

      @Override
      public boolean canForwardX11(Session session, String requestType) {
        return false;
      }

      @Override
      public boolean canListen(SshdSocketAddress address, Session session) {
        boolean ok = c.ports().contains(address.getPort())
            && c.bind().getHostAddress().equals(hostAddress(address.getHostName()));
        if (!ok) {
          outer.refusedPorts.incrementAndGet();
          LOG.warn("reverse forwards: refused to listen on {} (allowed: ports {} on {})", address, c.ports(),
              c.bind().getHostAddress());
        }
        return ok;
      }

      @Override
      public boolean canConnect(Type type, SshdSocketAddress address, Session session) {
        return false; // no local (-L) or dynamic forwarding through this side
      }
    });
    sshd.addPortForwardingEventListener(new PortForwardingEventListener() {
      @Override
      public void establishedExplicitTunnel(Session session, SshdSocketAddress local, SshdSocketAddress remote,
          boolean localForwarding, SshdSocketAddress boundAddress, Throwable reason) {
        if (reason == null) { // a listener here for the inner side's -R
          outer.listening.computeIfAbsent(session, k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
              .add(boundAddress);
          LOG.info("reverse forward listening on {}", boundAddress);
        }
      }

      @Override
      public void tornDownExplicitTunnel(Session session, SshdSocketAddress address, boolean localForwarding,
          SshdSocketAddress remoteAddress, Throwable reason) {
        {
          java.util.Set<SshdSocketAddress> l = outer.listening.get(session);
          if (l != null) {
            l.remove(address);
          }
          LOG.info("reverse forward on {} closed", address);
        }
      }
    });
    sshd.addSessionListener(new org.apache.sshd.common.session.SessionListener() {
      @Override
      public void sessionClosed(Session session) {
        java.util.Set<SshdSocketAddress> l = outer.listening.remove(session);
        if (l != null && !l.isEmpty()) {
          LOG.info("reverse forwards: session from {} closed with its listeners {}", session.getRemoteAddress(), l);
        }
      }
    });
    // A silent session (no heartbeat, no data) for three heartbeats is gone: close it and its listeners.
    CoreModuleProperties.IDLE_TIMEOUT.set(sshd, c.heartbeat().multipliedBy(3));
    sshd.start();
    return outer;
  }

  static String hostAddress(String host) {
    try {
      return InetAddress.getByName(host).getHostAddress(); // literals only in practice: no DNS query
    } catch (IOException e) {
      return host;
    }
  }

  /** The SSH port actually bound (useful with port 0). */
  public int port() {
    return sshd.getPort();
  }

  /** Listeners open now. */
  public long listeners() {
    long n = 0;
    for (java.util.Set<SshdSocketAddress> l : listening.values()) {
      n += l.size();
    }
    return n;
  }

  public long refusedKeys() {
    return refusedKeys.get();
  }

  public long refusedPorts() {
    return refusedPorts.get();
  }

  @Override
  public void report(StatusSink out) {
    StatusSink s = out.section("forward-outer");
    s.text("listen", config.listen().toString());
    s.gauge("sessions", sshd.getActiveSessions().size());
    s.gauge("listeners", listeners());
    s.counter("refused-keys", refusedKeys.get());
    s.counter("refused-ports", refusedPorts.get());
  }

  @Override
  public void close() throws IOException {
    sshd.stop(true);
  }
}
