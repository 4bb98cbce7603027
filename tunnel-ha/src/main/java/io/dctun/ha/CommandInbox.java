package io.dctun.ha;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * What other threads ask of a {@link VrrpInstance}'s I/O thread, held until it runs: bounded by
 * construction. Tracked conditions are levels, so a newer report of one replaces the older (one
 * entry per condition name the configuration has); requests to announce the VIPs coalesce into
 * one. A stuck I/O thread therefore holds a few entries, never one per tracker period. A
 * condition that flips and flips back before the I/O thread looks is seen at its latest level
 * only, as a sampled level would be.
 *
 * <p>Thread-safety: {@link #condition} and {@link #announce} from any thread; {@link #drain} from
 * the one consuming thread.
 */
final class CommandInbox {
  private final ConcurrentHashMap<String, Boolean> conditions = new ConcurrentHashMap<>();
  private final AtomicBoolean announce = new AtomicBoolean();

  /** Reports {@code name} healthy or not; replaces a report not yet drained. */
  void condition(String name, boolean healthy) {
    conditions.put(name, healthy);
  }

  /** Asks for one more announcement of the VIPs; several before a drain are one. */
  void announce() {
    announce.set(true);
  }

  /** Entries held now: at most the distinct condition names reported, plus one. */
  int size() {
    return conditions.size() + (announce.get() ? 1 : 0);
  }

  /** Hands each pending condition's latest level to {@code onCondition}, then the announcement if asked. */
  void drain(BiConsumer<String, Boolean> onCondition, Runnable onAnnounce) {
    for (String name : conditions.keySet()) {
      Boolean healthy = conditions.remove(name);
      if (healthy != null) {
        onCondition.accept(name, healthy);
      }
    }
    if (announce.getAndSet(false)) {
      onAnnounce.run();
    }
  }
}
