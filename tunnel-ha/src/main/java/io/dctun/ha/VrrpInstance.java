package io.dctun.ha;

import io.dctun.ha.internal.Announcer;
import io.dctun.ha.internal.GratuitousArp;
import io.dctun.ha.internal.NetIf;
import io.dctun.ha.internal.RawVrrpSocket;
import io.dctun.ha.internal.UnsolicitedNa;
import io.dctun.ha.internal.VipManager;
import io.dctun.tun.LibC;
import io.dctun.tun.LinkConfig;
import io.dctun.tun.NativeIoException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs VRRP for real: one {@link VrrpSyncGroup} (a single instance is a group of one) on one
 * thread, with a raw protocol-112 socket per instance, VIPs through rtnetlink, and gratuitous
 * ARP (IPv4) or unsolicited neighbour advertisements (IPv6) through AF_PACKET. An instance is
 * IPv4 or IPv6 by its VIPs; a sync group may mix the two (one instance per family, as RFC 5798
 * has it). Over IPv6 the advert source is the interface's link-local address; the instance waits
 * up to 3 s at start for one that has passed duplicate address detection.
 *
 * <pre>
 *  I/O thread "vrrp-NAME", one loop:
 *    commands (conditions, stop)  -> group
 *    link state (every 100 ms)    -> group.setCondition("link:IF")
 *    timers due                   -> group.poll(now)            -> actions
 *    poll(sockets + wake pipe, until the next deadline, at most 100 ms)
 *    each readable socket         -> group.onPacket(now, ...)   -> actions
 *  actions, in order: AddVips / RemoveVips (netlink), SendAdvert (raw socket),
 *    GratuitousArp (AF_PACKET, 5 per VIP as keepalived), StateChange (log, listener)
 * </pre>
 *
 * Each instance implicitly tracks its interface: link down or no carrier is a FAULT condition
 * named {@code link:IFNAME}. Sockets and netlink belong to the network namespace of the thread
 * that calls {@link #start}.
 *
 * <p>Thread-safety: {@link #setCondition}, the getters and {@link #close} may be called from any
 * thread; the state machine itself only ever runs on the I/O thread.
 */
public final class VrrpInstance implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VrrpInstance.class);
  private static final long LINK_CHECK_NANOS = 100_000_000L;
  private static final int MAX_POLL_MILLIS = 100;
  private static final int GARP_REPEAT = 5;
  private static final long LINK_LOCAL_WAIT_NANOS = 3_000_000_000L;

  private final VrrpSyncGroup group;
  private final List<Member> members;
  private final VrrpListener listener;
  private final LinkConfig link;
  private final int[] wakePipe;
  /** What other threads asked for and the I/O thread has not applied yet (bounded, see there). */
  private final CommandInbox commands = new CommandInbox();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Thread thread;
  private final byte[] rxBuf = new byte[VrrpCodec.IPV6_HEADER + 4096];
  private final byte[] txBuf = new byte[VrrpCodec.ipv6Length(VrrpAdvert.MAX_ADDRESSES)];
  private volatile boolean running = true;
  private volatile Throwable failure;
  private int ipId;

  private static final class Member {
    final VrrpRouter router;
    final RawVrrpSocket socket;
    final Announcer announcer;
    final VipManager vips;
    final String linkCondition;
    /** Unicast peers' addresses, 4 or 16 bytes each; none: multicast. */
    final List<byte[]> peers;

    volatile VrrpState state = VrrpState.INITIALIZE;
    long linkCheckedAt;

    Member(VrrpRouter router, RawVrrpSocket socket, Announcer announcer, VipManager vips,
        String linkCondition, List<byte[]> peers) {
      this.router = router;
      this.socket = socket;
      this.announcer = announcer;
      this.vips = vips;
      this.linkCondition = linkCondition;
      this.peers = peers;
    }

    /** One announcement (gratuitous ARP or unsolicited NA) for every VIP. */
    void announce() throws IOException {
      byte[] v = router.vipBytes();
      int alen = router.family() == 6 ? 16 : 4;
      for (int off = 0; off < v.length; off += alen) {
        announcer.announce(v, off);
      }
    }
  }

  private VrrpInstance(String name, List<Member> members, VrrpListener listener, LinkConfig link,
      int[] wakePipe) {
    this.members = members;
    this.listener = listener;
    this.link = link;
    this.wakePipe = wakePipe;
    List<VrrpRouter> routers = new ArrayList<>();
    for (Member m : members) {
      routers.add(m.router);
    }
    this.group = new VrrpSyncGroup(routers);
    this.thread = new Thread(this::run, "vrrp-" + name);
    this.thread.setDaemon(true);
  }

  /** Starts one instance. */
  public static VrrpInstance start(VrrpConfig config, VrrpListener listener) throws IOException {
    return start(List.of(config), listener);
  }

  /**
   * Starts a sync group of instances (each on its own interface or VRID), opening every socket
   * in the caller's network namespace; throws with the reason if any cannot be opened.
   */
  public static VrrpInstance start(List<VrrpConfig> syncGroup, VrrpListener listener)
      throws IOException {
    Objects.requireNonNull(listener, "listener");
    List<Member> members = new ArrayList<>();
    LinkConfig link = null;
    int[] pipe = new int[2];
    boolean ok = false;
    try {
      link = LinkConfig.open();
      for (VrrpConfig c : syncGroup) {
        String cond = "link:" + c.interfaceName();
        List<VrrpConfig.Track> tracks = new ArrayList<>(c.tracks());
        if (tracks.stream().noneMatch(t -> t.name().equals(cond))) {
          tracks.add(VrrpConfig.Track.fault(cond));
        }
        VrrpConfig full = new VrrpConfig(c.name(), c.interfaceName(), c.vrid(), c.priority(),
            c.advertIntervalCentis(), c.vips(), c.preempt(), c.preemptDelay(), c.acceptMode(),
            c.primaryAddress(), c.unicastPeers(), tracks, c.unicastTtlCheck());
        List<byte[]> peers = new ArrayList<>();
        for (InetAddress p : c.unicastPeers()) {
          peers.add(p.getAddress());
        }
        RawVrrpSocket s;
        Announcer announcer;
        VrrpRouter router;
        if (c.family() == 4) {
          int primary = c.primaryAddress() != null
              ? VrrpAdvert.ipv4(c.primaryAddress()) : NetIf.ipv4(c.interfaceName());
          router = new VrrpRouter(full, primary);
          s = RawVrrpSocket.open(c.interfaceName(), peers.isEmpty());
        } else {
          byte[] primary = c.primaryAddress() != null
              ? c.primaryAddress().getAddress() : linkLocal(c);
          router = new VrrpRouter(full, VrrpAdvert.inet(primary));
          s = RawVrrpSocket.open6(c.interfaceName(), peers.isEmpty(), primary);
        }
        try {
          announcer = c.family() == 4
              ? GratuitousArp.open(c.interfaceName()) : UnsolicitedNa.open(c.interfaceName());
        } catch (IOException e) {
          s.close();
          throw e;
        }
        members.add(new Member(router, s, announcer,
            new VipManager(link, c.interfaceName(), c.vips()), cond, List.copyOf(peers)));
      }
      if (LibC.get().pipe2(pipe, LibC.O_NONBLOCK | LibC.O_CLOEXEC) < 0) {
        throw new NativeIoException("pipe2 for the VRRP wake-up", LibC.errno(), null);
      }
      String name = syncGroup.get(0).name();
      VrrpInstance v = new VrrpInstance(name, members, listener, link, pipe);
      v.thread.start();
      ok = true;
      return v;
    } finally {
      if (!ok) {
        for (Member m : members) {
          m.socket.close();
          m.announcer.close();
        }
        if (link != null) {
          link.close();
        }
      }
    }
  }

  /** The interface's usable link-local address, waiting out duplicate address detection. */
  private static byte[] linkLocal(VrrpConfig c) throws IOException {
    List<byte[]> vips = new ArrayList<>();
    for (VrrpConfig.Vip v : c.vips()) {
      vips.add(v.address().getAddress());
    }
    long deadline = System.nanoTime() + LINK_LOCAL_WAIT_NANOS;
    for (int i = 0; i < 100; i++) { // bounded: 3 s at 30 ms
      byte[] a = NetIf.ipv6LinkLocal(c.interfaceName(), vips);
      if (a != null) {
        return a;
      }
      if (System.nanoTime() - deadline > 0) {
        break;
      }
      try {
        Thread.sleep(30);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    throw new IOException(c.name() + ": interface " + c.interfaceName() + " has no usable IPv6 "
        + "link-local address (is IPv6 enabled and the link up? one still in duplicate address "
        + "detection after 3 s does not count); set the instance's primary address to choose one");
  }

  /** The current state of one member (any thread; updated after its actions are carried out). */
  public VrrpState state(String instance) {
    return member(instance).state;
  }

  /** The first member's state. */
  public VrrpState state() {
    return members.get(0).state;
  }

  public VrrpCounters counters(String instance) {
    return member(instance).router.counters();
  }

  public VrrpCounters counters() {
    return members.get(0).router.counters();
  }

  /** Why the I/O thread died, if it did (null while healthy). */
  public Throwable failure() {
    return failure;
  }

  /** Reports a tracked condition (e.g. "tunnel peer handshake within N s"); applied on the I/O thread. */
  public void setCondition(String condition, boolean healthy) {
    commands.condition(condition, healthy); // the latest report of a level wins
    wake();
  }

  /**
   * Sends another burst of gratuitous ARP (or unsolicited NA) for the VIPs of every member that is MASTER now
   * (keepalived's delayed repeat, {@code garp_master_delay}): a neighbour that refreshed its
   * entry from the old master less than {@code locktime} (1 s) before the takeover burst ignored
   * that burst. Applied on the I/O thread; a no-op for members that are not MASTER.
   */
  public void announce() {
    commands.announce();
    wake();
  }

  /** Applies what other threads asked for: on the I/O thread only. */
  private void runCommands() {
    commands.drain((c, healthy) -> act(group.setCondition(System.nanoTime(), c, healthy)), () -> {
      for (Member m : members) {
        if (m.state == VrrpState.MASTER) {
          for (int k = 0; k < GARP_REPEAT; k++) {
            try {
              m.announce();
            } catch (IOException e) {
              LOG.warn("VRRP {}: announcing the VIPs failed: {}", m.router.name(), e.getMessage());
            }
          }
        }
      }
    });
  }

  /**
   * Stops: a master sends a priority-0 advert (its backup takes over after Skew_Time) and
   * removes its VIPs; then sockets close. Waits up to 5 s for the I/O thread.
   */
  @Override
  public void close() {
    if (!running) {
      return;
    }
    running = false;
    wake();
    try {
      if (!stopped.await(5, TimeUnit.SECONDS)) {
        LOG.warn("VRRP I/O thread {} did not stop within 5 s", thread.getName());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Member member(String instance) {
    for (Member m : members) {
      if (m.router.name().equals(instance)) {
        return m;
      }
    }
    throw new IllegalArgumentException("no VRRP instance named " + instance);
  }

  private void wake() {
    LibC.get().write(wakePipe[1], new byte[] {1}, 1);
  }

  private void run() {
    LibC libc = LibC.get();
    int n = members.size();
    byte[] pollfds = new byte[8 * (n + 1)];
    ByteBuffer pb = ByteBuffer.wrap(pollfds).order(ByteOrder.nativeOrder());
    byte[] drain = new byte[64];
    try {
      long now = System.nanoTime();
      for (Member m : members) {
        checkLink(m, now, true);
      }
      act(group.start(now));
      while (running) {
        runCommands();
        now = System.nanoTime();
        for (Member m : members) {
          checkLink(m, now, false);
        }
        act(group.poll(now));
        long deadline = group.nextDeadline();
        now = System.nanoTime();
        int timeout = MAX_POLL_MILLIS;
        if (deadline != VrrpRouter.NEVER) {
          long left = deadline - now;
          timeout = left <= 0 ? 0 : (int) Math.min(MAX_POLL_MILLIS, (left + 999_999) / 1_000_000);
        }
        for (int i = 0; i < n; i++) {
          pb.putInt(8 * i, members.get(i).socket.fd()).putShort(8 * i + 4, LibC.POLLIN)
              .putShort(8 * i + 6, (short) 0);
        }
        pb.putInt(8 * n, wakePipe[0]).putShort(8 * n + 4, LibC.POLLIN).putShort(8 * n + 6, (short) 0);
        int r = libc.poll(pollfds, n + 1, timeout);
        if (r < 0) {
          int e = LibC.errno();
          if (e != LibC.EINTR) {
            throw new NativeIoException("poll VRRP sockets", e, null);
          }
          continue;
        }
        for (int i = 0; i < n; i++) {
          if (pb.getShort(8 * i + 6) != 0) {
            Member m = members.get(i);
            for (int k = 0; k < 64; k++) { // bounded: timers get their turn under a flood
              int len = m.socket.receive(rxBuf);
              if (len <= 0) {
                break;
              }
              act(group.onPacket(System.nanoTime(), m.router, rxBuf, 0, len));
            }
          }
        }
        if (pb.getShort(8 * n + 6) != 0) {
          while (libc.read(wakePipe[0], drain, drain.length) > 0) {
            // drained
          }
        }
      }
      runCommands();
      act(group.shutdown(System.nanoTime()));
    } catch (Throwable t) {
      failure = t;
      LOG.error("VRRP I/O thread failed; instances stop taking part", t);
      try {
        act(group.shutdown(System.nanoTime()));
      } catch (Throwable t2) {
        t.addSuppressed(t2);
      }
    } finally {
      for (Member m : members) {
        m.socket.close();
        m.announcer.close();
      }
      link.close();
      libc.close(wakePipe[0]);
      libc.close(wakePipe[1]);
      running = false;
      stopped.countDown();
    }
  }

  private void checkLink(Member m, long now, boolean force) {
    if (!force && now - m.linkCheckedAt < LINK_CHECK_NANOS) {
      return;
    }
    m.linkCheckedAt = now;
    boolean up;
    try {
      up = NetIf.isRunning(m.socket.interfaceName());
    } catch (NativeIoException e) {
      up = false; // the interface is gone
    }
    if (m.router.isUnhealthy(m.linkCondition) == up || force) {
      act(group.setCondition(now, m.linkCondition, up));
    }
  }

  private void act(List<VrrpAction> actions) {
    // The listener hears of state changes only after every action of the batch is carried out:
    // a new master's hook (the tunnel's handshakes) must follow the gratuitous ARP of all the
    // group's VIPs, or the first reply goes to the old master's MAC and is lost.
    List<VrrpAction.StateChange> changes = new ArrayList<>(2);
    for (VrrpAction a : actions) {
      Member m = member(a.instance());
      try {
        if (a instanceof VrrpAction.SendAdvert s) {
          sendAdvert(m, s.priority());
        } else if (a instanceof VrrpAction.AddVips) {
          m.vips.addAll();
        } else if (a instanceof VrrpAction.RemoveVips) {
          m.vips.removeAll();
        } else if (a instanceof VrrpAction.GratuitousArp) {
          for (int k = 0; k < GARP_REPEAT; k++) {
            m.announce();
          }
        } else if (a instanceof VrrpAction.StateChange s) {
          m.state = s.to();
          LOG.info("VRRP {} (vrid {}): {} -> {}: {}", s.instance(), m.router.config().vrid(),
              s.from(), s.to(), s.why());
          changes.add(s);
        }
      } catch (IOException e) {
        // a down link refuses sends; the link check turns that into FAULT within 100 ms
        LOG.warn("VRRP {}: {} failed: {}", a.instance(), a, e.getMessage());
      }
    }
    for (VrrpAction.StateChange s : changes) {
      notifyListener(s);
    }
  }

  private void sendAdvert(Member m, int priority) throws IOException {
    VrrpRouter r = m.router;
    VrrpConfig c = r.config();
    if (r.family() == 6) {
      byte[] vips = r.vipBytes();
      for (byte[] to : m.peers.isEmpty() ? List.of(VrrpCodec.VRRP_MULTICAST6) : m.peers) {
        int len = VrrpCodec.encodeIpv6(txBuf, 0, r.primaryBytes(), to, c.vrid(), priority,
            c.advertIntervalCentis(), vips, vips.length / 16);
        m.socket.send6(txBuf, len, to);
      }
      return;
    }
    int[] vips = r.vipsRaw();
    if (m.peers.isEmpty()) {
      int len = VrrpCodec.encodeIpv4(txBuf, 0, ++ipId & 0xffff, r.primaryAddress(),
          VrrpCodec.VRRP_MULTICAST, c.vrid(), priority, c.advertIntervalCentis(), vips, vips.length);
      m.socket.send(txBuf, len, VrrpCodec.VRRP_MULTICAST);
    } else {
      for (byte[] p : m.peers) {
        int peer = VrrpCodec.i32(p, 0);
        int len = VrrpCodec.encodeIpv4(txBuf, 0, ++ipId & 0xffff, r.primaryAddress(), peer,
            c.vrid(), priority, c.advertIntervalCentis(), vips, vips.length);
        m.socket.send(txBuf, len, peer);
      }
    }
  }

  private void notifyListener(VrrpAction.StateChange s) {
    try {
      listener.stateChanged(s.instance(), s.from(), s.to(), s.why());
      switch (s.to()) {
        case MASTER -> listener.becameMaster(s.instance());
        case BACKUP -> listener.becameBackup(s.instance());
        case FAULT -> listener.becameFault(s.instance());
        default -> { }
      }
    } catch (RuntimeException e) {
      LOG.warn("VRRP listener failed on {}", s, e);
    }
  }
}
