package io.dctun.core.testing;

/** A command run through {@link Shell#run} or {@link NetNs#run} failed or timed out; the message has its full output. */
public final class CommandFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient ExecResult result;

    public CommandFailedException(ExecResult result) {
        super("command failed\n" + result.describe());
        this.result = result;
    }

    public ExecResult result() {
        return result;
    }
}
