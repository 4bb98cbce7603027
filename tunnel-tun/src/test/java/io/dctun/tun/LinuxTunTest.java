package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dctun.core.device.PacketDevice;
import io.dctun.core.testing.ExecResult;
import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Creates real TUN interfaces, each test in its own network namespace when allowed, using only
 * 198.18.0.0/15 addresses and sending traffic only into its own TUN. Skipped, saying why,
 * without root or /dev/net/tun.
 */
@Timeout(60)
class LinuxTunTest {

  private static final byte[] LOCAL = {(byte) 198, 18, 77, 1};
  private static final byte[] REMOTE = {(byte) 198, 18, 77, 2};

  @BeforeEach
  void needsTun() {
    NetnsRunner.assumeTunAvailable();
  }

  @Test
  void configuresLinkAndKernelAnswersPing() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      try (LinuxTun tun = LinuxTun.open(name);
          LinkConfig link = LinkConfig.open()) {
        assertThat(tun.name()).isEqualTo(name);
        link.setMtu(name, 1420);
        link.addAddress(name, InetAddress.getByAddress(LOCAL), 24);
        link.setUp(name, true); // the kernel refuses routes through a down link (ENETDOWN)
        link.addRoute(name, InetAddress.getByName("198.18.78.0"), 24);

        String details = ns.ip("-d", "link", "show", "dev", name);
        assertThat(details).contains("mtu 1420").contains(",UP").contains("tun type tun");
        assertThat(ns.ip("addr", "show", "dev", name)).contains("inet 198.18.77.1/24");
        assertThat(ns.ip("route", "show", "dev", name)).contains("198.18.78.0/24");
        assertThat(tun.mtu()).isEqualTo(1420);
        assertThat(tun.index()).isPositive();

        byte[] req = Icmp.echoRequest(REMOTE, LOCAL, 0x4242, 7, "dctun-ping".getBytes());
        tun.write(req, 0, req.length);
        assertThat(awaitEchoReply(tun, 0x4242, 7)).isTrue();
        assertThat(tun.writeErrors()).isZero();
      }
    });
  }

  @Test
  void closeRemovesInterfaceWithItsAddressesAndRoutes() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      LinuxTun tun = LinuxTun.open(name);
      try (LinkConfig link = LinkConfig.open()) {
        link.addAddress(name, InetAddress.getByAddress(LOCAL), 24);
        link.setUp(name, true);
        link.addRoute(name, InetAddress.getByName("198.18.79.0"), 24);
        assertThat(ns.ip("route", "show")).contains("198.18.79.0/24");
      } finally {
        tun.close();
      }
      tun.close(); // idempotent
      ExecResult r = ns.ipResult("link", "show", "dev", name);
      assertThat(r.exitCode()).as("ip link show after close: %s", r.stdout()).isNotZero();
      assertThat(r.stderr()).contains("does not exist");
      assertThat(ns.ip("addr", "show")).doesNotContain("198.18.77.1").doesNotContain(name);
      assertThat(ns.ip("route", "show")).doesNotContain("198.18.79.0").doesNotContain(name);
      assertThatThrownBy(() -> tun.write(new byte[20], 0, 20)).isInstanceOf(IOException.class);
      assertThat(tun.read(new byte[100], 0, 100)).isEqualTo(-1);
    });
  }

  @Test
  void blockedReaderReturnsMinusOnePromptlyOnClose() throws Exception {
    NetnsRunner.run(30, ns -> {
      LinuxTun tun = LinuxTun.open(NetnsRunner.uniqueName());
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        CompletableFuture<Integer> r = CompletableFuture.supplyAsync(() -> {
          try {
            return tun.read(new byte[2048], 16, 2000);
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        }, pool);
        Thread.sleep(100);
        assertThat(r).isNotDone();
        long t0 = System.nanoTime();
        tun.close();
        assertThat(r.get(2, TimeUnit.SECONDS)).isEqualTo(-1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(1000);
      } finally {
        tun.close();
        pool.shutdownNow();
      }
    });
  }

  @Test
  void secondOpenOfSingleQueueNameSaysNameInUse() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      try (LinuxTun tun = LinuxTun.open(name)) {
        assertThatThrownBy(() -> LinuxTun.open(name))
            .isInstanceOf(NativeIoException.class)
            .hasMessageContaining("TUNSETIFF \"" + name + "\"")
            .hasMessageContaining("interface name in use")
            .hasMessageContaining("EBUSY")
            .satisfies(e -> assertThat(((NativeIoException) e).errno()).isEqualTo(16));
        assertThat(tun.isClosed()).isFalse();
      }
    });
  }

  @Test
  void multiQueueOpensTwoQueuesAndAnswersOnEither() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      LinuxTun tun = LinuxTun.open(name, 2);
      try (LinkConfig link = LinkConfig.open()) {
        assertThat(tun.queueCount()).isEqualTo(2);
        link.addAddress(name, InetAddress.getByAddress(LOCAL), 24);
        link.setUp(name, true);
        assertThat(ns.ip("-d", "link", "show", "dev", name)).contains("multi_queue");

        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
          CompletableFuture<Boolean> q0 = CompletableFuture.supplyAsync(
              () -> awaitEchoReplyUnchecked(tun.queue(0), 0x77, 1), pool);
          CompletableFuture<Boolean> q1 = CompletableFuture.supplyAsync(
              () -> awaitEchoReplyUnchecked(tun.queue(1), 0x77, 1), pool);
          byte[] req = Icmp.echoRequest(REMOTE, LOCAL, 0x77, 1, new byte[32]);
          tun.queue(1).write(req, 0, req.length);
          CompletableFuture.anyOf(q0, q1).get(5, TimeUnit.SECONDS);
          assertThat(q0.getNow(false) || q1.getNow(false)).isTrue();
        } finally {
          pool.shutdownNow();
        }
      } finally {
        tun.close(); // also wakes whichever reader still waits
      }
    });
  }

  @Test
  void singleQueueNameCannotBeReopenedAsMultiQueue() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      try (LinuxTun tun = LinuxTun.open(name)) {
        assertThat(tun.queueCount()).isEqualTo(1);
        assertThatThrownBy(() -> LinuxTun.open(name, 2))
            .isInstanceOf(NativeIoException.class)
            .hasMessageContaining("interface name in use")
            .hasMessageContaining("EINVAL");
      }
    });
  }

  @Test
  void netlinkErrorsNameTheRequestAndErrno() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      try (LinuxTun tun = LinuxTun.open(name);
          LinkConfig link = LinkConfig.open()) {
        InetAddress a = InetAddress.getByAddress(LOCAL);
        link.addAddress(tun.name(), a, 24);
        assertThatThrownBy(() -> link.addAddress(name, a, 24))
            .isInstanceOf(NativeIoException.class)
            .hasMessageContaining("add address 198.18.77.1/24 on " + name)
            .hasMessageContaining("EEXIST");
        link.removeAddress(name, a, 24);
        assertThat(ns.ip("addr", "show", "dev", name)).doesNotContain("198.18.77.1");
        assertThatThrownBy(() -> link.setMtu("nx" + name.substring(2), 1420))
            .isInstanceOf(NativeIoException.class)
            .hasMessageContaining("no such interface");
      }
    });
  }

  private static boolean awaitEchoReplyUnchecked(PacketDevice dev, int id, int seq) {
    try {
      return awaitEchoReply(dev, id, seq);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  /** Reads until the matching echo reply, the device closes, or 5 s pass (then closes it). */
  private static boolean awaitEchoReply(PacketDevice dev, int id, int seq) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    Thread reader = Thread.currentThread();
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(5000);
        dev.close(); // unblocks the read past the deadline
      } catch (InterruptedException | IOException e) {
        // reply arrived in time
      }
    }, "echo-watchdog-" + reader.getName());
    watchdog.setDaemon(true);
    watchdog.start();
    try {
      byte[] buf = new byte[16 + 2048];
      while (System.nanoTime() < deadline) {
        int n = dev.read(buf, 16, 2048);
        if (n < 0) {
          return false;
        }
        byte[] p = java.util.Arrays.copyOfRange(buf, 16, 16 + n);
        if (Icmp.isEchoReply(p, n, LOCAL, REMOTE, id, seq)) {
          return true;
        }
      }
      return false;
    } finally {
      watchdog.interrupt();
    }
  }
}
