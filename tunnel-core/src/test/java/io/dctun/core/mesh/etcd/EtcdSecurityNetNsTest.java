package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.route.Prefix;
import io.dctun.core.testing.EtcdCluster;
import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.TestPki;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link EtcdClient} and {@link EtcdHostStore} against a real etcd member (in a network namespace,
 * {@link EtcdCluster}) that serves its clients over TLS with {@code --client-cert-auth}, and then
 * with etcd authentication enabled ({@code --auth-token-ttl 1}: simple tokens die after a second
 * idle). Certificates are made with openssl at test time. Needs root, etcd-server, etcd-client and
 * openssl; skipped with a message otherwise.
 */
class EtcdSecurityNetNsTest {
  static final Duration TIMEOUT = Duration.ofSeconds(2);
  static final String PASSWORD = "s3cret-Etcd-pw";

  @TempDir Path dir;
  TestPki pki;
  EtcdCluster etcd;
  EtcdHostStore store;
  EtcdHostStore store2;

  @BeforeEach
  void start() throws Exception {
    EtcdCluster.assumeAvailable();
    TestPki.assumeAvailable();
    pki = new TestPki(dir, "et-ca");
    pki.client("dctun", "ec");
    etcd = EtcdCluster.start(1, new EtcdCluster.Options("et", ips -> {
      pki.server("etcd", ips);
      return new EtcdCluster.Tls(pki.cert("etcd"), pki.key("etcd"), pki.caCert(), pki.cert("dctun"), pki.key("dctun"));
    }, List.of("--auth-token-ttl", "1")));
  }

  @AfterEach
  void stop() {
    try {
      if (store != null) {
        store.halt();
      }
      if (store2 != null) {
        store2.halt();
      }
    } finally {
      if (etcd != null) {
        etcd.close();
      }
    }
  }

  List<URI> urls() {
    return etcd.clientUrls();
  }

  EtcdClient client(EtcdSecurity s) throws IOException {
    return new EtcdClient(urls(), TIMEOUT, s);
  }

  EtcdSecurity tls(String cert) {
    return new EtcdSecurity(pki.caCert(), pki.cert(cert), pki.key(cert), null, null);
  }

  /** A key and value written and read back, and a lease taken: the calls the store makes. */
  static void roundTrip(EtcdClient c, String key) throws IOException {
    long lease = c.grantLease(5);
    assertThat(c.putIf(key, "v".getBytes(StandardCharsets.UTF_8), lease, 0).succeeded()).isTrue();
    assertThat(c.range(key).kvs()).extracting(EtcdClient.RawKv::key).containsExactly(key);
    assertThat(c.keepAlive(lease)).isPositive();
  }

  @Test
  void worksOverTlsWithAnEcOrRsaClientCertificate() throws Exception {
    assertThat(urls()).allSatisfy(u -> assertThat(u.getScheme()).isEqualTo("https"));
    roundTrip(client(tls("dctun")), "/et/ec");
    pki.client("rsa", "rsa");
    roundTrip(client(tls("rsa")), "/et/rsa");
  }

  @Test
  void isRefusedWithoutAClientCertificate() throws Exception {
    EtcdClient c = client(new EtcdSecurity(pki.caCert(), null, null, null, null));
    // In TLS 1.3 etcd's refusal comes after the client's handshake finished: the same clear
    // error every time, however the alert and the close race
    for (int i = 0; i < 20; i++) {
      assertThatThrownBy(() -> c.range("/et/"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(urls().get(0).toString())
          .hasMessageContaining("TLS failed")
          .hasMessageContaining("etcd-cert-file");
    }
  }

  @Test
  void refusesAServerItsCaDidNotSign() throws Exception {
    TestPki other = new TestPki(dir, "et-other");
    EtcdClient c = client(new EtcdSecurity(other.caCert(), pki.cert("dctun"), pki.key("dctun"), null, null));
    assertThatThrownBy(() -> c.range("/et/"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("TLS failed")
        .hasMessageContaining("etcd-ca-file");
    // and the JDK's own trust store does not know our test CA either
    EtcdClient jdk = client(new EtcdSecurity(null, pki.cert("dctun"), pki.key("dctun"), null, null));
    assertThatThrownBy(() -> jdk.range("/et/")).hasMessageContaining("TLS failed");
  }

  @Test
  void checksTheHostName() throws Exception {
    // the member restarted with a certificate its CA signed, but for another IP than its own
    pki.server("etcd", List.of("198.19.255.254"));
    etcd.kill(0);
    etcd.restartNoWait(0);
    EtcdClient c = client(tls("dctun"));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      try {
        c.range("/et/");
        throw new AssertionError("a certificate for another IP was accepted");
      } catch (IOException e) {
        if (e.getMessage().contains("TLS failed")) {
          assertThat(e.getMessage()).contains("must name this host or IP").containsIgnoringCase("subject alternative name");
          break;
        }
        assertThat(System.nanoTime()).as("member not back: %s", e.getMessage()).isLessThan(deadline);
        Thread.sleep(100);
      }
    }
  }

  @Test
  void explainsEtcdsRefusalOfACommonName() throws Exception {
    enableAuth(); // with authentication on, etcd's gateway refuses a client certificate with a CN
    pki.clientWithCommonName("withcn");
    EtcdClient c = client(new EtcdSecurity(pki.caCert(), pki.cert("withcn"), pki.key("withcn"), "root",
        passwordFile(PASSWORD)));
    assertThatThrownBy(() -> c.range("/et/"))
        .isInstanceOf(EtcdClient.EtcdException.class)
        .hasMessageContaining("HTTP 400")
        .hasMessageContaining("without CN");
  }

  /** Enables etcd authentication with user root (etcdctl over TLS, as the tests' own client). */
  void enableAuth() {
    for (String[] cmd : List.of(new String[] {"user", "add", "root:" + PASSWORD}, new String[] {"role", "add", "root"},
        new String[] {"user", "grant-role", "root", "root"}, new String[] {"auth", "enable"})) {
      ExecResult r = etcd.etcdctl(0, cmd);
      assertThat(r.ok()).as("etcdctl %s: %s", String.join(" ", cmd), r.stderr()).isTrue();
    }
  }

  Path passwordFile(String password) throws IOException {
    Path p = dir.resolve("etcd-" + Math.abs(password.hashCode()) + ".pw");
    Files.writeString(p, password + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
    return p;
  }

  EtcdSecurity auth(String password) throws IOException {
    return new EtcdSecurity(pki.caCert(), pki.cert("dctun"), pki.key("dctun"), "root", passwordFile(password));
  }

  @Test
  void authenticatesAndFailsClearlyWithAWrongPassword() throws Exception {
    enableAuth();
    assertThatThrownBy(() -> client(tls("dctun")).range("/et/"))
        .as("without a user etcd refuses").hasMessageContaining("permission denied");
    EtcdClient c = client(auth(PASSWORD));
    roundTrip(c, "/et/auth");
    assertThat(c.authentications()).isPositive();

    EtcdClient wrong = client(auth("not-the-password"));
    assertThatThrownBy(() -> wrong.range("/et/"))
        .isInstanceOf(EtcdClient.EtcdException.class)
        .hasMessageContaining("etcd authentication as user 'root' failed")
        .hasMessageContaining("invalid user ID or password")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("not-the-password").doesNotContain(PASSWORD));
    assertThat(auth(PASSWORD).toString()).doesNotContain(PASSWORD);
  }

  @Test
  void authenticatesAgainWhenTheTokenIsInvalidated() throws Exception {
    enableAuth();
    // Counts are "more than before", not exact: on a stalled machine a second idle between two
    // calls lets the 1 s token expire by itself, which is one more (correct) authentication.
    EtcdClient c = client(auth(PASSWORD));
    roundTrip(c, "/et/a");
    long before = c.authentications();
    assertThat(before).isPositive();
    c.forgetToken(); // a token etcd does not know, as after a member restart
    roundTrip(c, "/et/b"); // each call would fail with "invalid auth token" without the re-authentication
    assertThat(c.authentications()).isGreaterThan(before);
    // a watch opened with a dead token comes back canceled; the client re-authenticates and opens it again
    c.forgetToken();
    before = c.authentications();
    try (EtcdClient.Watch w = c.watch("/et/", 1)) {
      EtcdClient.Watch.Batch b = w.next();
      assertThat(b.canceled()).as(b.cancelReason()).isFalse();
      assertThat(b.created()).isTrue();
      assertThat(c.authentications()).isGreaterThan(before);
    }
  }

  @Test
  void authenticatesAgainWhenTheTokenExpires() throws Exception {
    enableAuth();
    EtcdClient c = client(auth(PASSWORD));
    roundTrip(c, "/et/ttl");
    long first = c.authentications();
    // --auth-token-ttl 1: a simple token unused for a second is dropped by etcd's once-a-second
    // sweep, so after 2.5 s idle it is gone; a call with a live token would renew it, so idle
    // that long each time until a call needed a new token. Every call must succeed.
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (c.authentications() == first) {
      assertThat(System.nanoTime()).as("token never expired").isLessThan(deadline);
      Thread.sleep(2500);
      assertThat(c.range("/et/ttl").kvs()).hasSize(1);
    }
    assertThat(c.authentications()).isEqualTo(first + 1);
  }

  @Test
  void theStoreSharesHostsOverTlsWithAuthentication() throws Exception {
    enableAuth();
    shareAHost("et" + Long.toHexString(System.nanoTime()), auth(PASSWORD));
  }

  /** The README's least-privilege setup: a user whose role may read and write its mesh's prefix only. */
  @Test
  void theStoreNeedsOnlyReadWriteOnItsMeshPrefix() throws Exception {
    enableAuth();
    String mesh = "et" + Long.toHexString(System.nanoTime());
    for (String[] cmd : List.of(new String[] {"user", "add", "gw1:gw1-pw"}, new String[] {"role", "add", "dctun-" + mesh},
        new String[] {"role", "grant-permission", "dctun-" + mesh, "readwrite", "--prefix=true", "/dctun/" + mesh + "/"},
        new String[] {"user", "grant-role", "gw1", "dctun-" + mesh})) {
      ExecResult r = etcd.etcdctl(0, withRoot(cmd));
      assertThat(r.ok()).as("etcdctl %s: %s", String.join(" ", cmd), r.stderr()).isTrue();
    }
    EtcdSecurity gw1 = new EtcdSecurity(pki.caCert(), pki.cert("dctun"), pki.key("dctun"), "gw1", passwordFile("gw1-pw"));
    shareAHost(mesh, gw1);
    assertThatThrownBy(() -> client(gw1).range("/dctun/other/")).hasMessageContaining("permission denied");
  }

  static String[] withRoot(String[] cmd) {
    String[] out = new String[cmd.length + 2];
    out[0] = "--user";
    out[1] = "root:" + PASSWORD;
    System.arraycopy(cmd, 0, out, 2, cmd.length);
    return out;
  }

  /** Gateway A's host reaches gateway B's routes: writes, lease, list and watch all under {@code security}. */
  void shareAHost(String mesh, EtcdSecurity security) throws Exception {
    Map<Prefix, String> routesAtB = new ConcurrentHashMap<>();
    EtcdHostStore.Config config = new EtcdHostStore.Config(urls(), mesh, 3000, TIMEOUT, security);
    store = new EtcdHostStore(config, "gw-a", 1, (h, o) -> { }).start();
    store2 = new EtcdHostStore(config, "gw-b", 2, (h, o) -> {
      if (o == null) {
        routesAtB.remove(h);
      } else {
        routesAtB.put(h, o);
      }
    }).start();
    Prefix h = Prefix.parse("198.18.199.9/32");
    store.connected(h, 1);
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (!"gw-a".equals(routesAtB.get(h))) {
      assertThat(System.nanoTime()).as("B never learned A's host: A %s B %s %s", io.dctun.core.status.StatusText.of(store),
          io.dctun.core.status.StatusText.of(store2), etcd.logs()).isLessThan(deadline);
      Thread.sleep(50);
    }
    for (EtcdHostStore st : List.of(store, store2)) {
      String status = io.dctun.core.status.StatusText.of(st);
      assertThat(status).contains("etcd connected", "authentications ").doesNotContain(PASSWORD);
      assertThat(st.toString()).doesNotContain(PASSWORD);
    }
  }
}
