package io.dctun.appliance.forward;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.keyverifier.RequiredServerKeyVerifier;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.session.SessionHeartbeatController;
import org.apache.sshd.common.util.net.SshdSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inner side of reverse TCP forwards: the side that may connect out but may not be connected
 * to (a database on an internal network). It keeps one authenticated, encrypted connection to the
 * outer side ({@link ForwardOuter}), asks it to listen on each configured port, and connects every
 * stream the outer side accepts to that port's target, here. Needs no root and no TUN device.
 *
 * <p>The connection is kept: a heartbeat every {@code heartbeat} (so the outer side can tell a
 * dead inner side from an idle one), and after any loss a reconnect with exponential backoff and
 * jitter (1 s doubling to 30 s), then the forwards are asked for again.
 *
 * <p>Thread-safety: start and close from one thread; status from any.
 */
public final class ForwardInner implements AutoCloseable, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(ForwardInner.class);
  static final String USER = "dctun";

  /** One forward: the outer side listens on {@code port}; streams go to {@code target} from here. */
  public record Forward(int port, InetSocketAddress target) {
    public Forward {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("forward port must be 1..65535, got " + port);
      }
      Objects.requireNonNull(target, "target");
    }
  }

  /**
   * @param outer the outer side's SSH address
   * @param bind the address the outer side's listeners bind
   */
  public record Config(InetSocketAddress outer, PublicKey outerKey, KeyPair key, InetAddress bind,
      List<Forward> forwards, Duration heartbeat) {
    public Config {
      Objects.requireNonNull(outer, "outer");
      Objects.requireNonNull(outerKey, "outerKey");
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(bind, "bind");
      forwards = List.copyOf(forwards);
      Objects.requireNonNull(heartbeat, "heartbeat");
    }
  }

  private final Config config;
  private final SshClient client;
  private final Thread keeper;
  private final AtomicLong connects = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private volatile boolean running = true;
  private volatile ClientSession session;
  private volatile String lastError = "";

  private ForwardInner(Config config, SshClient client) {
    this.config = config;
    this.client = client;
    this.keeper = new Thread(this::keep, "dctun-forward");
    this.keeper.setDaemon(true);
  }

  public static ForwardInner start(Config c) {
    SshClient client = SshClient.setUpDefaultClient();
    client.setServerKeyVerifier(new RequiredServerKeyVerifier(c.outerKey()));
    client.setPasswordIdentityProvider(null);
    // Streams the outer side opens may reach the configured targets only, nothing else here.
    client.setForwardingFilter(new org.apache.sshd.server.forward.ForwardingFilter() {
      @Override
      public boolean canForwardAgent(org.apache.sshd.common.session.Session session, String requestType) {
        return false;
      }

      @Override
      public boolean canForwardX11(org.apache.sshd.common.session.Session session, String requestType) {
        return false;
      }

      @Override
      public boolean canListen(SshdSocketAddress address, org.apache.sshd.common.session.Session session) {
        return false;
      }

      @Override
      public boolean canConnect(Type type, SshdSocketAddress address, org.apache.sshd.common.session.Session session) {
        if (type != Type.Forwarded) {
          return false;
        }
        for (Forward f : c.forwards()) {
          if (f.target().getPort() == address.getPort()
              && f.target().getAddress().getHostAddress().equals(ForwardOuter.hostAddress(address.getHostName()))) {
            return true;
          }
        }
        LOG.warn("reverse forwards: the outer side asked for {}, which is no configured target", address);
        return false;
      }
    });
    // Heartbeats from the start of every session: the outer side closes a session silent for three.
    client.setSessionHeartbeat(SessionHeartbeatController.HeartbeatType.IGNORE, c.heartbeat());
    client.start();
    ForwardInner inner = new ForwardInner(c, client);
    inner.keeper.start();
    return inner;
  }

  private void keep() {
    long backoffMs = 1000;
    while (running) {
      try (ClientSession s = client.connect(USER, config.outer()).verify(10, TimeUnit.SECONDS).getSession()) {
        s.addPublicKeyIdentity(config.key());
        s.auth().verify(10, TimeUnit.SECONDS);
        for (Forward f : config.forwards()) {
          SshdSocketAddress bound = s.startRemotePortForwarding(
              new SshdSocketAddress(config.bind().getHostAddress(), f.port()),
              new SshdSocketAddress(f.target().getAddress().getHostAddress(), f.target().getPort()));
          LOG.info("reverse forward: {} on the outer side -> {} here", bound, f.target());
        }
        session = s;
        connects.incrementAndGet();
        backoffMs = 1000;
        lastError = "";
        s.waitFor(java.util.EnumSet.of(ClientSession.ClientSessionEvent.CLOSED), 0L);
      } catch (IOException | RuntimeException e) {
        failures.incrementAndGet();
        lastError = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        LOG.warn("reverse forwards to {}: {}", config.outer(), lastError);
      } finally {
        session = null;
      }
      if (!running) {
        break;
      }
      long sleep = backoffMs * 7 / 8 + ThreadLocalRandom.current().nextLong(backoffMs / 4 + 1);
      backoffMs = Math.min(30_000, backoffMs * 2);
      try {
        Thread.sleep(sleep);
      } catch (InterruptedException e) {
        break;
      }
    }
  }

  /** Whether the connection to the outer side is up with its forwards. */
  public boolean isConnected() {
    ClientSession s = session;
    return s != null && s.isOpen();
  }

  /** Connections made (the first, then every reconnect). */
  public long connects() {
    return connects.get();
  }

  public long failures() {
    return failures.get();
  }

  @Override
  public void report(StatusSink out) {
    StatusSink s = out.section("forward-inner");
    s.text("outer", config.outer().toString());
    s.text("state", isConnected() ? "connected" : "connecting");
    s.counter("connects", connects.get());
    s.counter("failures", failures.get());
    s.text("last-error", lastError);
    s.gauge("forwards", config.forwards().size());
  }

  @Override
  public void close() throws IOException {
    running = false;
    keeper.interrupt();
    ClientSession s = session;
    if (s != null) {
      s.close(true);
    }
    try {
      keeper.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    client.stop();
  }
}
