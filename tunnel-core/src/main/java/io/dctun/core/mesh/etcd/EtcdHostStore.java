package io.dctun.core.mesh.etcd;

import io.dctun.core.mesh.etcd.EtcdClient.RawKv;
import io.dctun.core.mesh.etcd.EtcdClient.TxnResult;
import io.dctun.core.route.Prefix;
import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thin driver of {@link EtcdHostTable}: runs its transactions against etcd, keeps this
 * gateway's lease alive, lists and watches the hosts prefix, and hands route changes out.
 *
 * <pre>
 *   engine threads --connected/disconnected--> inbox (bounded; offer, counted when full) --+
 *   watch thread   --blocking read of /v3/watch--> inbox (put) ----------------------------+
 *                                                                                          v
 *   store thread: drain inbox -> table; lease grant / keep-alive; list + (re)start watch;
 *                 table.pending() -> txn -> table.succeeded/compareFailed/failed
 *                 -> RouteListener.routeChanged (the device's learnRoute/forgetRoute)
 * </pre>
 *
 * <p>Nothing the data plane does waits on this class: {@link #connected}/{@link #disconnected}
 * only offer to a queue, {@link #owner} reads a concurrent map. When etcd is out of reach the
 * routes stay as they are, the store thread retries with exponential backoff and jitter, and when
 * etcd answers again it re-lists, restarts the watch and re-asserts the local hosts (under a new
 * lease if the old one expired meanwhile). A watch that broke, was compacted away, or lags behind
 * this gateway's own writes is restarted with a fresh list: no change is missed.
 *
 * <p>Thread-safety: the public methods may be called from any thread.
 */
public final class EtcdHostStore implements StatusSource, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdHostStore.class);
  static final int INBOX_CAPACITY = 4096;
  private static final long MIN_BACKOFF_NANOS = 50_000_000L;
  private static final long MAX_BACKOFF_NANOS = 2_000_000_000L;

  /** Told (on the store thread) where a host is routed now: {@code owner} a gateway id, this one's, or null. */
  @FunctionalInterface
  public interface RouteListener {
    void routeChanged(Prefix host, String owner);
  }

  /**
   * Settings: etcd's client URLs, the mesh name (key prefix), the lease, the per-call timeout, and
   * TLS and authentication ({@link EtcdSecurity#NONE} for plain etcd).
   */
  public record Config(List<URI> endpoints, String meshName, int leaseMillis, Duration timeout, EtcdSecurity security) {
    /** Plain etcd: http endpoints, no user. */
    public Config(List<URI> endpoints, String meshName, int leaseMillis, Duration timeout) {
      this(endpoints, meshName, leaseMillis, timeout, EtcdSecurity.NONE);
    }

    public Config {
      endpoints = List.copyOf(endpoints);
      Objects.requireNonNull(meshName, "meshName");
      Objects.requireNonNull(security, "security");
      boolean tls = EtcdClient.tls(endpoints);
      if (!tls && security.hasTlsFiles()) {
        throw new IllegalArgumentException("etcd TLS files are set but the endpoints are http://; use https://");
      }
      if (leaseMillis < 2000) {
        throw new IllegalArgumentException("etcd lease must be at least 2000 ms (etcd's minimum TTL), got " + leaseMillis);
      }
    }

    long ttlSeconds() {
      return Math.max(2, (leaseMillis + 999) / 1000);
    }
  }

  private record Connected(Prefix host, long version) {}

  private record Disconnected(Prefix host) {}

  private record WatchEvents(long generation, EtcdClient.Watch.Batch batch) {}

  private record WatchEnded(long generation, String why) {}

  private final Config config;
  private final EtcdCodec codec;
  private final EtcdClient client;
  private final EtcdHostTable table;
  private final RouteListener listener;
  private final BlockingQueue<Object> inbox = new ArrayBlockingQueue<>(INBOX_CAPACITY);
  private final Map<Prefix, String> owners = new ConcurrentHashMap<>();
  private final Thread thread;
  private volatile boolean running = true;
  private volatile boolean revokeOnClose = true;

  // store thread only
  private boolean needList = true;
  private long nextKeepAlive;
  private volatile long watchGeneration;
  private EtcdClient.Watch watch; // guarded by this
  private long watchRevision;
  private long failoversAtWatch;
  private long ownRevision;
  private long lagSince;
  private boolean wasConnected;

  // read by report() from any thread
  private final AtomicLong eventsDropped = new AtomicLong();
  private volatile boolean etcdConnected;
  private volatile String lastError = "";
  private volatile long writesFailed;
  private volatile long watchRestarts;
  private volatile long malformed;
  private volatile long reconnects;
  private volatile long keepAlives;
  private volatile StatusSnapshot snapshot = new StatusSnapshot();

  public EtcdHostStore(Config config, String self, long incarnation, RouteListener listener) {
    this.config = config;
    this.codec = new EtcdCodec(config.meshName());
    try {
      this.client = new EtcdClient(config.endpoints(), config.timeout(), config.security());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("etcd TLS: " + e.getMessage(), e);
    }
    this.listener = Objects.requireNonNull(listener, "listener");
    this.table = new EtcdHostTable(self, incarnation, this::routeChanged);
    this.thread = new Thread(this::run, "dctun-etcd");
    this.thread.setDaemon(true);
  }

  /** Starts the store thread; returns this. */
  public EtcdHostStore start() {
    thread.start();
    return this;
  }

  /** A host connected here (non-blocking; dropped and counted if the inbox is full). */
  public void connected(Prefix host, long version) {
    offer(new Connected(host, version));
  }

  /** A host's session here ended (non-blocking). */
  public void disconnected(Prefix host) {
    offer(new Disconnected(host));
  }

  private void offer(Object m) {
    if (!inbox.offer(m)) {
      eventsDropped.incrementAndGet();
    }
  }

  /** Where this gateway routes {@code host} now, as the last decision said: a gateway id or null. */
  public String owner(Prefix host) {
    return owners.get(host);
  }

  public Map<Prefix, String> routes() {
    return Map.copyOf(owners);
  }

  public String self() {
    return table.self();
  }

  /** Keep-alives etcd answered with the lease still there. */
  public long keepAlives() {
    return keepAlives;
  }

  /** Whether the last call to etcd succeeded. */
  public boolean etcdConnected() {
    return etcdConnected;
  }

  /** Stops; revokes the lease (best effort) so this gateway's hosts vanish at once. */
  @Override
  public void close() {
    stop(true);
  }

  /** Stops without revoking, as a crash would: the hosts vanish when the lease expires. */
  void halt() {
    stop(false);
  }

  private void stop(boolean revoke) {
    revokeOnClose = revoke;
    running = false;
    thread.interrupt();
    try {
      thread.join(config.timeout().toMillis() * (config.endpoints().size() + 1) + 1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ------------------------------------------------------------------ the store thread

  private void run() {
    long backoff = MIN_BACKOFF_NANOS;
    try {
      while (running) {
        try {
          step();
          if (!wasConnected) {
            LOG.info("etcd: connected ({})", client.currentEndpoint());
          }
          wasConnected = true;
          etcdConnected = true;
          backoff = MIN_BACKOFF_NANOS;
          publish();
          idle(Math.min(nextKeepAlive - System.nanoTime(), 100_000_000L));
        } catch (IOException | RuntimeException e) {
          if (!running) {
            break;
          }
          if (e instanceof RuntimeException) {
            LOG.warn("etcd store: unexpected error", e);
          }
          lastError = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
          if (wasConnected) {
            LOG.warn("etcd: out of reach, keeping the last routes and retrying: {}", lastError);
            reconnects++;
          }
          wasConnected = false;
          etcdConnected = false;
          needList = true; // when it answers again: re-list, restart the watch, re-assert
          publish();
          long jittered = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
          idle(jittered);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
        }
      }
    } catch (InterruptedException e) {
      // stopping
    } finally {
      shutdown();
    }
  }

  /** Waits up to {@code nanos} for the inbox, handling what arrives without etcd. */
  private void idle(long nanos) throws InterruptedException {
    Object m = inbox.poll(Math.max(1, nanos), TimeUnit.NANOSECONDS);
    if (m != null) {
      handle(m);
      drain();
    }
  }

  private void drain() {
    for (Object m; (m = inbox.poll()) != null; ) {
      handle(m);
    }
  }

  private void handle(Object m) {
    if (m instanceof Connected c) {
      table.connected(c.host(), c.version());
      // The engine side may have routed the host here already; say again what the table decided.
      String o = table.owner(c.host());
      routeChanged(c.host(), o);
    } else if (m instanceof Disconnected d) {
      table.disconnected(d.host());
    } else if (m instanceof WatchEvents w) {
      if (w.generation() != watchGeneration) {
        return; // from a watch already replaced
      }
      watchRevision = Math.max(watchRevision, w.batch().revision());
      table.watched(kvs(w.batch().events()));
    } else if (m instanceof WatchEnded e) {
      if (e.generation() == watchGeneration) {
        LOG.info("etcd: watch ended ({}); re-listing", e.why());
        watchRestarts++;
        needList = true;
      }
    }
  }

  private void step() throws IOException, InterruptedException {
    drain();
    long now = System.nanoTime();
    if (table.lease() == 0) {
      long id = client.grantLease(config.ttlSeconds());
      table.leaseGranted(id);
      nextKeepAlive = now + keepAliveInterval();
    }
    if (needList) {
      EtcdClient.Listing l = client.range(codec.hostsPrefix());
      table.listed(kvs(l.kvs()), l.revision());
      startWatch(l.revision() + 1);
      needList = false;
    }
    List<EtcdOp> ops = table.pending();
    for (int i = 0; i < ops.size(); i++) {
      try {
        run(ops.get(i));
      } catch (IOException e) {
        for (int j = i; j < ops.size(); j++) {
          table.failed(ops.get(j));
        }
        writesFailed++;
        if (e instanceof EtcdClient.EtcdException x && x.leaseNotFound()) {
          table.leaseLost();
          return; // a new lease next step
        }
        throw e;
      }
    }
    if (System.nanoTime() - nextKeepAlive >= 0) {
      long ttl = client.keepAlive(table.lease());
      if (ttl <= 0) {
        LOG.warn("etcd: lease {} expired; taking a new one and re-asserting local hosts", Long.toHexString(table.lease()));
        table.leaseLost();
      } else {
        keepAlives++;
        nextKeepAlive = System.nanoTime() + keepAliveInterval();
      }
    }
    checkWatchLag();
    if (client.failovers() != failoversAtWatch) {
      // A call gave up on a member: the watch may be on it, open but silent. Move it too.
      LOG.info("etcd: failed over to {}; re-listing and moving the watch there", client.currentEndpoint());
      watchRestarts++;
      needList = true;
    }
  }

  private long keepAliveInterval() {
    return TimeUnit.SECONDS.toNanos(config.ttlSeconds()) / 3;
  }

  private void run(EtcdOp op) throws IOException {
    String key = codec.key(op.host());
    TxnResult r = op instanceof EtcdOp.Write w
        ? client.putIf(key, EtcdCodec.encode(w.record()), w.lease(), w.expectModRevision())
        : client.deleteIf(key, op.expectModRevision());
    if (r.succeeded()) {
      table.succeeded(op, r.revision());
      if (ownRevision < r.revision()) {
        ownRevision = r.revision();
      }
    } else {
      EtcdHostTable.Kv current = r.current() == null ? null : kv(r.current());
      table.compareFailed(op, current != null ? current : new EtcdHostTable.Kv(op.host(), null, r.revision(), 0));
    }
  }

  /** A watch that has not shown this gateway's own write within a few timeouts is stuck: restart it. */
  private void checkWatchLag() {
    long now = System.nanoTime();
    if (ownRevision <= watchRevision) {
      lagSince = 0;
      return;
    }
    if (lagSince == 0) {
      lagSince = now;
    } else if (now - lagSince > 3 * config.timeout().toNanos()) {
      LOG.info("etcd: watch behind own write (rev {} < {}); restarting it", watchRevision, ownRevision);
      watchRestarts++;
      needList = true;
      lagSince = 0;
    }
  }

  private synchronized void startWatch(long from) {
    if (watch != null) {
      watch.close();
      watch = null;
    }
    failoversAtWatch = client.failovers();
    long gen = ++watchGeneration;
    watchRevision = from - 1;
    Thread t = new Thread(() -> watchLoop(gen, from), "dctun-etcd-watch");
    t.setDaemon(true);
    t.start();
  }

  private void watchLoop(long gen, long from) {
    EtcdClient.Watch w = null;
    try {
      w = client.watch(codec.hostsPrefix(), from);
      synchronized (this) {
        if (gen != watchGeneration || !running) {
          w.close();
          return;
        }
        watch = w;
      }
      while (running) {
        EtcdClient.Watch.Batch b = w.next();
        if (b.canceled() || b.compactRevision() != 0) {
          deliver(gen, new WatchEnded(gen, b.compactRevision() != 0 ? "compacted at " + b.compactRevision()
              : b.cancelReason().isEmpty() ? "canceled" : "canceled: " + b.cancelReason()));
          return;
        }
        if (!b.events().isEmpty() || b.created()) {
          deliver(gen, new WatchEvents(gen, b));
        }
      }
    } catch (IOException | RuntimeException e) {
      deliver(gen, new WatchEnded(gen, String.valueOf(e.getMessage())));
    } finally {
      if (w != null) {
        w.close();
      }
    }
  }

  /** Hands a watch message to the store thread, waiting for room (back-pressure on etcd, not the engine). */
  private void deliver(long gen, Object m) {
    try {
      while (running && gen == watchGeneration) {
        if (inbox.offer(m, 100, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void shutdown() {
    synchronized (this) {
      watchGeneration++;
      if (watch != null) {
        watch.close();
      }
    }
    if (revokeOnClose && table.lease() != 0) {
      Thread.interrupted(); // the interrupt that stopped the loop must not abort the revoke
      try {
        client.revoke(table.lease());
      } catch (IOException e) {
        LOG.info("etcd: could not revoke lease on close ({}); it expires by itself", e.getMessage());
      }
    }
    etcdConnected = false;
  }

  private List<EtcdHostTable.Kv> kvs(List<RawKv> raw) {
    List<EtcdHostTable.Kv> out = new ArrayList<>(raw.size());
    for (RawKv r : raw) {
      EtcdHostTable.Kv kv = kv(r);
      if (kv != null) {
        out.add(kv);
      }
    }
    return out;
  }

  /**
   * A raw key-value as the table's view: null (counted) if the key names no host; an {@link
   * HostRecord#UNREADABLE} record (counted) if the value is not a host record.
   */
  private EtcdHostTable.Kv kv(RawKv r) {
    Prefix host = codec.host(r.key());
    if (host == null) {
      malformed++;
      return null;
    }
    if (r.deleted()) {
      return new EtcdHostTable.Kv(host, null, r.modRevision(), 0);
    }
    try {
      return new EtcdHostTable.Kv(host, EtcdCodec.decode(r.value()), r.modRevision(), r.lease());
    } catch (EtcdCodec.MalformedRecordException e) {
      if (malformed++ % 100 == 0) {
        LOG.warn("etcd: a value at {} is not a host record ({} so far): {}; routing it nowhere", r.key(), malformed,
            e.getMessage());
      }
      return new EtcdHostTable.Kv(host, HostRecord.UNREADABLE, r.modRevision(), r.lease());
    }
  }

  private void routeChanged(Prefix host, String owner) {
    if (owner == null) {
      owners.remove(host);
    } else {
      owners.put(host, owner);
    }
    listener.routeChanged(host, owner);
  }

  // ------------------------------------------------------------------ status

  /** The table's report, captured on the store thread so that {@link #report} touches nothing it owns. */
  private static final class StatusSnapshot {
    final List<Object[]> values = new ArrayList<>();
  }

  private void publish() {
    StatusSnapshot s = new StatusSnapshot();
    table.report(new StatusSink() {
      @Override
      public void text(String name, String value) {
        s.values.add(new Object[] {"t", name, value});
      }

      @Override
      public void counter(String name, long value) {
        s.values.add(new Object[] {"c", name, value});
      }

      @Override
      public void gauge(String name, long value) {
        s.values.add(new Object[] {"g", name, value});
      }

      @Override
      public StatusSink scope(String kind, String id) {
        return this;
      }

      @Override
      public StatusSink section(String prefix) {
        return this;
      }
    });
    snapshot = s;
  }

  @Override
  public void report(StatusSink s) {
    s.text("etcd", etcdConnected ? "connected" : "unreachable");
    s.text("etcd-endpoint", client.currentEndpoint().toString());
    if (!etcdConnected && !lastError.isEmpty()) {
      s.text("etcd-last-error", lastError);
    }
    for (Object[] v : snapshot.values) {
      switch ((String) v[0]) {
        case "t" -> s.text((String) v[1], (String) v[2]);
        case "c" -> s.counter((String) v[1], (Long) v[2]);
        default -> s.gauge((String) v[1], (Long) v[2]);
      }
    }
    s.counter("writes-failed", writesFailed);
    s.counter("watch-restarts", watchRestarts);
    s.counter("reconnects", reconnects);
    s.counter("keep-alives", keepAlives);
    s.counter("malformed-records", malformed);
    s.counter("events-dropped", eventsDropped.get());
    if (config.security().hasUser()) {
      s.counter("authentications", client.authentications()); // tokens taken; more than 1: re-authenticated
    }
  }
}
