package io.dctun.firewall;

import io.dctun.firewall.spi.PacketMatcher;
import io.dctun.firewall.spi.RuleModule;
import java.util.Map;

/**
 * Example module "rate-limit": matches while the packet's source stays within {@code rate}
 * packets per second (burst {@code burst}); a rule "accept ... rate-limit" then lets a source
 * open that many new flows a second, and default deny drops the excess. Per-source token buckets
 * live in a fixed-size table indexed by a hash of the source (collisions share a bucket), so
 * memory is bounded and nothing allocates per packet.
 */
public final class RateLimitModule implements RuleModule {
  @Override
  public String name() {
    return "rate-limit";
  }

  @Override
  public PacketMatcher create(Map<String, String> params) {
    double rate = positive(params, "rate", null);
    double burst = positive(params, "burst", String.valueOf(rate));
    int slots = 4096;
    double[] tokens = new double[slots];
    long[] last = new long[slots];
    java.util.Arrays.fill(tokens, burst);
    java.util.Arrays.fill(last, Long.MIN_VALUE);
    return p -> {
      long h = (p.sourceHi() ^ p.sourceLo() * 31) * 0x9E3779B97F4A7C15L;
      int i = (int) (h >>> 52) & (slots - 1);
      synchronized (tokens) {
        long now = p.nanoTime();
        if (last[i] != Long.MIN_VALUE && now > last[i]) {
          tokens[i] = Math.min(burst, tokens[i] + (now - last[i]) * rate / 1e9);
        }
        last[i] = Math.max(last[i], now);
        if (tokens[i] >= 1) {
          tokens[i] -= 1;
          return true;
        }
        return false;
      }
    };
  }

  private static double positive(Map<String, String> params, String key, String dflt) {
    String v = params.getOrDefault(key, dflt);
    if (v == null) {
      throw new IllegalArgumentException("parameter '" + key + "' is required (per second)");
    }
    try {
      double d = Double.parseDouble(v);
      if (d > 0) {
        return d;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new IllegalArgumentException("parameter '" + key + "' must be a positive number, got '"
        + v + "'");
  }
}
