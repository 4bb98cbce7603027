package io.dctun.tun;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.Requirements;
import io.dctun.core.testing.Shell;
import io.dctun.tun.LibC;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs a test body on a fresh thread moved into a new network namespace ({@code
 * unshare(CLONE_NEWNET)} is per thread), so whatever the test creates disappears with the
 * thread even if it fails. If unsharing is refused, the body runs in the current namespace and
 * touches only the TUN it creates.
 *
 * <p>It stays here, not in core's {@code io.dctun.core.testing} with {@code NetNs}, because the
 * per-thread {@code unshare} needs tunnel-tun's native binding; commands and skips go through
 * core's {@code Shell} and {@code Requirements}.
 */
final class NetnsRunner {

  interface Body {
    void run(Ns ns) throws Exception;
  }

  /** Where the body runs, and how to run {@code ip} there. */
  static final class Ns {
    final boolean fresh;
    final String netnsPath; // /proc/<pid>/task/<tid>/ns/net, or null for the current one

    Ns(boolean fresh, String netnsPath) {
      this.fresh = fresh;
      this.netnsPath = netnsPath;
    }

    /** Runs {@code ip args...} in the namespace; fails the test, with stderr, on non-zero exit. */
    String ip(String... args) {
      ExecResult r = ipResult(args);
      if (!r.ok()) {
        throw new AssertionError("ip " + String.join(" ", args) + " exited " + r.exitCode() + ": " + r.stderr());
      }
      return r.stdout();
    }

    ExecResult ipResult(String... args) {
      List<String> cmd = new ArrayList<>();
      if (netnsPath != null) {
        cmd.add("nsenter");
        cmd.add("--net=" + netnsPath);
      }
      cmd.add("ip");
      cmd.addAll(List.of(args));
      ExecResult r = Shell.exec(Duration.ofSeconds(10), Map.of(), null, cmd);
      if (r.timedOut()) {
        throw new AssertionError("timed out: " + cmd);
      }
      return r;
    }
  }

  /** Skips the calling test unless it can create TUN devices. */
  static void assumeTunAvailable() {
    assumeTrue(Files.exists(Path.of(LinuxTun.TUN_PATH)),
        "skipped: no TUN device " + LinuxTun.TUN_PATH);
    Requirements.assumeNetAdmin();
  }

  /** Runs {@code body} in a new network namespace (if allowed), bounded by {@code seconds}. */
  static void run(int seconds, Body body) throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        boolean fresh = LibC.get().unshare(LibC.CLONE_NEWNET) == 0;
        String path = null;
        if (fresh) {
          path = "/proc/" + Files.readSymbolicLink(Path.of("/proc/thread-self")) + "/ns/net";
        } else {
          System.err.println("unshare(CLONE_NEWNET) refused (errno " + LibC.errno()
              + "); running in the current namespace, on the test's own TUN only");
        }
        body.run(new Ns(fresh, path));
        done.complete(null);
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "netns-test");
    t.setDaemon(true);
    t.start();
    try {
      done.get(seconds, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof Exception) {
        throw (Exception) c;
      }
      throw (Error) c;
    }
  }

  static String uniqueName() {
    return String.format("dt%08x", java.util.concurrent.ThreadLocalRandom.current().nextInt());
  }

  private NetnsRunner() {}
}
