package io.dctun.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A long-running process started by {@link NetNs#spawn}. Its standard output and error go, merged, to a log
 * file that {@link #output()} reads; {@link #close()} terminates it (SIGTERM, then SIGKILL) and deletes the log.
 */
public final class Spawned implements AutoCloseable {
    private final List<String> command;
    private final Process process;
    private final Path log;
    private volatile boolean closed;

    Spawned(List<String> command, Process process, Path log) {
        this.command = List.copyOf(command);
        this.process = process;
        this.log = log;
    }

    public List<String> command() {
        return command;
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Everything the process has written so far (stdout and stderr merged); empty after close. */
    public String output() {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A description with the command, its state and its output so far, for failure messages. */
    public String describe() {
        return "process: " + String.join(" ", command) + " (pid " + pid() + ", "
                + (isAlive() ? "running" : "exited " + process.exitValue()) + ")\n--- output ---\n" + output();
    }

    /** Terminates the process and its descendants: SIGTERM, up to {@code grace}, then SIGKILL. */
    public void stop(Duration grace) {
        if (!Processes.kill(process.toHandle(), grace)) {
            throw new IllegalStateException("process did not exit after SIGKILL: " + command + " pid " + pid());
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            stop(Duration.ofSeconds(3));
        } finally {
            TempFiles.deleteQuietly(log);
        }
    }
}
