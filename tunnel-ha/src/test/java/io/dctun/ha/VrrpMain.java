package io.dctun.ha;

import java.util.concurrent.CountDownLatch;

/**
 * A dctun VRRP router as a process, for the namespace tests (spawned inside a namespace with
 * {@code ip netns exec}). Prints one line per state change and a counters line every second
 * and at exit, and shuts down cleanly (priority-0 advert) on SIGTERM.
 *
 * <pre>VrrpMain IFNAME VRID PRIORITY INTERVAL_CS VIP/PREFIX[,VIP/PREFIX...] preempt|nopreempt [PEER[,PEER...]]</pre>
 *
 * With PEERs (unicast mode), adverts go to those addresses only and only theirs are accepted;
 * TTL 255 is required of IPv4 adverts, not of IPv6 ones (keepalived sends those at hop limit 64).
 *
 * VIPs of both families make a sync group of two instances, "dctun" (IPv4) and "dctun-v6"; each
 * state change of any instance is also printed as {@code INSTANCE NAME STATE}.
 */
public final class VrrpMain {
  private VrrpMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6 && args.length != 7) {
      System.err.println("usage: VrrpMain IFNAME VRID PRIORITY INTERVAL_CS VIP/PREFIX preempt|nopreempt");
      System.exit(2);
    }
    java.util.List<VrrpConfig> group = new java.util.ArrayList<>();
    for (int family : new int[] {4, 6}) {
      VrrpConfig.Builder b = VrrpConfig.builder(family == 4 ? "dctun" : "dctun-v6").interfaceName(args[0])
          .vrid(Integer.parseInt(args[1])).priority(Integer.parseInt(args[2]))
          .advertIntervalCentis(Integer.parseInt(args[3])).preempt(args[5].equals("preempt"));
      if (args.length == 7) {
        for (String peer : args[6].split(",")) {
          if (VrrpConfig.literal(peer).getAddress().length == (family == 4 ? 4 : 16)) {
            b.unicastPeer(peer);
          }
        }
        // keepalived 2.2.7 sends unicast IPv6 adverts at the kernel's default hop limit (64);
        // its IPv4 unicast adverts keep TTL 255, so the check stays on there
        b.unicastTtlCheck(family == 4);
      }
      boolean any = false;
      for (String vip : args[4].split(",")) {
        VrrpConfig.Vip v = VrrpConfig.Vip.parse(vip);
        if (v.family() == family) {
          b.vip(v);
          any = true;
        }
      }
      if (any) {
        group.add(b.build());
      }
    }
    String first = group.get(0).name();
    VrrpListener l = new VrrpListener() {
      @Override
      public void stateChanged(String instance, VrrpState from, VrrpState to, String why) {
        if (instance.equals(first)) {
          System.out.println("STATE " + to + " " + System.nanoTime() + " " + why);
        }
        System.out.println("INSTANCE " + instance + " " + to);
      }
    };
    VrrpInstance v = VrrpInstance.start(group, l);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      v.close();
      System.out.println("STATS " + v.counters());
      if (group.size() > 1) {
        System.out.println("STATSV6 " + v.counters("dctun-v6"));
      }
      System.out.flush();
      done.countDown();
    }));
    for (int i = 0; i < 600 && v.failure() == null; i++) { // bounded: 10 minutes
      Thread.sleep(1000);
      System.out.println("STATS " + v.counters());
      if (group.size() > 1) {
        System.out.println("STATSV6 " + v.counters("dctun-v6"));
      }
    }
    if (v.failure() != null) {
      v.failure().printStackTrace();
      System.exit(1);
    }
  }
}
