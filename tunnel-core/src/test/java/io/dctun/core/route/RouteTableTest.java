package io.dctun.core.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RouteTableTest {

  private static final long NEVER = Long.MAX_VALUE;

  private final RouteTable<String> table = new RouteTable<>();

  private static Prefix p(String cidr) {
    return Prefix.parse(cidr);
  }

  private String lookup(String addr) {
    byte[] a = Prefix.parse(addr).address();
    return table.lookup(a, 0, a.length);
  }

  @Test
  void emptyTableMatchesNothing() {
    assertThat(lookup("10.0.0.1")).isNull();
    assertThat(lookup("2001:db8::1")).isNull();
    assertThat(table.lookupV4(0x0A000001)).isNull();
    assertThat(table.size()).isZero();
    assertThat(table.entries()).isEmpty();
  }

  @Test
  void longestPrefixWinsV4AcrossOrigins() {
    table.putConfigured(p("10.0.0.0/8"), "a");
    table.putLearned(p("10.1.0.0/16"), "b", "gw1", 1, NEVER);
    table.putConfigured(p("10.1.2.0/24"), "c");
    table.putLearned(p("10.1.2.3/32"), "d", "gw2", 1, NEVER);
    assertThat(lookup("10.9.9.9")).isEqualTo("a");
    assertThat(lookup("10.1.9.9")).isEqualTo("b");
    assertThat(lookup("10.1.2.9")).isEqualTo("c");
    assertThat(lookup("10.1.2.3")).isEqualTo("d");
    assertThat(table.lookupV4(0x0A010203)).isEqualTo("d");
    assertThat(lookup("11.0.0.0")).isNull();
    assertThat(lookup("::")).isNull();
    assertThat(table.size()).isEqualTo(4);
  }

  @Test
  void longestPrefixWinsV6() {
    table.putConfigured(p("fd00::/8"), "ula");
    table.putConfigured(p("fd00:1::/32"), "site");
    table.putLearned(p("fd00:1::42/128"), "host", "gw1", 7, NEVER);
    table.putConfigured(p("::/0"), "default");
    assertThat(lookup("fd00:1::42")).isEqualTo("host");
    assertThat(lookup("fd00:1::43")).isEqualTo("site");
    assertThat(lookup("fd99::1")).isEqualTo("ula");
    assertThat(lookup("2001:db8::1")).isEqualTo("default");
    assertThat(lookup("10.0.0.1")).isNull();
  }

  @Test
  void readsAddressFromPacketBufferAtOffsetAndInReadSections() {
    table.putConfigured(p("198.18.0.0/15"), "site");
    table.putConfigured(p("fd00::/8"), "ula");
    byte[] buf = new byte[64];
    System.arraycopy(p("198.19.7.7/32").address(), 0, buf, 33, 4);
    System.arraycopy(p("fd12::9/128").address(), 0, buf, 7, 16);
    assertThat(table.lookup(buf, 33, 4)).isEqualTo("site");
    assertThat(table.lookup(buf, 7, 16)).isEqualTo("ula");
    int ticket = table.beginRead();
    try {
      assertThat(table.lookupInRead(ticket, buf, 33, 4)).isEqualTo("site");
      assertThat(table.lookupInRead(ticket, buf, 7, 16)).isEqualTo("ula");
    } finally {
      table.endRead(ticket);
    }
  }

  @Test
  void aLookupThatThrowsStillEndsItsRead() {
    table.putConfigured(p("10.0.0.0/8"), "a");
    assertThatThrownBy(() -> table.lookup(new byte[8], 0, 8))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> table.lookup(new byte[3], 0, 4))
        .isInstanceOf(IndexOutOfBoundsException.class);
    // A reader left announced would make this writer wait forever.
    assertThat(table.putConfigured(p("10.1.0.0/16"), "b")).isEqualTo(RouteResult.ADDED);
    assertThat(lookup("10.1.0.1")).isEqualTo("b");
  }

  @Test
  void secondConfiguredOwnerIsRefusedNamingBoth() {
    assertThat(table.putConfigured(p("10.0.0.0/24"), "peer B")).isEqualTo(RouteResult.ADDED);
    assertThatThrownBy(() -> table.putConfigured(p("10.0.0.0/24"), "peer A"))
        .isInstanceOfSatisfying(RouteConflictException.class, e -> {
          assertThat(e.prefix()).isEqualTo(p("10.0.0.0/24"));
          assertThat(e.holder()).isEqualTo("peer B");
          assertThat(e.refused()).isEqualTo("peer A");
        })
        .hasMessage("10.0.0.0/24 is already routed to peer B; refusing it for peer A");
    assertThat(lookup("10.0.0.1")).isEqualTo("peer B");
    assertThat(table.size()).isEqualTo(1);
    assertThat(table.putConfigured(p("10.0.0.0/24"), "peer B")).isEqualTo(RouteResult.UNCHANGED);
    // Host bits make no different prefix: still the same /24.
    assertThatThrownBy(() -> table.putConfigured(p("10.0.0.9/24"), "peer A"))
        .isInstanceOf(RouteConflictException.class);
    // Removing for the wrong owner takes nothing; the right owner can then give it up.
    assertThat(table.removeConfigured(p("10.0.0.0/24"), "peer A")).isFalse();
    assertThat(table.removeConfigured(p("10.0.0.0/24"), "peer B")).isTrue();
    assertThat(table.putConfigured(p("10.0.0.0/24"), "peer A")).isEqualTo(RouteResult.ADDED);
    assertThat(lookup("10.0.0.1")).isEqualTo("peer A");
  }

  @Test
  void configuredBeatsLearnedWhichWaitsInTheShadow() {
    assertThat(table.putLearned(p("10.5.0.7/32"), "gwPeer", "gw1", 3, NEVER))
        .isEqualTo(RouteResult.ADDED);
    assertThat(lookup("10.5.0.7")).isEqualTo("gwPeer");
    assertThat(table.putConfigured(p("10.5.0.7/32"), "static")).isEqualTo(RouteResult.ADDED);
    assertThat(lookup("10.5.0.7")).isEqualTo("static");
    assertThat(table.entries()).containsExactly(
        new Route<>(p("10.5.0.7/32"), "static", RouteOrigin.CONFIGURED, 0, NEVER, false),
        new Route<>(p("10.5.0.7/32"), "gwPeer", RouteOrigin.learnedFrom("gw1"), 3, NEVER, true));
    // Still versioned while shadowed.
    assertThat(table.putLearned(p("10.5.0.7/32"), "other", "gw2", 2, NEVER))
        .isEqualTo(RouteResult.STALE);
    assertThat(table.putLearned(p("10.5.0.7/32"), "other", "gw2", 4, NEVER))
        .isEqualTo(RouteResult.SHADOWED);
    assertThat(lookup("10.5.0.7")).isEqualTo("static");
    // The configured route goes: the learned one takes over without a new announcement.
    assertThat(table.removeConfigured(p("10.5.0.7/32"), "static")).isTrue();
    assertThat(lookup("10.5.0.7")).isEqualTo("other");
    assertThat(table.size()).isEqualTo(1);
  }

  @Test
  void newerVersionFollowsAHostBetweenGatewaysAndStaleOnesAreCounted() {
    Prefix host = p("10.7.0.9/32");
    assertThat(table.putLearned(host, "gw1", "gw1", 10, NEVER)).isEqualTo(RouteResult.ADDED);
    assertThat(table.putLearned(host, "gw2", "gw2", 11, NEVER)).isEqualTo(RouteResult.REPLACED);
    assertThat(lookup("10.7.0.9")).isEqualTo("gw2");
    // gw1's announcement arriving late, and a replay of it, cannot move the host back.
    assertThat(table.putLearned(host, "gw1", "gw1", 10, NEVER)).isEqualTo(RouteResult.STALE);
    assertThat(table.putLearned(host, "gw1", "gw1", 9, NEVER)).isEqualTo(RouteResult.STALE);
    // Equal version, different content: the incumbent stays.
    assertThat(table.putLearned(host, "gw1", "gw1", 11, NEVER)).isEqualTo(RouteResult.STALE);
    assertThat(lookup("10.7.0.9")).isEqualTo("gw2");
    assertThat(table.staleUpdates()).isEqualTo(3);
    // Same source and value: a renewal, or nothing at all.
    assertThat(table.putLearned(host, "gw2", "gw2", 11, NEVER)).isEqualTo(RouteResult.UNCHANGED);
    assertThat(table.putLearned(host, "gw2", "gw2", 11, 500)).isEqualTo(RouteResult.REFRESHED);
    assertThat(table.putLearned(host, "gw2", "gw2", 12, 900)).isEqualTo(RouteResult.REFRESHED);
    assertThat(table.entries()).containsExactly(
        new Route<>(host, "gw2", RouteOrigin.learnedFrom("gw2"), 12, 900, false));
    // A withdrawal from the gateway the host left takes nothing.
    assertThat(table.removeLearned(host, "gw1")).isFalse();
    assertThat(table.removeLearned(host, "gw2")).isTrue();
    assertThat(lookup("10.7.0.9")).isNull();
    assertThat(table.size()).isZero();
    assertThat(table.staleUpdates()).isEqualTo(3);
  }

  @Test
  void expireRemovesLapsedLearnedRoutesOnTheCallersClock() {
    long now = 1_000_000_000L;
    table.putConfigured(p("10.0.0.0/8"), "static");
    table.putLearned(p("10.0.0.1/32"), "h1", "gw1", 1, now + 100);
    table.putLearned(p("10.0.0.2/32"), "h2", "gw1", 1, now + 200);
    table.putLearned(p("fd00::2/128"), "h6", "gw2", 1, now + 200);
    table.putLearned(p("10.0.0.3/32"), "h3", "gw2", 1, NEVER);
    // Shadowed routes expire too.
    table.putConfigured(p("10.0.0.4/32"), "pinned");
    table.putLearned(p("10.0.0.4/32"), "h4", "gw2", 1, now + 50);
    assertThat(table.expire(now)).isZero();
    assertThat(table.expire(now + 99)).isEqualTo(1);
    assertThat(lookup("10.0.0.4")).isEqualTo("pinned");
    assertThat(table.expire(now + 100)).isEqualTo(1);
    assertThat(lookup("10.0.0.1")).isEqualTo("static");
    assertThat(lookup("10.0.0.2")).isEqualTo("h2");
    // A renewal moves the expiry; the old one no longer applies.
    table.putLearned(p("10.0.0.2/32"), "h2", "gw1", 1, now + 1_000);
    assertThat(table.expire(now + 500)).isEqualTo(1);
    assertThat(lookup("fd00::2")).isNull();
    assertThat(lookup("10.0.0.2")).isEqualTo("h2");
    assertThat(table.expire(Long.MAX_VALUE - 1)).isEqualTo(1);
    assertThat(lookup("10.0.0.2")).isEqualTo("static");
    assertThat(lookup("10.0.0.3")).isEqualTo("h3");
    assertThat(table.size()).isEqualTo(3);
    assertThat(table.entries()).extracting(Route::value).containsExactly("static", "h3", "pinned");
  }

  @Test
  void removeAllDropsEveryRouteOfAPeerAndRemoveLearnedFromEveryRouteOfASource() {
    table.putConfigured(p("10.0.0.0/8"), "peer1");
    table.putConfigured(p("fd00::/8"), "peer1");
    table.putConfigured(p("10.1.0.0/16"), "peer2");
    table.putLearned(p("10.2.0.5/32"), "peer1", "gw9", 1, 100);
    table.putLearned(p("10.1.0.5/32"), "peer2", "gw9", 1, NEVER);
    table.putLearned(p("10.1.0.6/32"), "peer2", "gw8", 1, NEVER);
    assertThat(table.removeAll("peer1")).isEqualTo(3);
    assertThat(lookup("10.3.0.0")).isNull();
    assertThat(lookup("10.2.0.5")).isNull();
    assertThat(lookup("fd00::1")).isNull();
    assertThat(lookup("10.1.0.5")).isEqualTo("peer2");
    assertThat(table.removeAll("peer1")).isZero();
    // The expired-route index forgot the removed route: nothing left to expire.
    assertThat(table.expire(NEVER - 1)).isZero();
    assertThat(table.removeLearnedFrom("gw9")).isEqualTo(1);
    assertThat(table.entries()).extracting(Route::prefix)
        .containsExactly(p("10.1.0.0/16"), p("10.1.0.6/32"));
    assertThat(table.removeAll("peer2")).isEqualTo(2);
    assertThat(table.size()).isZero();
    assertThat(table.entries()).isEmpty();
    assertThat(lookup("10.1.0.6")).isNull();
  }

  @Test
  void entriesAreSortedAndCarryOrigins() {
    table.putConfigured(p("fd00::/8"), "a");
    table.putLearned(p("10.0.0.1/32"), "b", "gw1", 5, 77);
    table.putConfigured(p("10.0.0.0/8"), "c");
    table.putConfigured(p("9.0.0.0/8"), "d");
    assertThat(table.entries()).containsExactly(
        new Route<>(p("9.0.0.0/8"), "d", RouteOrigin.CONFIGURED, 0, NEVER, false),
        new Route<>(p("10.0.0.0/8"), "c", RouteOrigin.CONFIGURED, 0, NEVER, false),
        new Route<>(p("10.0.0.1/32"), "b", RouteOrigin.learnedFrom("gw1"), 5, 77, false),
        new Route<>(p("fd00::/8"), "a", RouteOrigin.CONFIGURED, 0, NEVER, false));
    assertThat(RouteOrigin.learnedFrom("gw1")).hasToString("learned from gw1");
    assertThatThrownBy(() -> new RouteOrigin(RouteOrigin.Kind.LEARNED, null))
        .isInstanceOf(NullPointerException.class);
  }

  /**
   * Lookups of an address whose route is never touched, while another thread churns routes
   * around it: its /24 gains and loses host routes (so IPv4 sub-tables are created, freed and
   * reused by another /24 whose host routes share the last octet), shorter and sibling prefixes
   * come and go, and IPv6 neighbours split and merge trie nodes. Any lookup seeing a copy being
   * changed can return null or another route's value.
   */
  @Test
  void lookupsNeverSeeAHalfDoneUpdate() throws InterruptedException {
    table.putConfigured(p("10.1.2.0/24"), "stable");
    table.putConfigured(p("fd00:1:2::/48"), "stable6");
    byte[] v4 = p("10.1.2.7/32").address();
    byte[] v6 = p("fd00:1:2::7/128").address();
    int updates = 10_000;
    long maxLookups = 200_000_000L;
    AtomicBoolean writerDone = new AtomicBoolean();
    AtomicReference<String> wrong = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong lookups = new AtomicLong();

    Thread writer = new Thread(() -> {
      try {
        for (int i = 0; i < updates; i++) {
          String gw = (i & 1) == 0 ? "gwA" : "gwB";
          table.putLearned(p("10.1.2.200/32"), gw, gw, i, NEVER);
          table.putLearned(p("10.9.9.7/32"), gw, gw, i, NEVER);
          table.putLearned(p("10.1.0.0/16"), gw, gw, i, NEVER);
          table.putLearned(p("10.1.3.0/24"), gw, gw, i, NEVER);
          table.putLearned(p("fd00:1:2:3::/64"), gw, gw, i, NEVER);
          table.putLearned(p("fd00:1:3::/48"), gw, gw, i, NEVER);
          if ((i & 3) == 3) {
            table.removeLearned(p("10.1.2.200/32"), gw);
            table.removeLearned(p("10.1.3.0/24"), gw);
            table.removeLearned(p("fd00:1:2:3::/64"), gw);
            table.removeLearnedFrom(gw);
          }
        }
      } catch (Throwable t) {
        failure.set(t);
      } finally {
        writerDone.set(true);
      }
    }, "route-writer");
    Thread reader = new Thread(() -> {
      try {
        long n = 0;
        while (!writerDone.get() && n < maxLookups) {
          String a = table.lookup(v4, 0, 4);
          String b = table.lookup(v6, 0, 16);
          if (!"stable".equals(a) || !"stable6".equals(b)) {
            wrong.set("lookup " + n + " returned " + a + " / " + b);
            return;
          }
          n++;
        }
        lookups.set(n);
      } catch (Throwable t) {
        failure.set(t);
      }
    }, "route-reader");
    reader.start();
    writer.start();
    writer.join(TimeUnit.SECONDS.toMillis(60));
    reader.join(TimeUnit.SECONDS.toMillis(60));
    assertThat(writer.isAlive()).as("writer finished").isFalse();
    assertThat(reader.isAlive()).as("reader finished").isFalse();
    assertThat(failure.get()).isNull();
    assertThat(wrong.get()).isNull();
    assertThat(lookups.get()).as("lookups overlapping the writes").isPositive();
    assertThat(lookup("10.1.2.7")).isEqualTo("stable");
  }

  /** A writer hands a copy back to itself only after the reads in it have ended. */
  @Test
  void writerWaitsForAnOpenReadSection() throws InterruptedException {
    table.putConfigured(p("10.0.0.0/8"), "old");
    byte[] addr = p("10.0.0.1/32").address();
    AtomicBoolean written = new AtomicBoolean();
    int ticket = table.beginRead();
    Thread writer;
    try {
      assertThat(table.lookupInRead(ticket, addr, 0, 4)).isEqualTo("old");
      writer = new Thread(() -> {
        table.putConfigured(p("10.0.0.0/16"), "new");
        written.set(true);
      }, "route-writer");
      writer.start();
      // The writer moves new readers to the changed copy, then must wait for this section
      // before it may change the copy the section reads.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!"new".equals(table.lookup(addr, 0, 4)) && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(table.lookup(addr, 0, 4)).isEqualTo("new");
      for (int i = 0; i < 1_000_000; i++) {
        Thread.onSpinWait();
      }
      assertThat(table.lookupInRead(ticket, addr, 0, 4)).as("the section's copy").isEqualTo("old");
      assertThat(written.get()).as("write finished while a read was open").isFalse();
      assertThat(writer.isAlive()).isTrue();
    } finally {
      table.endRead(ticket);
    }
    writer.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(writer.isAlive()).isFalse();
    assertThat(written.get()).isTrue();
    assertThat(lookup("10.0.0.1")).isEqualTo("new");
  }
}
