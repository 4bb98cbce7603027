package io.dctun.core.uapi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One UAPI client connection as a sans-I/O state machine: bytes in ({@link #receive}, {@link
 * #endOfInput}), bytes out ({@link #takeOutput}), and whether to close ({@link #isClosing}). It
 * frames as wireguard-go's {@code IpcHandle} does: any number of operations one after another;
 * {@code get=1\n} must be followed by a blank line (else {@code errno=-22} and the next
 * operation); {@code set=1\n} takes lines up to a blank line (or the end of input, which
 * wireguard-go also accepts); every reply ends {@code errno=N\n\n}; anything else as an operation
 * closes the connection without a word.
 *
 * <pre>
 *   OP --"get=1\n"--> GET --"\n"--> reply, OP        GET --other byte--> errno=-22, OP
 *   OP --"set=1\n"--> SET --lines.."\n"--> reply, OP (refused: reply, then close)
 *   OP --anything else--> close
 * </pre>
 *
 * After a refused {@code set} the connection closes once the reply is out: wireguard-go stops
 * reading the request at the bad line and would then take its remaining lines as operations,
 * which closes the connection; closing at once is the same for every client and simpler.
 *
 * <p>Bounds: a line of {@code set} longer than 64 KiB (Go's {@code bufio.Scanner} limit) or a
 * request larger than {@code maxRequestBytes} is answered {@code errno=-5} (EIO, what wireguard-go
 * answers when the scanner fails) and the connection closes. Not thread-safe: one per connection.
 */
public final class UapiConnection {
  /** Go's {@code bufio.MaxScanTokenSize}: wireguard-go fails a {@code set} line longer than this. */
  public static final int MAX_LINE = 64 * 1024;
  private static final int MAX_OPERATION = 16;

  private enum State { OP, GET, SET, CLOSING }

  private final Uapi uapi;
  private final int maxRequestBytes;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final StringBuilder line = new StringBuilder();
  private final List<String> lines = new ArrayList<>();
  private State state = State.OP;
  private long requestBytes;
  private boolean sawInput;

  public UapiConnection(Uapi uapi, int maxRequestBytes) {
    if (maxRequestBytes < MAX_LINE) {
      throw new IllegalArgumentException("maxRequestBytes must be at least " + MAX_LINE + ", got " + maxRequestBytes);
    }
    this.uapi = uapi;
    this.maxRequestBytes = maxRequestBytes;
  }

  /** Reads {@code buf[off..off+len)}; what it answers waits in {@link #takeOutput}. */
  public void receive(byte[] buf, int off, int len) {
    if (len > 0) {
      sawInput = true;
    }
    for (int i = 0; i < len && state != State.CLOSING; i++) {
      step((char) (buf[off + i] & 0xFF)); // bytes as ISO-8859-1: one char each; valid input is ASCII
    }
  }

  /** The client shut its side: a {@code set} in progress is carried out (as wireguard-go), the rest dropped. */
  public void endOfInput() {
    if (state == State.SET) {
      if (line.length() > 0) {
        lines.add(line.toString());
      }
      finishSet();
    } else if (state == State.OP && line.length() > 0) {
      uapi.count("bad-operation", "uapi: connection ended in the middle of an operation line");
    }
    state = State.CLOSING;
  }

  /** Whether the connection is done: write out {@link #takeOutput} and close. */
  public boolean isClosing() {
    return state == State.CLOSING;
  }

  /** Whether any byte came in (wg probes a socket by connecting and closing at once: not an error). */
  public boolean sawInput() {
    return sawInput;
  }

  /** What to send now; empties the buffer. */
  public byte[] takeOutput() {
    byte[] b = out.toByteArray();
    out.reset();
    return b;
  }

  private void step(char c) {
    switch (state) {
      case OP:
        if (c != '\n') {
          line.append(c);
          if (line.length() > MAX_OPERATION) {
            badOperation();
          }
          return;
        }
        String op = line.toString();
        line.setLength(0);
        if (op.equals("get=1")) {
          state = State.GET;
        } else if (op.equals("set=1")) {
          state = State.SET;
          requestBytes = 0;
          lines.clear();
        } else {
          badOperation();
        }
        return;
      case GET:
        if (c == '\n') {
          reply(uapi.get(), UapiErrno.OK);
        } else {
          uapi.refused(UapiErrno.INVALID, "uapi: trailing character in get");
          reply("", UapiErrno.INVALID);
        }
        state = State.OP;
        return;
      case SET:
        if (++requestBytes > maxRequestBytes) {
          uapi.count("oversize", "uapi: set request over " + maxRequestBytes + " bytes refused");
          reply("", UapiErrno.IO);
          state = State.CLOSING;
          return;
        }
        if (c != '\n') {
          line.append(c);
          if (line.length() > MAX_LINE) {
            uapi.count("oversize", "uapi: set line over " + MAX_LINE + " bytes refused");
            reply("", UapiErrno.IO);
            state = State.CLOSING;
          }
          return;
        }
        if (line.length() == 0) {
          finishSet();
          return;
        }
        lines.add(line.toString());
        line.setLength(0);
        return;
      default:
        return;
    }
  }

  private void finishSet() {
    int errno = uapi.set(lines);
    lines.clear();
    reply("", errno);
    state = errno == UapiErrno.OK ? State.OP : State.CLOSING;
  }

  private void badOperation() {
    uapi.count("bad-operation", "uapi: invalid operation, connection closed");
    line.setLength(0);
    state = State.CLOSING;
  }

  private void reply(String body, int errno) {
    byte[] b = (body + "errno=" + errno + "\n\n").getBytes(StandardCharsets.US_ASCII);
    out.write(b, 0, b.length);
  }
}
