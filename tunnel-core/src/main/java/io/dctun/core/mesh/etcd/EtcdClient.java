package io.dctun.core.mesh.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * The few etcd v3 calls dctun needs, over etcd's JSON gRPC-gateway ({@code /v3/...}, keys and
 * values in base64, 64-bit numbers as strings) with the JDK's {@link HttpClient} and Jackson.
 *
 * <p><b>Why not jetcd.</b> jetcd (the official Java client; 0.8.7, checked with {@code mvn
 * dependency:tree} on 2026-12-03) brings 48 jars, 21.5 MB: Vert.x 5.1.2's gRPC stack on Netty
 * 4.2.15 and grpc-java 1.82's grpc-netty, which is built on Netty 4.1.133 — one tree mixing
 * Netty 4.1 and 4.2 artifacts, which this reactor's netty-bom (4.2.18, root pom) would force all
 * onto 4.2, under a grpc-netty not built for it — plus a second event-loop stack in tunnel-core,
 * all for six calls. etcd serves the same API as JSON over HTTP/1.1 (the gRPC gateway is part of
 * every etcd server, 3.4 included); the JDK's client is well kept and already here, and Jackson
 * databind (3 jars, 2.3 MB, the most widely used JSON library on the JVM) is the one dependency
 * added. The price: the watch is a long HTTP response read value by value rather than a gRPC
 * stream, and each keep-alive is one request.
 *
 * <p>Endpoints: a call goes to the endpoint that last answered; on a network error, a timeout or
 * an "unavailable"/"no leader" answer it tries the next, so losing one member costs at most one
 * timeout. Each call is bounded by {@code timeout}. Logical errors (a lease that is gone) come
 * back as {@link EtcdException} without trying further.
 *
 * <p><b>Security</b> ({@link EtcdSecurity}). With {@code https://} endpoints the JDK's client
 * speaks TLS with an {@link SSLContext} built from the configured PEM files (a CA bundle to trust,
 * a client certificate and key for etcd's {@code --client-cert-auth}); hostname verification
 * stays on, so etcd's certificate must name the endpoint's host or IP. Once authentication is
 * on, etcd's HTTP gateway refuses (HTTP 400, plain text) a client certificate that has a
 * CommonName (etcd 3.4.23, tested); such an answer is reported with that fix. With a user, the client takes a token from {@code /v3/auth/authenticate} before the
 * first call and sends it as {@code Authorization} on every call, watches included; when etcd
 * answers that the token is invalid or expired (simple tokens expire after {@code
 * --auth-token-ttl} idle seconds, and every token dies with a member restart), it
 * re-authenticates once and repeats the call. The password is read from its file for each
 * authentication (its char[] cleared after; the request's JSON string is left to the garbage
 * collector, as the JDK's client takes strings); it is never logged or kept in a field.
 *
 * <p>Thread-safe; a call blocks the calling thread (never an engine thread: see {@link EtcdHostStore}).
 */
public final class EtcdClient {
  /** A key and value as etcd returns it (value empty for a deletion event). */
  public record RawKv(String key, byte[] value, long modRevision, long lease, boolean deleted) {}

  /** A range read and the store's revision at the time. */
  public record Listing(List<RawKv> kvs, long revision) {}

  /** A compare-and-swap: succeeded at {@code revision}, or failed with the key as it is ({@code current} null: absent). */
  public record TxnResult(boolean succeeded, long revision, RawKv current) {}

  /** An answer from etcd that is an error other than unavailability (code: gRPC status code). */
  public static final class EtcdException extends IOException {
    final int code;

    EtcdException(int code, String message) {
      super(message);
      this.code = code;
    }

    public boolean leaseNotFound() {
      return getMessage() != null && getMessage().contains("lease not found");
    }
  }

  private final List<URI> endpoints;
  private final Duration timeout;
  private final HttpClient http;
  private final EtcdSecurity security;
  private volatile int current;
  private final java.util.concurrent.atomic.AtomicLong failovers = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong authentications = new java.util.concurrent.atomic.AtomicLong();
  /** The etcd auth token; null before the first authentication. Never logged. */
  private volatile String token;

  /** A client for plain etcd (no TLS files, no user). */
  public EtcdClient(List<URI> endpoints, Duration timeout) {
    this(endpoints, timeout, EtcdSecurity.NONE, null); // https endpoints: the JDK's trust store
  }

  /**
   * A client for {@code endpoints} (all http or all https) with {@code security}.
   *
   * @throws IOException when the TLS files cannot be used (the message names the file)
   * @throws IllegalArgumentException when the endpoints mix http and https, or TLS files come with http
   */
  public EtcdClient(List<URI> endpoints, Duration timeout, EtcdSecurity security) throws IOException {
    this(endpoints, timeout, security, security.hasTlsFiles() && tls(endpoints) ? security.sslContext() : null);
  }

  private EtcdClient(List<URI> endpoints, Duration timeout, EtcdSecurity security, SSLContext ssl) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("no etcd endpoints");
    }
    this.endpoints = List.copyOf(endpoints);
    this.timeout = timeout;
    this.security = java.util.Objects.requireNonNull(security, "security");
    boolean tls = tls(this.endpoints);
    if (!tls && security.hasTlsFiles()) {
      throw new IllegalArgumentException("etcd TLS files are set but the endpoints are http://; use https://");
    }
    HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout);
    if (ssl != null) {
      b.sslContext(ssl);
    }
    this.http = b.build();
  }

  /**
   * Whether the endpoints are https (true) or http (false).
   *
   * @throws IllegalArgumentException when they mix both, or one is neither
   */
  public static boolean tls(List<URI> endpoints) {
    boolean https = false;
    boolean plain = false;
    for (URI u : endpoints) {
      if ("https".equals(u.getScheme())) {
        https = true;
      } else if ("http".equals(u.getScheme())) {
        plain = true;
      } else {
        throw new IllegalArgumentException("etcd endpoint " + u + " is neither http:// nor https://");
      }
    }
    if (https && plain) {
      throw new IllegalArgumentException("etcd endpoints mix http:// and https://; use one for all");
    }
    return https;
  }

  /** How many times this client took a token from etcd (0 without a user). */
  public long authentications() {
    return authentications.get();
  }

  /** Forgets the token, as if etcd had dropped it: the next call authenticates again (tests). */
  void forgetToken() {
    token = "invalidated-by-dctun-test";
  }

  public List<URI> endpoints() {
    return endpoints;
  }

  /**
   * How many times a call gave up on an endpoint and went on to the next: a watch on the endpoint
   * given up may be stuck without knowing it (a partitioned member keeps the stream open).
   */
  public long failovers() {
    return failovers.get();
  }

  /** The endpoint calls go to first. */
  public URI currentEndpoint() {
    return endpoints.get(current);
  }

  public long grantLease(long ttlSeconds) throws IOException {
    ObjectNode req = EtcdCodec.JSON.createObjectNode().put("TTL", ttlSeconds);
    JsonNode r = post("/v3/lease/grant", req);
    long id = r.path("ID").asLong();
    if (id == 0) {
      throw new EtcdException(0, "lease grant returned no id: " + r.path("error").asText(""));
    }
    return id;
  }

  /** Refreshes the lease; returns its TTL in seconds, 0 if it no longer exists. */
  public long keepAlive(long lease) throws IOException {
    JsonNode r = post("/v3/lease/keepalive", EtcdCodec.JSON.createObjectNode().put("ID", Long.toString(lease)));
    return r.path("result").path("TTL").asLong(0);
  }

  public void revoke(long lease) throws IOException {
    post("/v3/lease/revoke", EtcdCodec.JSON.createObjectNode().put("ID", Long.toString(lease)));
  }

  /** Every key under {@code prefix}. */
  public Listing range(String prefix) throws IOException {
    ObjectNode req = EtcdCodec.JSON.createObjectNode().put("key", EtcdCodec.b64(prefix)).put("range_end", EtcdCodec.rangeEnd(prefix));
    JsonNode r = post("/v3/kv/range", req);
    List<RawKv> kvs = new ArrayList<>();
    for (JsonNode kv : r.path("kvs")) {
      kvs.add(kv(kv, false));
    }
    return new Listing(kvs, r.path("header").path("revision").asLong());
  }

  /** Puts {@code value} under {@code lease} if the key's mod_revision is {@code expect} (0: absent). */
  public TxnResult putIf(String key, byte[] value, long lease, long expect) throws IOException {
    ObjectNode put = EtcdCodec.JSON.createObjectNode().put("key", EtcdCodec.b64(key)).put("value", EtcdCodec.b64(value))
        .put("lease", Long.toString(lease));
    return txn(key, expect, EtcdCodec.JSON.createObjectNode().set("request_put", put));
  }

  /** Deletes the key if its mod_revision is {@code expect}. */
  public TxnResult deleteIf(String key, long expect) throws IOException {
    ObjectNode del = EtcdCodec.JSON.createObjectNode().put("key", EtcdCodec.b64(key));
    return txn(key, expect, EtcdCodec.JSON.createObjectNode().set("request_delete_range", del));
  }

  private TxnResult txn(String key, long expect, ObjectNode onSuccess) throws IOException {
    ObjectNode req = EtcdCodec.JSON.createObjectNode();
    req.putArray("compare").addObject().put("key", EtcdCodec.b64(key)).put("target", "MOD").put("result", "EQUAL")
        .put("mod_revision", Long.toString(expect));
    ((ArrayNode) req.putArray("success")).add(onSuccess);
    req.putArray("failure").addObject().putObject("request_range").put("key", EtcdCodec.b64(key));
    JsonNode r = post("/v3/kv/txn", req);
    long revision = r.path("header").path("revision").asLong();
    if (r.path("succeeded").asBoolean(false)) {
      return new TxnResult(true, revision, null);
    }
    JsonNode kvs = r.path("responses").path(0).path("response_range").path("kvs");
    return new TxnResult(false, revision, kvs.isArray() && kvs.size() > 0 ? kv(kvs.get(0), false) : null);
  }

  /**
   * Opens a watch of every key under {@code prefix} from {@code fromRevision} on the current
   * endpoint (or the next ones, as any call). Read it with {@link Watch#next}.
   */
  public Watch watch(String prefix, long fromRevision) throws IOException {
    ObjectNode create = EtcdCodec.JSON.createObjectNode().put("key", EtcdCodec.b64(prefix))
        .put("range_end", EtcdCodec.rangeEnd(prefix)).put("start_revision", Long.toString(fromRevision));
    ObjectNode req = EtcdCodec.JSON.createObjectNode();
    req.set("create_request", create);
    ensureToken();
    try {
      return openWatch(req);
    } catch (AuthTokenRejected e) {
      authenticate(); // the token expired or the member restarted: once more with a fresh one
      try {
        return openWatch(req);
      } catch (AuthTokenRejected again) {
        throw new EtcdException(16, again.getMessage());
      }
    }
  }

  /** etcd refused the token of a watch (its first answer is a cancel for an invalid token). */
  private static final class AuthTokenRejected extends IOException {
    AuthTokenRejected(String message) {
      super(message);
    }
  }

  private Watch openWatch(ObjectNode req) throws IOException {
    IOException last = null;
    for (int i = 0; i < endpoints.size(); i++) {
      int e = (current + i) % endpoints.size();
      try {
        HttpResponse<InputStream> r = http.send(request(e, "/v3/watch", req), HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) {
          byte[] text = r.body().readNBytes(MAX_ERROR_BODY);
          r.body().close();
          last = new IOException("watch: HTTP " + r.statusCode() + " from " + endpoints.get(e) + ": "
              + errorText(r.statusCode(), text));
          continue;
        }
        Watch w = new Watch(r.body(), endpoints.get(e));
        if (security.hasUser()) {
          // etcd checks the token when the watch is created: a bad one comes back as a cancel
          // (created and canceled, "invalid auth token"); a watch once created outlives its token.
          Watch.Batch first;
          try {
            first = w.next();
          } catch (IOException ex) {
            w.close();
            throw ex;
          }
          if (first.canceled() && authTokenError(first.cancelReason())) {
            w.close();
            throw new AuthTokenRejected("watch at " + endpoints.get(e) + ": " + first.cancelReason());
          }
          w.pushBack(first);
        }
        return w;
      } catch (AuthTokenRejected ex) {
        throw ex;
      } catch (IOException ex) {
        last = describe("/v3/watch", e, ex);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", ex);
      }
    }
    throw last;
  }

  /** One watch stream: a sequence of responses, each a batch of events. */
  public static final class Watch implements AutoCloseable {
    /** A response: events in revision order (empty for the "created" answer), or the end of the watch. */
    public record Batch(List<RawKv> events, long revision, boolean created, boolean canceled, long compactRevision,
        String cancelReason) {}

    private final InputStream body;
    private final MappingIterator<JsonNode> it;
    private final URI endpoint;
    private Batch pushedBack;

    Watch(InputStream body, URI endpoint) throws IOException {
      this.body = body;
      this.endpoint = endpoint;
      this.it = EtcdCodec.JSON.readerFor(JsonNode.class).readValues(body);
    }

    public URI endpoint() {
      return endpoint;
    }

    void pushBack(Batch b) {
      pushedBack = b;
    }

    /** The next response; blocks. Throws at the end of the stream or on a broken one. */
    public Batch next() throws IOException {
      Batch b = pushedBack;
      if (b != null) {
        pushedBack = null;
        return b;
      }
      if (!it.hasNextValue()) {
        throw new IOException("watch stream from " + endpoint + " ended");
      }
      JsonNode m = it.nextValue();
      if (m.has("error")) {
        throw new IOException("watch failed at " + endpoint + ": " + m.path("error").path("message").asText(m.path("error").asText()));
      }
      JsonNode r = m.path("result");
      List<RawKv> events = new ArrayList<>();
      for (JsonNode ev : r.path("events")) {
        events.add(kv(ev.path("kv"), "DELETE".equals(ev.path("type").asText())));
      }
      return new Batch(events, r.path("header").path("revision").asLong(), r.path("created").asBoolean(false),
          r.path("canceled").asBoolean(false), r.path("compact_revision").asLong(0), r.path("cancel_reason").asText(""));
    }

    /** Ends the watch; a thread blocked in {@link #next} gets an exception. */
    @Override
    public void close() {
      try {
        body.close();
      } catch (IOException e) {
        // closing is best effort
      }
    }
  }

  /** Whether an answer looks like JSON (its first non-blank byte opens an object). */
  private static boolean json(byte[] body) {
    for (byte c : body) {
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return c == '{' || c == '[';
      }
    }
    return true;
  }

  private static RawKv kv(JsonNode kv, boolean deleted) {
    String key = new String(Base64.getDecoder().decode(kv.path("key").asText("")), StandardCharsets.UTF_8);
    byte[] value = Base64.getDecoder().decode(kv.path("value").asText(""));
    return new RawKv(key, value, kv.path("mod_revision").asLong(), kv.path("lease").asLong(0), deleted);
  }

  private HttpRequest request(int endpoint, String path, JsonNode body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(endpoints.get(endpoint).resolve(path)).timeout(timeout)
        .header("Content-Type", "application/json");
    String t = token;
    if (t != null && !path.equals(AUTHENTICATE)) {
      b.header("Authorization", t);
    }
    return b.POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
  }

  private static final String AUTHENTICATE = "/v3/auth/authenticate";
  /** How much of an answer that is not JSON is read for an error message. */
  private static final int MAX_ERROR_BODY = 512;

  /** Whether etcd's message says the token is no good any more (and a new one would be). */
  static boolean authTokenError(String message) {
    return message != null && (message.contains("invalid auth token") || message.contains("auth token is expired")
        || message.contains("revision of auth store is old"));
  }

  private void ensureToken() throws IOException {
    if (security.hasUser() && token == null) {
      authenticate();
    }
  }

  /** Takes a new token from etcd with the user and the password file's password. */
  private synchronized void authenticate() throws IOException {
    char[] pw = security.password();
    ObjectNode req = EtcdCodec.JSON.createObjectNode().put("name", security.user());
    try {
      req.put("password", new String(pw));
    } finally {
      java.util.Arrays.fill(pw, '\0');
    }
    JsonNode r;
    try {
      r = postOnce(AUTHENTICATE, req);
    } catch (EtcdException e) {
      throw new EtcdException(e.code, "etcd authentication as user '" + security.user() + "' failed: " + e.getMessage());
    } finally {
      req.remove("password");
    }
    String t = r.path("token").asText("");
    if (t.isEmpty()) {
      throw new EtcdException(0, "etcd authentication as user '" + security.user()
          + "' returned no token (is authentication enabled on etcd? etcdctl auth enable)");
    }
    token = t;
    authentications.incrementAndGet();
  }

  /**
   * POSTs with the token (taken first if there is none yet); when etcd says the token is invalid
   * or expired, authenticates once more and repeats the call.
   */
  private JsonNode post(String path, JsonNode body) throws IOException {
    ensureToken();
    try {
      return postOnce(path, body);
    } catch (EtcdException e) {
      if (!security.hasUser() || !authTokenError(e.getMessage())) {
        throw e;
      }
      authenticate();
      return postOnce(path, body);
    }
  }

  /** An answer that is not etcd's JSON, for a message: printable ASCII only, bounded, with the fix when known. */
  private static String errorText(int status, byte[] body) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < body.length && b.length() < 200; i++) {
      char c = (char) (body[i] & 0xff);
      b.append(c >= 0x20 && c < 0x7f ? c : ' ');
    }
    String text = b.toString().strip();
    if (text.contains("CommonName")) {
      text += " (with authentication on, etcd's HTTP gateway refuses client certificates that have a CommonName:"
          + " issue dctun's certificate without CN, e.g. subject /O=dctun, and authenticate with etcd-user)";
    }
    return "HTTP " + status + (text.isEmpty() ? "" : ": " + text);
  }

  /** A network or TLS failure at endpoint {@code e}, said plainly. */
  private IOException describe(String path, int e, IOException ex) {
    URI u = endpoints.get(e);
    Throwable ssl = ex;
    while (ssl != null && !(ssl instanceof javax.net.ssl.SSLException)) {
      ssl = ssl.getCause();
    }
    String why = null;
    if (ssl != null) {
      why = ssl.getMessage();
    } else if ("https".equals(u.getScheme()) && (ex instanceof java.io.EOFException
        || String.valueOf(ex.getMessage()).contains("received no bytes")
        || String.valueOf(ex.getMessage()).contains("Connection reset"))) {
      // TLS 1.3: the client's side of the handshake is done before etcd checks the client's
      // certificate, so a refusal may arrive as a bare close instead of an alert
      why = "etcd closed the connection without an answer, as it does when it refuses the client certificate: "
          + ex.getMessage();
    }
    if (why != null) {
      return new IOException(path + " at " + u + ": TLS failed (" + why
          + "); check etcd-ca-file (trust for etcd's certificate, which must name this host or IP) and"
          + " etcd-cert-file/etcd-key-file (etcd with --client-cert-auth needs a client certificate its CA signed)", ex);
    }
    return new IOException(path + " at " + u + ": " + ex, ex);
  }

  /** POSTs to the current endpoint, then the others in turn while they are unavailable. */
  private JsonNode postOnce(String path, JsonNode body) throws IOException {
    IOException last = null;
    int start = current;
    for (int i = 0; i < endpoints.size(); i++) {
      int e = (start + i) % endpoints.size();
      if (i > 0) {
        failovers.incrementAndGet();
      }
      try {
        HttpResponse<byte[]> r = http.send(request(e, path, body), HttpResponse.BodyHandlers.ofByteArray());
        if (r.body().length > 0 && !json(r.body())) {
          if (r.statusCode() >= 500) {
            last = new EtcdException(-1, path + " at " + endpoints.get(e) + ": " + errorText(r.statusCode(), r.body()));
            continue;
          }
          throw new EtcdException(-1, path + " at " + endpoints.get(e) + ": " + errorText(r.statusCode(), r.body()));
        }
        JsonNode n = r.body().length == 0 ? EtcdCodec.JSON.createObjectNode() : EtcdCodec.JSON.readTree(r.body());
        if (r.statusCode() == 200 && !n.has("error")) {
          current = e;
          return n;
        }
        JsonNode err = n.has("error") && n.get("error").isObject() ? n.get("error") : n;
        int code = err.path("code").asInt(-1);
        String msg = err.path("message").asText(err.path("error").asText("HTTP " + r.statusCode()));
        EtcdException ex = new EtcdException(code, path + " at " + endpoints.get(e) + ": " + msg);
        if (code == 14 || code == 4 || code == 13 || msg.contains("no leader") || msg.contains("timed out")
            || r.statusCode() >= 500 && code == -1) {
          last = ex; // unavailable here: try the next member
          continue;
        }
        throw ex;
      } catch (EtcdException ex) {
        throw ex;
      } catch (IOException ex) {
        last = describe(path, e, ex);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", ex);
      }
    }
    current = (start + 1) % endpoints.size();
    throw last;
  }
}
