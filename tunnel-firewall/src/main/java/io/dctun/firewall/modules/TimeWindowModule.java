package io.dctun.firewall.modules;

import io.dctun.firewall.spi.PacketMatcher;
import io.dctun.firewall.spi.RuleModule;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Set;

/**
 * Rule module {@code time-window}: matches between {@code from} and {@code to} (HH:MM, UTC; the
 * window may wrap past midnight), by the firewall clock's wall time. A rule uses it as
 * {@code match: {module: time-window, from: "22:00", to: "04:00"}}, e.g. to open bulk backup loads
 * at night only. Registered through {@code META-INF/services}; allocation-free per packet.
 */
public final class TimeWindowModule implements RuleModule {
  private static final long DAY = 86_400L * 1_000_000_000L;

  @Override
  public String name() {
    return "time-window";
  }

  @Override
  public PacketMatcher create(Map<String, String> params) {
    for (String k : params.keySet()) {
      if (!Set.of("from", "to").contains(k)) {
        throw new IllegalArgumentException("unknown parameter '" + k + "' (from, to)");
      }
    }
    long from = time(params, "from");
    long to = time(params, "to");
    return p -> {
      long t = Math.floorMod(p.wallClockNanos(), DAY);
      return from <= to ? t >= from && t < to : t >= from || t < to;
    };
  }

  private static long time(Map<String, String> params, String key) {
    String v = params.get(key);
    if (v == null) {
      throw new IllegalArgumentException("parameter '" + key + "' is required (HH:MM, UTC)");
    }
    try {
      return LocalTime.parse(v).toNanoOfDay();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("parameter '" + key + "': not a time HH:MM: '" + v + "'");
    }
  }
}
