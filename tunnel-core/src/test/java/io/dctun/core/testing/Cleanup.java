package io.dctun.core.testing;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Last-resort cleanup: resources still open when the JVM shuts down (for example when surefire kills a
 * hung fork with SIGTERM) are closed by a shutdown hook, newest first.
 */
final class Cleanup {
    private static final Set<AutoCloseable> OPEN = new LinkedHashSet<>();
    private static boolean hookInstalled;

    private Cleanup() {
    }

    static synchronized void register(AutoCloseable c) {
        if (!hookInstalled) {
            Runtime.getRuntime().addShutdownHook(new Thread(Cleanup::closeAll, "dctun-test-cleanup"));
            hookInstalled = true;
        }
        OPEN.add(c);
    }

    static synchronized void unregister(AutoCloseable c) {
        OPEN.remove(c);
    }

    private static void closeAll() {
        List<AutoCloseable> left;
        synchronized (Cleanup.class) {
            left = new ArrayList<>(OPEN);
        }
        for (int i = left.size() - 1; i >= 0; i--) {
            try {
                left.get(i).close();
            } catch (Exception e) {
                System.err.println("dctun test cleanup: " + e);
            }
        }
    }
}
