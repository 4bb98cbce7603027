package io.dctun.tun;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dctun.tun.internal.LibC;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs a test body on a fresh thread moved into a new network namespace ({@code
 * unshare(CLONE_NEWNET)} is per thread), so whatever the test creates disappears with the
 * thread even if it fails. If unsharing is refused, the body runs in the current namespace and
 * touches only the TUN it creates.
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
    String ip(String... args) throws IOException, InterruptedException {
      Result r = ipResult(args);
      if (r.exit != 0) {
        throw new AssertionError("ip " + String.join(" ", args) + " exited " + r.exit + ": " + r.err);
      }
      return r.out;
    }

    Result ipResult(String... args) throws IOException, InterruptedException {
      List<String> cmd = new ArrayList<>();
      if (netnsPath != null) {
        cmd.add("nsenter");
        cmd.add("--net=" + netnsPath);
      }
      cmd.add("ip");
      cmd.addAll(List.of(args));
      Process p = new ProcessBuilder(cmd).start();
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out: " + cmd);
      }
      return new Result(p.exitValue(), out.join(), err.join());
    }
  }

  static final class Result {
    final int exit;
    final String out;
    final String err;

    Result(int exit, String out, String err) {
      this.exit = exit;
      this.out = out;
      this.err = err;
    }
  }

  private static String drain(InputStream in) {
    try (in) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      in.transferTo(b);
      return b.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Skips the calling test unless it can create TUN devices. */
  static void assumeTunAvailable() {
    assumeTrue(Files.exists(Path.of(LinuxTun.TUN_PATH)),
        "skipped: no TUN device " + LinuxTun.TUN_PATH);
    assumeTrue(hasNetAdmin(), "skipped: not root and no CAP_NET_ADMIN (needed to create a TUN)");
  }

  private static boolean hasNetAdmin() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("CapEff:")) {
          long caps = Long.parseUnsignedLong(line.substring(7).trim(), 16);
          return (caps & (1L << 12)) != 0; // CAP_NET_ADMIN
        }
      }
    } catch (IOException | NumberFormatException e) {
      return false;
    }
    return false;
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
