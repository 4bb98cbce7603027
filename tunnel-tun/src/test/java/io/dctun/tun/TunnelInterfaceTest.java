package io.dctun.tun;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The interface setup the appliance used to do by hand, now one library call; in a fresh namespace. */
class TunnelInterfaceTest {

  @BeforeEach
  void needsTun() {
    NetnsRunner.assumeTunAvailable();
  }

  @Test
  void setsUpAddressesAndRoutesAndRemovesEverythingOnClose() throws Exception {
    NetnsRunner.run(30, ns -> {
      String name = NetnsRunner.uniqueName();
      List<TunnelInterface.Address> addrs = List.of(new TunnelInterface.Address(InetAddress.getByName("198.18.90.1"), 24));
      List<Prefix> routes = List.of(Prefix.parse("198.18.90.0/24"), Prefix.parse("198.18.91.0/24"),
          Prefix.parse("198.18.92.0/24"), Prefix.parse("198.18.92.0/24"), Prefix.parse("0.0.0.0/0"));
      TunnelInterface t = TunnelInterface.create(name, 1400, addrs, routes);
      try {
        assertThat(ns.ip("-d", "link", "show", "dev", name)).contains("mtu 1400").contains(",UP");
        assertThat(ns.ip("addr", "show", "dev", name)).contains("inet 198.18.90.1/24").doesNotContain("fe80");
        String r = ns.ip("route", "show", "dev", name);
        assertThat(r).contains("198.18.91.0/24").contains("198.18.92.0/24").doesNotContain("default");
        t.addRoute(Prefix.parse("198.18.93.7/32"));
        t.addRoute(Prefix.parse("198.18.93.7/32")); // already there: fine
        assertThat(ns.ip("route", "show", "dev", name)).contains("198.18.93.7");
        t.removeRoute(Prefix.parse("198.18.93.7/32"));
        t.removeRoute(Prefix.parse("198.18.93.7/32")); // already gone: fine
        assertThat(ns.ip("route", "show", "dev", name)).doesNotContain("198.18.93.7");
      } finally {
        t.close();
      }
      assertThat(ns.ipResult("link", "show", "dev", name).exitCode()).isNotZero();
      assertThat(ns.ip("route", "show")).doesNotContain("198.18.91.0");
    });
  }
}
