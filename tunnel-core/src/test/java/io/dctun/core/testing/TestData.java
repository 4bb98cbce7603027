package io.dctun.core.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the captures and keys that tests compare against live: {@code shared/testdata} beside the
 * repository (captures of wireguard-go and keepalived, made by tools no one here wrote).
 */
public final class TestData {
    private TestData() {
    }

    /**
     * The test data directory: the system property {@code dctun.testdata} if set, else the first
     * {@code shared/testdata} in the working directory (a module's, under Maven) or above it.
     *
     * @throws IllegalStateException if there is none, naming where it looked
     */
    public static Path dir() {
        String configured = System.getProperty("dctun.testdata");
        if (configured != null) {
            return Path.of(configured);
        }
        Path start = Path.of("").toAbsolutePath();
        for (Path p = start; p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("testdata");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no shared/testdata in " + start
                + " or above it; set -Ddctun.testdata=DIR");
    }

    /** A file under {@link #dir()}, e.g. {@code path("vrrp", "vrrp-v3.pcap")}. */
    public static Path path(String first, String... more) {
        return dir().resolve(Path.of(first, more));
    }
}
