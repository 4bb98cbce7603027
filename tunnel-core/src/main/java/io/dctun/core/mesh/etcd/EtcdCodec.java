package io.dctun.core.mesh.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dctun.core.route.Prefix;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The key layout and the value encoding of host records.
 *
 * <pre>
 *   key:   /dctun/&lt;mesh&gt;/hosts/&lt;prefix&gt;          e.g. /dctun/prod/hosts/198.18.99.5/32
 *   value: {"gateway":"&lt;base64 public key&gt;","version":&lt;TAI64N nanos&gt;,"incarnation":&lt;n&gt;}
 * </pre>
 *
 * <p>Thread-safe (Jackson's ObjectMapper is, once configured).
 */
public final class EtcdCodec {
  static final ObjectMapper JSON = new ObjectMapper();

  private final String hostsPrefix;

  public EtcdCodec(String meshName) {
    if (!meshName.matches("[A-Za-z0-9_.-]{1,64}")) {
      throw new IllegalArgumentException("mesh name must be 1-64 of [A-Za-z0-9_.-], got '" + meshName + "'");
    }
    this.hostsPrefix = "/dctun/" + meshName + "/hosts/";
  }

  /** The key prefix every host record of this mesh lives under. */
  public String hostsPrefix() {
    return hostsPrefix;
  }

  public String key(Prefix host) {
    return hostsPrefix + host;
  }

  /** The host a key names, or null if it is not a host key of this mesh. */
  public Prefix host(String key) {
    if (!key.startsWith(hostsPrefix)) {
      return null;
    }
    try {
      return Prefix.parse(key.substring(hostsPrefix.length()));
    } catch (RuntimeException e) {
      return null;
    }
  }

  public static byte[] encode(HostRecord r) {
    ObjectNode n = JSON.createObjectNode();
    n.put("gateway", r.gateway());
    n.put("version", r.version());
    n.put("incarnation", r.incarnation());
    return n.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Decodes a value; throws {@link MalformedRecordException} (no value text in it) if it is not one. */
  public static HostRecord decode(byte[] value) throws MalformedRecordException {
    JsonNode n;
    try {
      n = JSON.readTree(value);
    } catch (java.io.IOException e) {
      throw new MalformedRecordException("not JSON");
    }
    if (n == null || !n.isObject() || !n.path("gateway").isTextual() || !n.path("version").canConvertToLong()
        || !n.path("incarnation").canConvertToLong() || !n.path("version").isIntegralNumber()
        || !n.path("incarnation").isIntegralNumber()) {
      throw new MalformedRecordException("missing or mistyped gateway/version/incarnation");
    }
    return new HostRecord(n.get("gateway").asText(), n.get("version").asLong(), n.get("incarnation").asLong());
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static String b64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  /** The end of the range that holds every key starting with {@code prefix} (the last byte plus one). */
  static String rangeEnd(String prefix) {
    byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
    b[b.length - 1]++;
    return b64(b);
  }

  /** A value that is not a host record. */
  public static final class MalformedRecordException extends Exception {
    public MalformedRecordException(String why) {
      super(why, null, false, false);
    }
  }
}
