package io.dctun.ha;

import java.util.concurrent.CountDownLatch;

/**
 * A dctun VRRP router as a process, for the namespace tests (spawned inside a namespace with
 * {@code ip netns exec}). Prints one line per state change and a counters line every second
 * and at exit, and shuts down cleanly (priority-0 advert) on SIGTERM.
 *
 * <pre>VrrpMain IFNAME VRID PRIORITY INTERVAL_CS VIP/PREFIX preempt|nopreempt</pre>
 */
public final class VrrpMain {
  private VrrpMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: VrrpMain IFNAME VRID PRIORITY INTERVAL_CS VIP/PREFIX preempt|nopreempt");
      System.exit(2);
    }
    VrrpConfig c = VrrpConfig.builder("dctun").interfaceName(args[0])
        .vrid(Integer.parseInt(args[1])).priority(Integer.parseInt(args[2]))
        .advertIntervalCentis(Integer.parseInt(args[3])).vip(args[4])
        .preempt(args[5].equals("preempt")).build();
    VrrpListener l = new VrrpListener() {
      @Override
      public void stateChanged(String instance, VrrpState from, VrrpState to, String why) {
        System.out.println("STATE " + to + " " + System.nanoTime() + " " + why);
      }
    };
    VrrpInstance v = VrrpInstance.start(c, l);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      v.close();
      System.out.println("STATS " + v.counters());
      System.out.flush();
      done.countDown();
    }));
    for (int i = 0; i < 600 && v.failure() == null; i++) { // bounded: 10 minutes
      Thread.sleep(1000);
      System.out.println("STATS " + v.counters());
    }
    if (v.failure() != null) {
      v.failure().printStackTrace();
      System.exit(1);
    }
  }
}
