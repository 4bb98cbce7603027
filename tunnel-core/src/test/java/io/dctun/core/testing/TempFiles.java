package io.dctun.core.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Temporary files readable only by their owner (0600), for keys and other secrets. */
public final class TempFiles {
    private TempFiles() {
    }

    /** Creates a 0600 temp file holding {@code content}; the caller deletes it. */
    public static Path createPrivate(String prefix, String suffix, byte[] content) throws IOException {
        Path p = Files.createTempFile(prefix, suffix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.write(p, content);
            return p;
        } catch (IOException | RuntimeException e) {
            deleteQuietly(p);
            throw e;
        }
    }

    public static void deleteQuietly(Path p) {
        if (p == null) {
            return;
        }
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
