package io.dctun.core.status;

/** Something that reports its state and counters; see {@link StatusSink}. */
@FunctionalInterface
public interface StatusSource {
  /** Writes a consistent-enough snapshot (each value read once; no locks held across the sink). */
  void report(StatusSink sink);
}
