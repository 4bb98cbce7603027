package io.dctun.ha;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * One box of a gateway pair as a process, for the namespace tests: a sync group of a "public"
 * (VRID 51) and a "private" (VRID 52) IPv4 instance on two interfaces. Prints {@code INSTANCE
 * NAME STATE} per state change (each change to MASTER is one gratuitous ARP burst) and the
 * counters at exit (SIGTERM: priority-0 adverts).
 *
 * <pre>VrrpPairMain PRIORITY INTERVAL_CS PUBLIC_IF PUBLIC_VIP/PREFIX PRIVATE_IF PRIVATE_VIP/PREFIX</pre>
 */
public final class VrrpPairMain {
  private VrrpPairMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: VrrpPairMain PRIORITY INTERVAL_CS PUBLIC_IF PUBLIC_VIP PRIVATE_IF PRIVATE_VIP");
      System.exit(2);
    }
    int prio = Integer.parseInt(args[0]);
    int interval = Integer.parseInt(args[1]);
    List<VrrpConfig> group = List.of(
        VrrpConfig.builder("public").interfaceName(args[2]).vrid(51).priority(prio)
            .advertIntervalCentis(interval).vip(args[3]).build(),
        VrrpConfig.builder("private").interfaceName(args[4]).vrid(52).priority(prio)
            .advertIntervalCentis(interval).vip(args[5]).build());
    VrrpListener l = new VrrpListener() {
      @Override
      public void stateChanged(String instance, VrrpState from, VrrpState to, String why) {
        System.out.println("INSTANCE " + instance + " " + to + " (" + why + ")");
        System.out.flush();
      }
    };
    VrrpInstance v = VrrpInstance.start(group, l);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      v.close();
      System.out.println("STATS public " + v.counters("public"));
      System.out.println("STATS private " + v.counters("private"));
      System.out.flush();
      done.countDown();
    }));
    for (int i = 0; i < 300 && v.failure() == null; i++) { // bounded: 5 minutes
      Thread.sleep(1000);
    }
    if (v.failure() != null) {
      v.failure().printStackTrace();
    }
    System.exit(v.failure() == null ? 0 : 1);
  }
}
