package io.dctun.appliance.e2e;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * A bad WAN link in user space, for kernels without {@code sch_netem} (this machine's has none):
 * a UDP relay that loses, delays with jitter, reorders and duplicates what it carries, both ways,
 * and carries nothing at all while a flag file exists (the link is down). Run inside a test
 * namespace as a spawned JVM:
 *
 * <pre>
 *   BadLinkRelay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT LOSS% DELAY_MS JITTER_MS REORDER% DUP% DOWN_FLAG MAX_SECONDS
 * </pre>
 *
 * The first sender to LISTEN is the client; its datagrams go to TARGET from the relay's own port,
 * and TARGET's answers go back to the client. Reordering is netem's: a reordered datagram is sent
 * at once, ahead of the delayed ones. At most {@link #MAX_IN_FLIGHT} datagrams wait; the relay
 * prints what it did once a second and exits after MAX_SECONDS.
 */
public final class BadLinkRelay {
  static final int MAX_IN_FLIGHT = 20_000;

  private record Pending(long due, long seq, boolean toTarget, byte[] data) {}

  private BadLinkRelay() {}

  public static void main(String[] a) throws Exception {
    if (a.length != 11) {
      System.err.println("usage: BadLinkRelay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT LOSS% DELAY_MS JITTER_MS"
          + " REORDER% DUP% DOWN_FLAG MAX_SECONDS");
      System.exit(2);
    }
    InetSocketAddress listen = new InetSocketAddress(a[0], Integer.parseInt(a[1]));
    InetSocketAddress target = new InetSocketAddress(a[2], Integer.parseInt(a[3]));
    double loss = Double.parseDouble(a[4]) / 100;
    long delayNanos = Long.parseLong(a[5]) * 1_000_000L;
    long jitterNanos = Long.parseLong(a[6]) * 1_000_000L;
    double reorder = Double.parseDouble(a[7]) / 100;
    double dup = Double.parseDouble(a[8]) / 100;
    Path downFlag = Path.of(a[9]);
    long end = System.nanoTime() + Long.parseLong(a[10]) * 1_000_000_000L;

    SplittableRandom rnd = new SplittableRandom(42);
    PriorityQueue<Pending> queue = new PriorityQueue<>((x, y) -> x.due != y.due ? Long.compare(x.due, y.due)
        : Long.compare(x.seq, y.seq));
    long seq = 0;
    long carried = 0;
    long lost = 0;
    long duplicated = 0;
    long reordered = 0;
    long whileDown = 0;
    long overflow = 0;
    boolean down = false;
    long nextFlagCheck = 0;
    SocketAddress client = null;
    ByteBuffer buf = ByteBuffer.allocate(65_536);
    try (Selector sel = Selector.open();
        DatagramChannel outer = DatagramChannel.open();
        DatagramChannel inner = DatagramChannel.open()) {
      outer.bind(listen).configureBlocking(false).register(sel, SelectionKey.OP_READ);
      inner.bind(new InetSocketAddress(listen.getAddress(), 0)).configureBlocking(false)
          .register(sel, SelectionKey.OP_READ);
      System.out.println("relaying " + listen + " -> " + target);
      System.out.flush();
      long nextReport = System.nanoTime() + 1_000_000_000L;
      while (System.nanoTime() < end) {
        long now = System.nanoTime();
        if (now >= nextReport) { // once a second, so the test can read what the link did
          System.out.println("carried " + carried + " lost " + lost + " duplicated " + duplicated + " reordered "
              + reordered + " down " + whileDown + " overflow " + overflow);
          System.out.flush();
          nextReport = now + 1_000_000_000L;
        }
        if (now >= nextFlagCheck) {
          down = Files.exists(downFlag);
          nextFlagCheck = now + 5_000_000L;
        }
        while (!queue.isEmpty() && queue.peek().due <= now) {
          Pending p = queue.poll();
          if (p.toTarget) {
            inner.send(ByteBuffer.wrap(p.data), target);
          } else if (client != null) {
            outer.send(ByteBuffer.wrap(p.data), client);
          }
        }
        long waitMs = queue.isEmpty() ? 5 : Math.max(1, Math.min(5, (queue.peek().due - now) / 1_000_000L));
        sel.select(waitMs);
        for (SelectionKey k : sel.selectedKeys()) {
          DatagramChannel ch = (DatagramChannel) k.channel();
          SocketAddress from;
          while ((from = ch.receive(buf.clear())) != null) {
            boolean toTarget = ch == outer;
            if (toTarget) {
              client = from;
            } else if (!from.equals(target)) {
              continue; // only the target answers through the relay
            }
            if (down) {
              whileDown++;
              continue;
            }
            if (rnd.nextDouble() < loss) {
              lost++;
              continue;
            }
            byte[] data = new byte[buf.flip().remaining()];
            buf.get(data);
            int copies = rnd.nextDouble() < dup ? 2 : 1;
            duplicated += copies - 1;
            for (int c = 0; c < copies; c++) {
              if (queue.size() >= MAX_IN_FLIGHT) {
                overflow++;
                continue;
              }
              long due;
              if (rnd.nextDouble() < reorder) {
                due = System.nanoTime();
                reordered++;
              } else {
                due = System.nanoTime() + Math.max(0, delayNanos + (long) (rnd.nextGaussian() * jitterNanos));
              }
              queue.add(new Pending(due, seq++, toTarget, data));
            }
            carried++;
          }
        }
        sel.selectedKeys().clear();
      }
    }
    System.out.println("carried " + carried + " lost " + lost + " duplicated " + duplicated + " reordered "
        + reordered + " down " + whileDown + " overflow " + overflow);
  }
}
