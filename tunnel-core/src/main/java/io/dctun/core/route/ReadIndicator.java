package io.dctun.core.route;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The two reader counters of a left-right pair (one per version index), each striped over
 * cache-line-padded cells so that readers on different cores do not bounce one line between
 * them. A reader increments the cell of its thread in the current version and decrements the
 * same cell when done; the writer waits until every cell of a version reads zero.
 *
 * <p>Arrive and depart are one atomic add each: wait-free, allocation-free. Two threads may share
 * a cell (the stripe is the thread id modulo the cell count), which costs contention, never
 * correctness, because the writer only asks whether the sum is zero and every cell is the sum of
 * balanced arrivals and departures.
 */
final class ReadIndicator {
  private static final VarHandle CELLS = MethodHandles.arrayElementVarHandle(long[].class);
  /** Longs per cell: 128 bytes, two cache lines, against adjacent-line prefetch. */
  private static final int PAD = 16;
  /** Spins before a waiting writer starts yielding to a reader that may have been preempted. */
  private static final int SPINS = 1 << 10;

  private final long[] cells;
  private final int stripes;
  private final int mask;

  /** @param stripes cells per version, rounded up to a power of two */
  ReadIndicator(int stripes) {
    int n = Integer.highestOneBit(Math.max(1, stripes - 1)) << 1;
    this.stripes = n;
    this.mask = n - 1;
    // One pad in front so the first cell does not share a line with the array header.
    this.cells = new long[(2 * n + 1) * PAD];
  }

  /** Cells per version for this machine: twice the processors, so readers rarely share one. */
  static int defaultStripes() {
    return Math.min(256, 2 * Runtime.getRuntime().availableProcessors());
  }

  /**
   * Announces a reader of {@code version} (0 or 1).
   *
   * @return the cell to pass to {@link #depart}
   */
  int arrive(int version) {
    int cell = (1 + version * stripes + ((int) Thread.currentThread().getId() & mask)) * PAD;
    CELLS.getAndAdd(cells, cell, 1L);
    return cell;
  }

  /** Ends the read announced by {@link #arrive}, which returned {@code cell}. */
  void depart(int cell) {
    CELLS.getAndAdd(cells, cell, -1L);
  }

  /** Returns once no reader announced on {@code version} is left; spins, then yields. */
  void awaitEmpty(int version) {
    int base = 1 + version * stripes;
    for (int i = 0; i < stripes; i++) {
      int cell = (base + i) * PAD;
      int spins = 0;
      while ((long) CELLS.getVolatile(cells, cell) != 0L) {
        if (++spins < SPINS) {
          Thread.onSpinWait();
        } else {
          Thread.yield();
        }
      }
    }
  }

  /** Whether no reader is announced on {@code version}; for tests. */
  boolean isEmpty(int version) {
    int base = 1 + version * stripes;
    for (int i = 0; i < stripes; i++) {
      if ((long) CELLS.getVolatile(cells, (base + i) * PAD) != 0L) {
        return false;
      }
    }
    return true;
  }
}
