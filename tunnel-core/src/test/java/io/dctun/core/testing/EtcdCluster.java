package io.dctun.core.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A real etcd cluster of {@code n} members (Debian's {@code etcd-server}) for one test, each
 * member in its own network namespace on one bridge in the root namespace, so the test JVM
 * reaches every member directly:
 *
 * <pre>
 *   root ns:  bridge dxb&lt;id&gt;  198.18.S.1/24   (S random in 192..223: inside 198.18.192.0/19)
 *               |-- dxv&lt;id&gt;1 ==veth== e0 in ns dx-e1-&lt;id&gt;: 198.18.S.11  etcd m1 (:2379 client, :2380 peer)
 *               |-- dxv&lt;id&gt;2 ==veth== e0 in ns dx-e2-&lt;id&gt;: 198.18.S.12  etcd m2
 *               '-- dxv&lt;id&gt;3 ==veth== e0 in ns dx-e3-&lt;id&gt;: 198.18.S.13  etcd m3
 * </pre>
 *
 * <p>Nothing listens outside the namespaces. {@link #close()} kills the members, deletes the
 * links, the namespaces and the data directories (registered with {@link Cleanup} too, so a
 * crashed test run still cleans up). {@link #assumeAvailable()} skips when not root or etcd is
 * not installed.
 *
 * <p>{@link #start(Options)} names everything with another prefix (each test suite its own), can
 * serve clients over TLS ({@link Tls}: https client URLs, {@code --client-cert-auth}) and passes
 * further flags to every member ({@code --auth-token-ttl} say).
 */
public final class EtcdCluster implements AutoCloseable {
  /**
   * TLS on the client URLs: etcd's certificate and key (with every member's IP as SAN), the CA
   * that signed both etcd's and the clients' certificates, and the client certificate and key this
   * class itself uses (health checks, etcdctl).
   */
  public record Tls(Path serverCert, Path serverKey, Path ca, Path clientCert, Path clientKey) {}

  /**
   * How to start: name prefix (two letters), TLS (null: plain http; else made for the members'
   * IPs, which are known only once the cluster picked its subnet), extra etcd flags.
   */
  public record Options(String prefix, java.util.function.Function<List<String>, Tls> tls, List<String> extraArgs) {
    public static final Options PLAIN = new Options("dx", null, List.of());
  }

  private final String id;
  private final String prefix;
  private final Tls tls;
  private final List<String> extraArgs;
  private final int subnet = 192 + ThreadLocalRandom.current().nextInt(32);
  private final String bridge;
  private final List<NetNs> namespaces = new ArrayList<>();
  private final List<String> rootLinks = new ArrayList<>();
  private final List<Spawned> members = new ArrayList<>();
  private final List<Path> dataDirs = new ArrayList<>();
  private final int size;
  private final HttpClient http;
  private boolean closed;

  /** Skips the test unless it runs as root with network namespaces and etcd installed. */
  public static void assumeAvailable() {
    Requirements.assumeNetNs();
    assumeTrue(Requirements.findCommand("etcd").isPresent(),
        "needs etcd: 'etcd' not found (apt-get install etcd-server; .ci/run installs it)");
  }

  /** Starts {@code size} members and waits (bounded) until every one is healthy. */
  public static EtcdCluster start(int size) throws InterruptedException {
    return start(size, Options.PLAIN);
  }

  /** Starts {@code size} members as {@code options} say and waits (bounded) until every one is healthy. */
  public static EtcdCluster start(int size, Options options) throws InterruptedException {
    EtcdCluster c = new EtcdCluster(size, options);
    try {
      c.build();
      for (int i = 0; i < size; i++) {
        c.members.add(c.spawn(i));
      }
      for (int i = 0; i < size; i++) {
        c.awaitHealthy(i, Duration.ofSeconds(30));
      }
      return c;
    } catch (RuntimeException | InterruptedException | Error e) {
      c.close();
      throw e;
    }
  }

  private EtcdCluster(int size, Options options) {
    this.size = size;
    this.prefix = options.prefix();
    if (!prefix.matches("[a-z]{2}")) {
      throw new IllegalArgumentException("prefix must be two letters: " + prefix);
    }
    this.id = prefix.equals("dx") ? NetNs.randomId(5)
        : String.format("%05x", ThreadLocalRandom.current().nextInt(1 << 20));
    this.bridge = prefix + "b" + id;
    List<String> ips = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      ips.add(ip(i));
    }
    this.tls = options.tls() == null ? null : options.tls().apply(ips);
    this.extraArgs = List.copyOf(options.extraArgs());
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500));
    if (tls != null) {
      try {
        b.sslContext(new io.dctun.core.mesh.etcd.EtcdSecurity(tls.ca(), tls.clientCert(), tls.clientKey(), null, null)
            .sslContext());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    this.http = b.build();
    Cleanup.register(this);
  }

  public String ip(int member) {
    return "198.18." + subnet + "." + (11 + member);
  }

  public URI clientUrl(int member) {
    return URI.create((tls != null ? "https://" : "http://") + ip(member) + ":2379");
  }

  public List<URI> clientUrls() {
    List<URI> l = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      l.add(clientUrl(i));
    }
    return l;
  }

  public int size() {
    return size;
  }

  /**
   * Gives {@code ns} (another test's namespace, a gateway's say) a link onto the cluster's bridge,
   * {@code etcd0} with 198.18.S.(100 + n)/24, so processes there reach every member. The link goes
   * with {@link #close()} (its far end with the namespace).
   */
  public synchronized void attach(NetNs ns, int n) {
    if (n < 0 || n > 100) {
      throw new IllegalArgumentException("attach index must be 0..100, got " + n);
    }
    String outer = prefix + "a" + id + n;
    Shell.run("ip", "link", "add", outer, "type", "veth", "peer", "name", "etcd0", "netns", ns.name());
    rootLinks.add(outer);
    Shell.run("ip", "link", "set", "dev", outer, "master", bridge);
    Shell.run("ip", "link", "set", "dev", outer, "up");
    ns.addAddress("etcd0", "198.18." + subnet + "." + (100 + n) + "/24");
    ns.linkUp("etcd0");
  }

  public NetNs namespace(int member) {
    return namespaces.get(member);
  }

  private void build() {
    Shell.run("ip", "link", "add", "name", bridge, "type", "bridge");
    rootLinks.add(bridge);
    Shell.run("ip", "addr", "add", "198.18." + subnet + ".1/24", "dev", bridge);
    Shell.run("ip", "link", "set", "dev", bridge, "up");
    for (int i = 0; i < size; i++) {
      NetNs ns = NetNs.createNamed(prefix.equals("dx") ? "dx-e" + (i + 1) + "-" + id : prefix + id + "-e" + (i + 1));
      namespaces.add(ns);
      String outer = prefix + "v" + id + (i + 1);
      Shell.run("ip", "link", "add", outer, "type", "veth", "peer", "name", "e0", "netns", ns.name());
      rootLinks.add(outer);
      Shell.run("ip", "link", "set", "dev", outer, "master", bridge);
      Shell.run("ip", "link", "set", "dev", outer, "up");
      ns.addAddress("e0", ip(i) + "/24");
      ns.linkUp("e0");
      try {
        dataDirs.add(Files.createTempDirectory(prefix + "-etcd-m" + (i + 1) + "-"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private Spawned spawn(int i) {
    StringBuilder initial = new StringBuilder();
    for (int j = 0; j < size; j++) {
      initial.append(j == 0 ? "" : ",").append("m").append(j + 1).append("=http://").append(ip(j)).append(":2380");
    }
    List<String> cmd = new ArrayList<>(List.of("etcd", "--name", "m" + (i + 1), "--data-dir", dataDirs.get(i).toString(),
        "--listen-client-urls", clientUrl(i).toString(), "--advertise-client-urls", clientUrl(i).toString(),
        "--listen-peer-urls", "http://" + ip(i) + ":2380", "--initial-advertise-peer-urls", "http://" + ip(i) + ":2380",
        "--initial-cluster", initial.toString(), "--initial-cluster-state", "new",
        "--initial-cluster-token", prefix + "-" + id, "--heartbeat-interval", "100", "--election-timeout", "1000"));
    if (tls != null) {
      cmd.addAll(List.of("--cert-file", tls.serverCert().toString(), "--key-file", tls.serverKey().toString(),
          "--trusted-ca-file", tls.ca().toString(), "--client-cert-auth"));
    }
    cmd.addAll(extraArgs);
    return namespaces.get(i).spawn(cmd.toArray(String[]::new));
  }

  /** Kills member {@code i} at once (SIGKILL), as a crash would. */
  public void kill(int i) {
    members.get(i).stop(Duration.ZERO);
  }

  /** Starts member {@code i} again on its data directory and waits until it is healthy. */
  public void restart(int i) throws InterruptedException {
    members.set(i, spawn(i));
    awaitHealthy(i, Duration.ofSeconds(30));
  }

  /** Starts member {@code i} again without waiting for it (a test whose client cannot check its health). */
  public void restartNoWait(int i) {
    members.set(i, spawn(i));
  }

  /** Cuts member {@code i} off from the others and from the test JVM (its bridge port down); it keeps running. */
  public void isolate(int i) {
    Shell.run("ip", "link", "set", "dev", prefix + "v" + id + (i + 1), "down");
  }

  public void rejoin(int i) {
    Shell.run("ip", "link", "set", "dev", prefix + "v" + id + (i + 1), "up");
  }

  /**
   * Cuts the test JVM (the root namespace) off from every member, which keep their quorum among
   * themselves: the bridge loses its address, so the root has no route to them.
   */
  public void cutOffRoot() {
    Shell.run("ip", "addr", "del", "198.18." + subnet + ".1/24", "dev", bridge);
  }

  public void reconnectRoot() {
    Shell.run("ip", "addr", "add", "198.18." + subnet + ".1/24", "dev", bridge);
  }

  /** Runs etcdctl (v3 API) inside member {@code i}'s namespace against that member. */
  public ExecResult etcdctl(int i, String... args) {
    List<String> cmd = new ArrayList<>(List.of("env", "ETCDCTL_API=3", "etcdctl", "--endpoints", clientUrl(i).toString()));
    if (tls != null) {
      cmd.addAll(List.of("--cacert", tls.ca().toString(), "--cert", tls.clientCert().toString(),
          "--key", tls.clientKey().toString()));
    }
    cmd.addAll(List.of(args));
    return namespaces.get(i).exec(cmd.toArray(String[]::new));
  }

  /** Whether member {@code i} answers /health with true. */
  public boolean healthy(int i) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(clientUrl(i).resolve("/health"))
          .timeout(Duration.ofSeconds(1)).GET().build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 && r.body().contains("\"true\"");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void awaitHealthy(int i, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!healthy(i)) {
      if (!members.get(i).isAlive()) {
        throw new IllegalStateException("etcd member m" + (i + 1) + " exited:\n" + members.get(i).describe());
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("etcd member m" + (i + 1) + " not healthy after " + limit + ":\n"
            + members.get(i).describe());
      }
      Thread.sleep(100);
    }
  }

  /** The members' output, for a failure message. */
  public String logs() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < members.size(); i++) {
      String out = members.get(i).output();
      b.append("--- m").append(i + 1).append(" (last lines)\n");
      String[] lines = out.split("\n");
      for (int l = Math.max(0, lines.length - 15); l < lines.length; l++) {
        b.append(lines[l]).append('\n');
      }
    }
    return b.toString();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException failure = null;
    for (Spawned s : members) {
      try {
        s.close();
      } catch (RuntimeException e) {
        failure = NetNs.add(failure, e);
      }
    }
    for (int i = rootLinks.size() - 1; i >= 0; i--) {
      String dev = rootLinks.get(i);
      if (Shell.exec("ip", "link", "show", "dev", dev).ok()) {
        ExecResult r = Shell.exec("ip", "link", "del", "dev", dev);
        if (!r.ok() && Shell.exec("ip", "link", "show", "dev", dev).ok()) {
          failure = NetNs.add(failure, new IllegalStateException("cannot delete " + dev + ": " + r.stderr()));
        }
      }
    }
    for (NetNs ns : namespaces) {
      try {
        ns.close();
      } catch (RuntimeException e) {
        failure = NetNs.add(failure, e);
      }
    }
    for (Path d : dataDirs) {
      try (Stream<Path> walk = Files.walk(d)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        failure = NetNs.add(failure, new UncheckedIOException(e));
      }
    }
    Cleanup.unregister(this);
    if (failure != null) {
      throw failure;
    }
  }
}
