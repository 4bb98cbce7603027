package io.dctun.core.mesh.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.route.Prefix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The sans-I/O table against a tiny in-test etcd (one map with revisions, compare-and-swap,
 * leases and an event log), so ordering and failure cases run deterministically without etcd.
 */
class EtcdHostTableTest {
  static final Prefix H = Prefix.parse("198.18.99.5/32");

  /** The part of etcd the table relies on: revisions, mod_revision compares, leases, events. */
  static final class FakeEtcd {
    record Entry(HostRecord record, long modRevision, long lease) {}

    long revision = 1;
    final Map<Prefix, Entry> kv = new HashMap<>();
    final List<EtcdHostTable.Kv> log = new ArrayList<>();

    /** Runs an op as the transaction would and reports the result to the table. */
    void apply(EtcdHostTable t, EtcdOp op) {
      Entry e = kv.get(op.host());
      long mod = e == null ? 0 : e.modRevision();
      if (mod != op.expectModRevision()) {
        t.compareFailed(op, e == null ? new EtcdHostTable.Kv(op.host(), null, revision, 0)
            : new EtcdHostTable.Kv(op.host(), e.record(), e.modRevision(), e.lease()));
        return;
      }
      revision++;
      if (op instanceof EtcdOp.Write w) {
        kv.put(w.host(), new Entry(w.record(), revision, w.lease()));
        log.add(new EtcdHostTable.Kv(w.host(), w.record(), revision, w.lease()));
      } else {
        kv.remove(op.host());
        log.add(new EtcdHostTable.Kv(op.host(), null, revision, 0));
      }
      t.succeeded(op, revision);
    }

    void expire(long lease) {
      for (var it = kv.entrySet().iterator(); it.hasNext(); ) {
        var en = it.next();
        if (en.getValue().lease() == lease) {
          it.remove();
          revision++;
          log.add(new EtcdHostTable.Kv(en.getKey(), null, revision, 0));
        }
      }
    }

    List<EtcdHostTable.Kv> list() {
      List<EtcdHostTable.Kv> l = new ArrayList<>();
      kv.forEach((h, e) -> l.add(new EtcdHostTable.Kv(h, e.record(), e.modRevision(), e.lease())));
      return l;
    }
  }

  /** One gateway: its table, the routes it reported, and how much of the event log it has watched. */
  static final class Gw {
    final Map<Prefix, String> routes = new HashMap<>();
    final EtcdHostTable t;
    int watched;

    Gw(String id, long lease) {
      t = new EtcdHostTable(id, 7, (h, o) -> {
        if (o == null) {
          routes.remove(h);
        } else {
          routes.put(h, o);
        }
      });
      t.leaseGranted(lease);
    }

    void runOps(FakeEtcd etcd) {
      for (int i = 0; i < 10; i++) {
        List<EtcdOp> ops = t.pending();
        if (ops.isEmpty()) {
          return;
        }
        ops.forEach(op -> etcd.apply(t, op));
      }
    }

    void watch(FakeEtcd etcd) {
      t.watched(new ArrayList<>(etcd.log.subList(watched, etcd.log.size())));
      watched = etcd.log.size();
    }
  }

  final FakeEtcd etcd = new FakeEtcd();

  void settle(Gw... gws) {
    for (int round = 0; round < 5; round++) {
      for (Gw g : gws) {
        g.runOps(etcd);
      }
      for (Gw g : gws) {
        g.watch(etcd);
      }
    }
  }

  @Test
  void aConnectedHostIsRoutedHereAtOnceAndWrittenUnderTheLease() {
    Gw a = new Gw("A", 11);
    a.t.connected(H, 100);
    assertThat(a.routes).containsEntry(H, "A"); // before etcd has answered
    List<EtcdOp> ops = a.t.pending();
    assertThat(ops).containsExactly(new EtcdOp.Write(H, new HostRecord("A", 100, 7), 11, 0));
    ops.forEach(op -> etcd.apply(a.t, op));
    assertThat(a.t.pending()).isEmpty();
    assertThat(a.t.settled()).isTrue();
  }

  @Test
  void otherGatewaysRouteToTheOwnerTheyWatch() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.connected(H, 100);
    settle(a, b);
    assertThat(b.routes).containsEntry(H, "A");
  }

  @Test
  void aMoveWinsWhenTheOlderWriteArrivesLast() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    b.t.connected(H, 200); // the newer connection is written first
    b.runOps(etcd);
    a.t.connected(H, 100); // A has not watched yet: it believes the key absent
    List<EtcdOp> late = a.t.pending();
    assertThat(late).hasSize(1);
    late.forEach(op -> etcd.apply(a.t, op)); // compare fails, reads B's record back
    assertThat(etcd.kv.get(H).record().gateway()).isEqualTo("B");
    assertThat(a.t.localHosts()).isEmpty(); // superseded
    settle(a, b);
    assertThat(a.routes).containsEntry(H, "B");
    assertThat(b.routes).containsEntry(H, "B");
  }

  @Test
  void aMoveWinsWhenTheNewerWriteArrivesLast() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.connected(H, 100);
    settle(a, b);
    b.t.connected(H, 200);
    settle(a, b);
    assertThat(etcd.kv.get(H).record()).isEqualTo(new HostRecord("B", 200, 7));
    assertThat(a.routes).containsEntry(H, "B");
    assertThat(a.t.localHosts()).isEmpty();
  }

  @Test
  void aDisconnectDeletesOnlyOwnRecord() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.connected(H, 100);
    settle(a, b);
    b.t.connected(H, 200);
    settle(a, b);
    a.t.disconnected(H); // already superseded: nothing to delete
    settle(a, b);
    assertThat(etcd.kv.get(H).record().gateway()).isEqualTo("B");
    b.t.disconnected(H);
    settle(a, b);
    assertThat(etcd.kv).doesNotContainKey(H);
    assertThat(a.routes).doesNotContainKey(H);
    assertThat(b.routes).doesNotContainKey(H);
  }

  @Test
  void leaseExpiryWithdrawsTheRouteEverywhere() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.connected(H, 100);
    settle(a, b);
    etcd.expire(11); // A died
    b.watch(etcd);
    assertThat(b.routes).doesNotContainKey(H);
  }

  @Test
  void aLostLeaseIsReassertedUnderTheNextOne() {
    Gw a = new Gw("A", 11);
    a.t.connected(H, 100);
    settle(a);
    etcd.expire(11); // expired while A could not reach etcd; A has not watched it
    a.t.leaseLost();
    assertThat(a.t.pending()).isEmpty(); // no lease: nothing can be written yet
    assertThat(a.routes).containsEntry(H, "A"); // the route stays meanwhile
    a.t.leaseGranted(13);
    settle(a);
    assertThat(etcd.kv.get(H).lease()).isEqualTo(13);
  }

  @Test
  void aWatchEventOlderThanAnOwnResultChangesNothing() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.connected(H, 100);
    a.runOps(etcd);
    b.t.connected(H, 200);
    b.runOps(etcd);
    // A's result of its own write is known; now the watch shows both events in order.
    a.watch(etcd);
    assertThat(a.routes).containsEntry(H, "B");
    a.t.watched(List.of(new EtcdHostTable.Kv(H, new HostRecord("A", 100, 7), 2, 11))); // replayed old event
    assertThat(a.routes).containsEntry(H, "B");
  }

  @Test
  void aRecordOfAnEarlierIncarnationRoutesNowhereAndIsDeleted() {
    etcd.kv.put(H, new FakeEtcd.Entry(new HostRecord("A", 100, 3), 5, 99));
    etcd.revision = 5;
    Gw a = new Gw("A", 11); // incarnation 7 > 3
    a.t.listed(etcd.list(), etcd.revision);
    assertThat(a.routes).doesNotContainKey(H);
    settle(a);
    assertThat(etcd.kv).doesNotContainKey(H);
  }

  @Test
  void anUnreadableValueRoutesNowhereAndALocalHostOverwritesIt() {
    etcd.kv.put(H, new FakeEtcd.Entry(HostRecord.UNREADABLE, 5, 0));
    etcd.revision = 5;
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    a.t.listed(etcd.list(), etcd.revision);
    b.t.listed(etcd.list(), etcd.revision);
    assertThat(b.routes).doesNotContainKey(H);
    a.t.connected(H, 100);
    settle(a, b);
    assertThat(etcd.kv.get(H).record()).isEqualTo(new HostRecord("A", 100, 7));
    assertThat(b.routes).containsEntry(H, "A");
  }

  @Test
  void aRelistAfterAnOutageCatchesUp() {
    Gw a = new Gw("A", 11);
    Gw b = new Gw("B", 12);
    Prefix h2 = Prefix.parse("198.18.99.6/32");
    a.t.connected(H, 100);
    settle(a, b);
    // b is cut off: meanwhile H moves to a third gateway and h2 appears.
    etcd.kv.put(H, new FakeEtcd.Entry(new HostRecord("C", 300, 1), ++etcd.revision, 14));
    etcd.kv.put(h2, new FakeEtcd.Entry(new HostRecord("A", 50, 7), ++etcd.revision, 11));
    assertThat(b.routes).containsEntry(H, "A"); // the last routes it knew
    b.t.listed(etcd.list(), etcd.revision);
    assertThat(b.routes).containsEntry(H, "C").containsEntry(h2, "A");
  }

  @Test
  void manyGatewaysAgreeWhateverOrderTheirWritesAndWatchesInterleave() {
    Random rnd = new Random(42);
    for (int run = 0; run < 300; run++) {
      FakeEtcd e = new FakeEtcd();
      int n = 2 + rnd.nextInt(3);
      Gw[] gws = new Gw[n];
      for (int i = 0; i < n; i++) {
        gws[i] = new Gw("G" + i, 20 + i);
      }
      long best = -1;
      String bestGw = null;
      for (int step = 0; step < 12; step++) {
        Gw g = gws[rnd.nextInt(n)];
        switch (rnd.nextInt(3)) {
          case 0 -> {
            long v = 1 + rnd.nextInt(50);
            g.t.connected(H, v);
            String id = g.t.self();
            if (bestGw == null || v > best || (v == best && id.compareTo(bestGw) > 0)) {
              best = v;
              bestGw = id;
            }
          }
          case 1 -> g.runOps(e);
          default -> g.watch(e);
        }
      }
      for (int round = 0; round < 6; round++) {
        for (Gw g : gws) {
          g.runOps(e);
        }
        for (Gw g : gws) {
          g.watch(e);
        }
      }
      if (bestGw == null) {
        continue;
      }
      assertThat(e.kv.get(H).record().gateway()).as("run %d: etcd holds the newest connection", run).isEqualTo(bestGw);
      for (Gw g : gws) {
        assertThat(g.routes.get(H)).as("run %d: %s routes to the newest", run, g.t.self()).isEqualTo(bestGw);
      }
    }
  }
}
