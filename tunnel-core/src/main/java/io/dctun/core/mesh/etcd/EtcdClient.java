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
  private volatile int current;
  private final java.util.concurrent.atomic.AtomicLong failovers = new java.util.concurrent.atomic.AtomicLong();

  public EtcdClient(List<URI> endpoints, Duration timeout) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("no etcd endpoints");
    }
    this.endpoints = List.copyOf(endpoints);
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
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
    IOException last = null;
    for (int i = 0; i < endpoints.size(); i++) {
      int e = (current + i) % endpoints.size();
      try {
        HttpResponse<InputStream> r = http.send(request(e, "/v3/watch", req), HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) {
          r.body().close();
          last = new IOException("watch: HTTP " + r.statusCode() + " from " + endpoints.get(e));
          continue;
        }
        return new Watch(r.body(), endpoints.get(e));
      } catch (IOException ex) {
        last = ex;
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
    public record Batch(List<RawKv> events, long revision, boolean created, boolean canceled, long compactRevision) {}

    private final InputStream body;
    private final MappingIterator<JsonNode> it;
    private final URI endpoint;

    Watch(InputStream body, URI endpoint) throws IOException {
      this.body = body;
      this.endpoint = endpoint;
      this.it = EtcdCodec.JSON.readerFor(JsonNode.class).readValues(body);
    }

    public URI endpoint() {
      return endpoint;
    }

    /** The next response; blocks. Throws at the end of the stream or on a broken one. */
    public Batch next() throws IOException {
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
          r.path("canceled").asBoolean(false), r.path("compact_revision").asLong(0));
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

  private static RawKv kv(JsonNode kv, boolean deleted) {
    String key = new String(Base64.getDecoder().decode(kv.path("key").asText("")), StandardCharsets.UTF_8);
    byte[] value = Base64.getDecoder().decode(kv.path("value").asText(""));
    return new RawKv(key, value, kv.path("mod_revision").asLong(), kv.path("lease").asLong(0), deleted);
  }

  private HttpRequest request(int endpoint, String path, JsonNode body) {
    return HttpRequest.newBuilder(endpoints.get(endpoint).resolve(path)).timeout(timeout)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
  }

  /** POSTs to the current endpoint, then the others in turn while they are unavailable. */
  private JsonNode post(String path, JsonNode body) throws IOException {
    IOException last = null;
    int start = current;
    for (int i = 0; i < endpoints.size(); i++) {
      int e = (start + i) % endpoints.size();
      if (i > 0) {
        failovers.incrementAndGet();
      }
      try {
        HttpResponse<byte[]> r = http.send(request(e, path, body), HttpResponse.BodyHandlers.ofByteArray());
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
        last = new IOException(path + " at " + endpoints.get(e) + ": " + ex, ex);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", ex);
      }
    }
    current = (start + 1) % endpoints.size();
    throw last;
  }
}
