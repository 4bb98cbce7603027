package io.dctun.core.testing;

import java.util.List;

/**
 * Outcome of one finished (or timed-out) command.
 *
 * @param command  the full argument vector that was executed
 * @param exitCode the exit code, or -1 if the command timed out and was killed
 * @param stdout   everything the command wrote to standard output
 * @param stderr   everything the command wrote to standard error
 * @param timedOut true if the command did not finish in time and was killed
 */
public record ExecResult(List<String> command, int exitCode, String stdout, String stderr, boolean timedOut) {

    public ExecResult {
        command = List.copyOf(command);
    }

    /** True if the command finished in time with exit code 0. */
    public boolean ok() {
        return !timedOut && exitCode == 0;
    }

    /** A multi-line description with the command, the exit status and the full output. */
    public String describe() {
        return "command: " + String.join(" ", command) + "\n"
                + (timedOut ? "status: TIMED OUT (killed)\n" : "exit code: " + exitCode + "\n")
                + "--- stdout ---\n" + stdout + (stdout.endsWith("\n") || stdout.isEmpty() ? "" : "\n")
                + "--- stderr ---\n" + stderr + (stderr.endsWith("\n") || stderr.isEmpty() ? "" : "\n");
    }
}
