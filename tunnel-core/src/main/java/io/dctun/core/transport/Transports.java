package io.dctun.core.transport;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transports one engine holds, in order of preference: a message goes out through the first
 * that {@link Transport#carries carries} its endpoint. An endpoint no transport carries (an IPv6
 * peer behind an IPv4-only socket, say) is counted in {@link #unroutable()} and logged at most
 * once every ten seconds. Immutable list; thread-safe.
 */
public final class Transports {
  private static final Logger LOG = LoggerFactory.getLogger(Transports.class);
  private final Transport[] all;
  private final AtomicLong unroutable = new AtomicLong();
  private final io.dctun.core.LogLimiter unroutableLog = new io.dctun.core.LogLimiter();

  public Transports(List<? extends Transport> transports) {
    if (transports.isEmpty()) {
      throw new IllegalArgumentException("an engine needs at least one transport");
    }
    this.all = transports.toArray(new Transport[0]);
  }

  public static Transports of(Transport... transports) {
    return new Transports(List.of(transports));
  }

  public List<Transport> list() {
    return List.of(all);
  }

  /** The transport that carries {@code to}, or null. */
  public Transport carrierOf(Endpoint to) {
    for (Transport t : all) {
      if (t.carries(to)) {
        return t;
      }
    }
    return null;
  }

  public void send(Endpoint to, byte[] buf, int off, int len) {
    Transport t = all.length == 1 ? all[0] : carrierOf(to);
    if (t == null || (all.length == 1 && !t.carries(to))) {
      unroutable.incrementAndGet();
      if (unroutableLog.allow()) {
        LOG.warn("no transport carries endpoint {} ({}); message dropped ({} in all)", to, to.carrier(), unroutable.get());
      }
      return;
    }
    t.send(to, buf, off, len);
  }

  public void beginBatch() {
    for (Transport t : all) {
      t.beginBatch();
    }
  }

  public void flush() {
    for (Transport t : all) {
      t.flush();
    }
  }

  /** Messages dropped because no transport carries their endpoint. */
  public long unroutable() {
    return unroutable.get();
  }

  /** Send errors over all transports. */
  public long sendErrors() {
    long n = 0;
    for (Transport t : all) {
      n += t.sendErrors();
    }
    return n;
  }

  /** Closes every transport; a failure to close one is logged and the others still close. */
  public void close() {
    for (Transport t : all) {
      try {
        t.close();
      } catch (java.io.IOException | RuntimeException e) {
        LOG.warn("closing transport {}: {}", t.kind(), e.toString());
      }
    }
  }
}
