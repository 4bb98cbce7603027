package io.dctun.tun;

import io.dctun.core.route.Prefix;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tunnel's network interface, set up as WireGuard's own interfaces are: a TUN device with the
 * MTU, the interface addresses, no IPv6 link-local address, up, and a kernel route for every
 * peer prefix the addresses do not already cover. Closing it deletes the interface, and with it
 * every address and route it was given: nothing is left behind.
 *
 * <pre>
 *   try (TunnelInterface t = TunnelInterface.create("dctun0", 1420, addresses, allowedIps)) {
 *     ... new Engine(device, t.queues(), ...) ...
 *   }
 * </pre>
 */
public final class TunnelInterface implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(TunnelInterface.class);
  private static final int EEXIST = 17;
  private static final int ESRCH = 3;

  /** An address of the interface and the length of the network it is on ({@code 198.18.1.1/24}). */
  public record Address(InetAddress address, int prefixLength) {
    public Prefix network() {
      return Prefix.of(address.getAddress(), prefixLength);
    }
  }

  private final LinuxTun tun;

  private TunnelInterface(LinuxTun tun) {
    this.tun = tun;
  }

  /**
   * Creates and configures the interface; on any failure what was created is removed again.
   *
   * @param routes prefixes to route into the tunnel (the peers' allowed IPs); a /0 is refused
   *     with a warning rather than replace the host's default route
   */
  public static TunnelInterface create(String name, int mtu, List<Address> addresses, Collection<Prefix> routes)
      throws IOException {
    LinuxTun tun = LinuxTun.open(name);
    TunnelInterface t = new TunnelInterface(tun);
    try (LinkConfig link = LinkConfig.open()) {
      link.setMtu(tun.name(), mtu);
      for (Address a : addresses) {
        link.addAddress(tun.name(), a.address(), a.prefixLength());
      }
      noIpv6LinkLocal(tun.name());
      link.setUp(tun.name(), true);
      Set<Prefix> onLink = new HashSet<>();
      for (Address a : addresses) {
        onLink.add(a.network());
      }
      for (Prefix p : routes) {
        if (onLink.contains(p)) {
          continue; // the address already gave the kernel this route
        }
        t.addRoute(link, p);
      }
      return t;
    } catch (IOException | RuntimeException e) {
      tun.close();
      throw e;
    }
  }

  private void addRoute(LinkConfig link, Prefix p) throws IOException {
    if (p.length() == 0) {
      LOG.warn("{}: allowed IP {} would replace the default route; not adding a route for it", tun.name(), p);
      return;
    }
    try {
      link.addRoute(tun.name(), InetAddress.getByAddress(p.address()), p.length());
    } catch (NativeIoException e) {
      if (e.errno() != EEXIST) { // another peer or an address covers it already
        throw e;
      }
    }
  }

  /** Routes {@code p} into the tunnel (a route learned at run time); already routed is fine. */
  public void addRoute(Prefix p) throws IOException {
    try (LinkConfig link = LinkConfig.open()) {
      addRoute(link, p);
    }
  }

  /** Removes the kernel route for {@code p}; one that is not there is fine. */
  public void removeRoute(Prefix p) throws IOException {
    try (LinkConfig link = LinkConfig.open()) {
      link.removeRoute(tun.name(), InetAddress.getByAddress(p.address()), p.length());
    } catch (NativeIoException e) {
      if (e.errno() != ESRCH) {
        throw e;
      }
    }
  }

  public LinuxTun tun() {
    return tun;
  }

  public String name() {
    return tun.name();
  }

  /**
   * A TUN interface gets an IPv6 link-local address and then sends router solicitations and MLD
   * reports into the tunnel, which no peer routes: noise in the NO_ROUTE counter every few
   * seconds. The kernel's own WireGuard interface generates no link-local address; do the same
   * (addr_gen_mode 1 = none, before the link goes up). Configured IPv6 addresses still work.
   */
  private static void noIpv6LinkLocal(String ifname) {
    Path p = Path.of("/proc/sys/net/ipv6/conf", ifname, "addr_gen_mode");
    if (!Files.exists(p)) {
      return; // IPv6 disabled on this host
    }
    try {
      Files.writeString(p, "1");
    } catch (IOException e) {
      LOG.warn("{}: cannot turn off IPv6 link-local address generation ({}): expect NO_ROUTE drops of "
          + "router solicitations", ifname, e.getMessage());
    }
  }

  /** Deletes the interface (the kernel removes its addresses and routes with it). */
  @Override
  public void close() {
    tun.close();
  }
}
