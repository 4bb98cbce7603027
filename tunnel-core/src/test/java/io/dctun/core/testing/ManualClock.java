package io.dctun.core.testing;

import io.dctun.core.Clock;

/**
 * A {@link Clock} that moves only when the test moves it, for driving the sans-I/O state machines
 * (DESIGN.md, decision 2) through their timers deterministically.
 *
 * <p>Wall time is {@code wallBase + now}: both clocks advance together, and a test that cares about
 * the wall clock alone sets it with {@link #setWallClockNanos(long)} (which moves {@code wallBase}, not
 * {@code now}). Pick a wall base far from the real date when the point is to catch code that reads the
 * system clock instead of this one.
 *
 * <p>{@link #now} is a public field because tests read it as the "now" they pass to {@code tick} and
 * {@code inbound}; move it through the {@code advance} methods. Not thread-safe: one test thread.
 */
public class ManualClock implements Clock {
    /** Monotonic nanoseconds, what {@link #nanoTime()} returns. */
    public long now;
    /** Wall-clock nanoseconds since the epoch at {@code now == 0}. */
    public long wallBase;

    /** Starts at {@code nanoTime() == startNanos} and {@code wallClockNanos() == wallBase + startNanos}. */
    public ManualClock(long startNanos, long wallBase) {
        this.now = startNanos;
        this.wallBase = wallBase;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    @Override
    public long wallClockNanos() {
        return wallBase + now;
    }

    public void advanceNanos(long nanos) {
        now += nanos;
    }

    public void advanceMillis(long millis) {
        now += millis * 1_000_000L;
    }

    /** Advances by {@code seconds}, rounded toward zero to whole nanoseconds. */
    public void advanceSeconds(double seconds) {
        now += (long) (seconds * 1e9);
    }

    /** Sets the wall clock without moving the monotonic one. */
    public void setWallClockNanos(long epochNanos) {
        wallBase = epochNanos - now;
    }

    @Override
    public String toString() {
        return "ManualClock[now=" + now + ", wall=" + wallClockNanos() + "]";
    }
}
