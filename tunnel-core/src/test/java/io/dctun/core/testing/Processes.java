package io.dctun.core.testing;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Killing processes (and their descendants), gracefully first, with bounded waits. */
final class Processes {
    private Processes() {
    }

    /**
     * Sends SIGTERM to {@code p} and its descendants, waits up to {@code grace}, then SIGKILLs whatever is left
     * and waits up to 5 s more. Returns true if everything is gone.
     */
    static boolean kill(ProcessHandle p, Duration grace) {
        List<ProcessHandle> all = new java.util.ArrayList<>();
        p.descendants().forEach(all::add);
        all.add(p);
        if (!grace.isZero()) {
            all.forEach(ProcessHandle::destroy);
            if (awaitExit(all, grace)) {
                return true;
            }
        }
        all.forEach(ProcessHandle::destroyForcibly);
        return awaitExit(all, Duration.ofSeconds(5));
    }

    private static boolean awaitExit(List<ProcessHandle> handles, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (ProcessHandle h : handles) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return handles.stream().noneMatch(ProcessHandle::isAlive);
            }
            CompletableFuture<ProcessHandle> f = h.onExit();
            try {
                f.get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (ExecutionException e) {
                // treat as gone
            }
        }
        return true;
    }
}
