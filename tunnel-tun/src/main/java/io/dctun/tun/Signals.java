package io.dctun.tun;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signal dispositions a daemon needs to own. A process started under {@code nohup} (or by a
 * supervisor that ignores SIGHUP) inherits SIGHUP as ignored, and the JVM then silently refuses
 * to deliver it to a Java handler: "reload on SIGHUP" would do nothing. Restoring the default
 * disposition first lets the JVM install the handler.
 */
public final class Signals {
  private static final Logger LOG = LoggerFactory.getLogger(Signals.class);
  public static final int SIGHUP = 1;

  /** The one libc call needed; {@code handler} null is SIG_DFL. */
  public interface SignalLib {
    Pointer signal(int signum, Pointer handler);
  }

  private Signals() {}

  /** Restores the default disposition of {@code signum} (before a Java handler is installed). */
  public static boolean restoreDefault(int signum) {
    try {
      SignalLib c = LibraryLoader.create(SignalLib.class).load("c");
      c.signal(signum, null);
      return true;
    } catch (RuntimeException | LinkageError e) {
      LOG.warn("cannot reset the disposition of signal {}: {}", signum, e.toString());
      return false;
    }
  }
}
