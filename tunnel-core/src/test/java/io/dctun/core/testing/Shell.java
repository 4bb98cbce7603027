package io.dctun.core.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands in the namespace of the JVM (the root network namespace, normally) with a bounded timeout.
 * Output is captured through temporary files, so a command that leaves a child behind holding its
 * standard output cannot hang the caller.
 */
public final class Shell {

    /** Timeout used by the overloads that take none. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private Shell() {
    }

    public static ExecResult exec(String... cmd) {
        return exec(DEFAULT_TIMEOUT, Map.of(), null, List.of(cmd));
    }

    public static ExecResult exec(Duration timeout, String... cmd) {
        return exec(timeout, Map.of(), null, List.of(cmd));
    }

    /** Like {@link #exec(String...)} but throws {@link CommandFailedException} unless the command exits 0 in time. */
    public static ExecResult run(String... cmd) {
        return check(exec(cmd));
    }

    public static ExecResult run(Duration timeout, String... cmd) {
        return check(exec(timeout, cmd));
    }

    static ExecResult check(ExecResult r) {
        if (!r.ok()) {
            throw new CommandFailedException(r);
        }
        return r;
    }

    /**
     * Runs {@code cmd} and waits at most {@code timeout}; on timeout the process and its descendants are killed
     * and a result with {@code timedOut == true} is returned.
     *
     * @param env   extra environment variables (added to the JVM's environment)
     * @param stdin bytes fed to standard input, or null for none (empty input)
     */
    public static ExecResult exec(Duration timeout, Map<String, String> env, byte[] stdin, List<String> cmd) {
        Path out = null;
        Path err = null;
        Path in = null;
        try {
            out = Files.createTempFile("dctun-exec", ".out");
            err = Files.createTempFile("dctun-exec", ".err");
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            pb.environment().putAll(env);
            if (stdin != null) {
                in = TempFiles.createPrivate("dctun-exec", ".in", stdin);
                pb.redirectInput(in.toFile());
            } else {
                pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            }
            Process p = pb.start();
            boolean finished;
            try {
                finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Processes.kill(p.toHandle(), Duration.ZERO);
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while running " + cmd, e);
            }
            if (!finished) {
                Processes.kill(p.toHandle(), Duration.ZERO);
            }
            return new ExecResult(cmd, finished ? p.exitValue() : -1,
                    Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8),
                    !finished);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + cmd + ": " + e.getMessage(), e);
        } finally {
            TempFiles.deleteQuietly(out);
            TempFiles.deleteQuietly(err);
            TempFiles.deleteQuietly(in);
        }
    }
}
