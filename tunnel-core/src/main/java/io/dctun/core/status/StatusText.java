package io.dctun.core.status;

/**
 * Renders status as {@code key value} lines, one per fact, as the appliance's status file has
 * always been: scripts and tests read it with a split on the first space. Newlines in a value
 * are replaced by spaces so one fact stays one line.
 *
 * <pre>
 *   StatusText t = new StatusText();
 *   device.report(t);            // peer.siteB.rx-bytes 1234
 *   String s = t.toString();
 * </pre>
 */
public final class StatusText implements StatusSink {
  private final StringBuilder out;
  private final String prefix;

  public StatusText() {
    this(new StringBuilder(), "");
  }

  private StatusText(StringBuilder out, String prefix) {
    this.out = out;
    this.prefix = prefix;
  }

  /** Renders {@code source} alone. */
  public static String of(StatusSource source) {
    StatusText t = new StatusText();
    source.report(t);
    return t.toString();
  }

  private void line(String name, String value) {
    out.append(prefix).append(name).append(' ').append(value.replace('\n', ' ')).append('\n');
  }

  @Override
  public void text(String name, String value) {
    line(name, value == null ? "none" : value);
  }

  @Override
  public void counter(String name, long value) {
    line(name, Long.toString(value));
  }

  @Override
  public void gauge(String name, long value) {
    line(name, Long.toString(value));
  }

  @Override
  public StatusSink scope(String kind, String id) {
    return new StatusText(out, prefix + kind + "." + id + ".");
  }

  @Override
  public StatusSink section(String name) {
    return new StatusText(out, prefix + name + ".");
  }

  @Override
  public String toString() {
    return out.toString();
  }
}
