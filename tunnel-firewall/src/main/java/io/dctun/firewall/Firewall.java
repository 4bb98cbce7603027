package io.dctun.firewall;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.PacketFilter;
import io.dctun.crypto.PublicKey;
import io.dctun.firewall.internal.CompiledRule;
import io.dctun.firewall.internal.ConnTrack;
import io.dctun.firewall.internal.FlowKey;
import io.dctun.firewall.internal.Pkt;
import io.dctun.firewall.internal.Rejects;
import io.dctun.firewall.internal.TokenBucket;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stateful, default-deny firewall of one tunnel end: core's {@link PacketFilter}.
 *
 * <pre>
 *  packet (buf, off, len), direction, peer key, now
 *    |
 *    v
 *  parse once (Pkt, per thread) --malformed--> DROP MALFORMED
 *    |
 *    v
 *  connection table (ConnTrack, compact key, striped locks)
 *    |-- hit, same rules version, in step ------------> ACCEPT ESTABLISHED (rule counters++)
 *    |-- hit, older rules version: re-check the flow's first packet against the new rules
 *    |        still accepted -> record version, ACCEPT;  else -> drop flow, REVOKED_BY_RELOAD
 *    |-- hit, out of step (e.g. ACK in SYN_SENT) ------> state INVALID
 *    |-- miss: TCP without a pure SYN -> INVALID; ICMP error quoting a flow -> RELATED; else NEW
 *    v
 *  compiled classifier of this direction (first match; see internal.Classifier)
 *    |-- ACCEPT: NEW flows enter the table (TABLE_FULL if it cannot make room)
 *    |-- DROP / REJECT (TCP RST or ICMP prohibited written in place, rate-limited)
 *    '-- no rule: NEW -> NO_RULE, INVALID -> INVALID_STATE (drop); RELATED -> accept
 * </pre>
 *
 * Replies of an accepted flow pass without their own rule, in either direction; so rules are
 * written for the side that opens a connection. Rules decide NEW, RELATED and INVALID packets;
 * packets of established flows never reach them.
 *
 * <p>Hot reload: {@link #install} swaps the rule set with one volatile write and bumps the
 * version; flows admitted under an older version are re-checked on their next packet (lazily, in
 * whichever direction it comes), so flows the new rules still allow keep flowing and the others
 * stop. {@link #reload} builds first: a set with any error is refused whole and the old one stays.
 *
 * <p>Thread-safety: all methods may be called from any thread; the TUN thread and the UDP thread
 * classify concurrently. Parsing uses a per-thread scratch object; the rule set is immutable and
 * read through a volatile field; the connection table uses striped locks (see {@link ConnTrack});
 * counters are atomic. Nothing on the packet path allocates (custom matchers must not either).
 */
public final class Firewall implements PacketFilter, StatusSource {
  private static final Logger LOG = LoggerFactory.getLogger(Firewall.class);

  private static final class Installed {
    final RuleSet rules;
    final int version;
    final ConnTrack.Recheck recheck;

    Installed(RuleSet rules, int version) {
      this.rules = rules;
      this.version = version;
      this.recheck = orig -> {
        int i = rules.firstMatch(orig);
        return i >= 0 && rules.rules[i].action == Action.ACCEPT ? i : -1;
      };
    }
  }

  private volatile Installed current;
  private final AtomicInteger versions = new AtomicInteger();
  private final ConnTrack table;
  private final FirewallOptions options;
  private final LongAdder[] reasons = new LongAdder[Reason.VALUES.length];
  private final TokenBucket rejectBudget;
  private final TokenBucket logBudget;
  /** Per thread: the packet, an ICMP error's quoted packet, a flow's first-packet view. */
  private final ThreadLocal<Pkt[]> scratch;

  public Firewall(RuleSet rules) {
    this(rules, FirewallOptions.DEFAULTS);
  }

  public Firewall(RuleSet rules, FirewallOptions options) {
    this.options = options;
    this.scratch = ThreadLocal.withInitial(() -> {
      Pkt[] a = {new Pkt(), new Pkt(), new Pkt()};
      for (Pkt p : a) {
        p.clock = options.clock();
      }
      return a;
    });
    this.table = new ConnTrack(options.maxFlows());
    this.rejectBudget = new TokenBucket(options.rejectsPerSecond(), options.rejectsPerSecond());
    this.logBudget = new TokenBucket(options.logLinesPerSecond(), options.logLinesPerSecond() * 2);
    for (int i = 0; i < reasons.length; i++) {
      reasons[i] = new LongAdder();
    }
    install(rules);
  }

  /**
   * Replaces the rule set atomically; tracked flows are re-checked lazily. Rules keep their
   * counters across the swap when their name stays (packets counted on the old set during the
   * swap itself may be missed). Concurrent installs are serialized.
   */
  public synchronized void install(RuleSet rules) {
    if (rules == null) {
      throw new IllegalArgumentException("rule set is null");
    }
    Installed old = current;
    if (old != null && old.rules != rules) {
      rules.inheritCounters(old.rules);
    }
    current = new Installed(rules, versions.incrementAndGet());
  }

  /**
   * Builds and installs; on any error throws and keeps the running rule set.
   *
   * @return the installed rule set
   */
  public RuleSet reload(RuleSet.Builder builder) throws RuleSetException {
    RuleSet rs = builder.build();
    install(rs);
    return rs;
  }

  public RuleSet ruleSet() {
    return current.rules;
  }

  /** The version of the installed rule set (1 for the first, +1 per install). */
  public int rulesVersion() {
    return current.version;
  }

  public ConnTrack connections() {
    return table;
  }

  /** How many packets were decided for {@code r}. */
  public long reasonCount(Reason r) {
    return reasons[r.ordinal()].sum();
  }

  public Map<Reason, Long> reasonCounts() {
    Map<Reason, Long> m = new EnumMap<>(Reason.class);
    for (Reason r : Reason.VALUES) {
      m.put(r, reasons[r.ordinal()].sum());
    }
    return m;
  }

  /** Per-rule counters of the installed rule set. */
  /** Rules in force, table size, per-rule hits and the count of every verdict reason. */
  @Override
  public void report(StatusSink s) {
    s.gauge("rules-version", rulesVersion());
    s.gauge("rules", ruleSet().size());
    s.gauge("max-flows", connections().maxFlows());
    for (RuleStats r : ruleStats()) {
      StatusSink rule = s.scope("rule", r.rule());
      rule.counter("packets", r.packets());
      rule.counter("bytes", r.bytes());
    }
    StatusSink reasons = s.section("reason");
    for (Reason r : Reason.values()) {
      reasons.counter(r.name(), reasonCount(r));
    }
  }

  public List<RuleStats> ruleStats() {
    return current.rules.stats();
  }

  /** Removes expired flows; call periodically (e.g. each second) from the engine's timer. */
  /**
   * Exports up to {@code max} established (assured) flows that changed since their last export,
   * for streaming to the HA twin; allocation-free. See {@link FlowSink}.
   */
  public int exportChangedFlows(long now, FlowSink sink, int max) {
    return table.exportChanged(now, sink, max);
  }

  /** Makes the next exports resend every flow (a new twin, or this box just became master). */
  public void markAllFlowsChanged() {
    table.markAllChanged();
  }

  /**
   * Installs a flow exported by the HA twin (same configuration). Its first packet here is
   * re-checked against this box's current rules. False if the table has no room for it.
   */
  public boolean importFlow(long k0, long k1, long k2, long k3, long meta, int state, long remainingNanos, long now) {
    return table.importFlow(k0, k1, k2, k3, meta, state, remainingNanos, now);
  }

  public int expire(long now) {
    return table.expire(now);
  }

  // ------------------------------------------------------------------ PacketFilter

  @Override
  public boolean allowOutbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return decide(Direction.OUTBOUND, peer, buf, off, len, now, false) == ACCEPT;
  }

  @Override
  public boolean allowInbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return decide(Direction.INBOUND, peer, buf, off, len, now, false) == ACCEPT;
  }

  @Override
  public int filterOutbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return decide(Direction.OUTBOUND, peer, buf, off, len, now, true);
  }

  @Override
  public int filterInbound(PublicKey peer, byte[] buf, int off, int len, long now) {
    return decide(Direction.INBOUND, peer, buf, off, len, now, true);
  }

  /**
   * The full decision for one packet, with connection tracking and counters: {@link #ACCEPT},
   * {@link #DROP}, or when {@code reply} the length of a reject reply written in place.
   */
  public int decide(Direction dir, PublicKey peer, byte[] buf, int off, int len, long now,
      boolean reply) {
    Installed cur = current;
    Pkt[] s = scratch.get();
    Pkt p = s[0];
    if (!p.parse(buf, off, len)) {
      return drop(Reason.MALFORMED, null, dir, now);
    }
    RuleSet rs = cur.rules;
    p.dir = dir;
    p.peer = rs.peerIndex(peer, p);
    p.peerName = rs.peerName(p.peer);
    p.now = now;
    boolean trackable = trackable(p);
    if (trackable) {
      int t = table.track(p, cur.version, cur.recheck, s[2], true);
      switch (t & 0xFF) {
        case ConnTrack.PASS: {
          int rule = (t >>> 8) - 1;
          if (rule >= 0 && rule < rs.rules.length) {
            rs.count(rule, len, now);
          }
          reasons[Reason.ESTABLISHED.ordinal()].increment();
          return ACCEPT;
        }
        case ConnTrack.REVOKED:
          return drop(Reason.REVOKED_BY_RELOAD, null, p, now);
        case ConnTrack.INVALID:
          p.state = ConnState.INVALID.ordinal();
          break;
        default: // MISS
          if (p.proto == IpPacket.PROTO_TCP
              && (p.tcpFlags & (IpPacket.TCP_SYN | IpPacket.TCP_ACK | IpPacket.TCP_RST))
                  != IpPacket.TCP_SYN) {
            p.state = ConnState.INVALID.ordinal();
          }
          break;
      }
    } else if (p.isIcmpError()) {
      p.state = related(p, s[1]) ? ConnState.RELATED.ordinal() : ConnState.INVALID.ordinal();
    }
    int idx = rs.firstMatch(p);
    if (idx < 0) {
      if (p.state == ConnState.RELATED.ordinal()) {
        reasons[Reason.RELATED.ordinal()].increment();
        return ACCEPT;
      }
      return drop(p.state == ConnState.INVALID.ordinal() ? Reason.INVALID_STATE : Reason.NO_RULE,
          null, p, now);
    }
    CompiledRule r = rs.rules[idx];
    rs.count(idx, len, now);
    switch (r.action) {
      case ACCEPT:
        if (trackable && p.state == ConnState.NEW.ordinal()
            && !table.insert(p, cur.version, idx, true)) {
          return drop(Reason.TABLE_FULL, r, p, now);
        }
        if (r.log) {
          log("accept", r, p, now);
        }
        reasons[(p.state == ConnState.RELATED.ordinal() ? Reason.RELATED : Reason.RULE_ACCEPT)
            .ordinal()].increment();
        return ACCEPT;
      case DROP:
        return drop(Reason.RULE_DROP, r, p, now);
      default: {
        drop(Reason.RULE_REJECT, r, p, now);
        if (reply && rejectBudget.tryAcquire(now)) {
          int n = Rejects.write(p);
          return n > 0 ? n : DROP;
        }
        return DROP;
      }
    }
  }

  private static boolean trackable(Pkt p) {
    if (p.nonFirstFragment) {
      return false;
    }
    if (p.proto == IpPacket.PROTO_ICMP || p.proto == IpPacket.PROTO_ICMPV6) {
      return p.isEcho();
    }
    return true;
  }

  /** Whether the ICMP error in {@code p} quotes a packet of a tracked flow of the same peer. */
  private boolean related(Pkt p, Pkt q) {
    int at = p.off + p.l4 + 8;
    int total = p.version == 4 ? ((p.buf[p.off + 2] & 0xFF) << 8 | (p.buf[p.off + 3] & 0xFF))
        : 40 + ((p.buf[p.off + 4] & 0xFF) << 8 | (p.buf[p.off + 5] & 0xFF));
    if (!q.parseQuoted(p.buf, at, total - p.l4 - 8) || q.version != p.version) {
      return false;
    }
    q.peer = p.peer;
    q.now = p.now;
    return table.exists(q);
  }

  private int drop(Reason reason, CompiledRule r, Pkt p, long now) {
    reasons[reason.ordinal()].increment();
    if ((r != null && r.log) || (r == null && LOG.isDebugEnabled())) {
      log(reason.name(), r, p, now);
    }
    return DROP;
  }

  private int drop(Reason reason, CompiledRule r, Direction dir, long now) {
    reasons[reason.ordinal()].increment();
    if (LOG.isDebugEnabled() && logBudget.tryAcquire(now)) {
      LOG.debug("firewall {} {} packet", reason, dir);
    }
    return DROP;
  }

  private void log(String what, CompiledRule r, Pkt p, long now) {
    if (!logBudget.tryAcquire(now)) {
      return;
    }
    String line = "firewall " + what + " " + p.dir + " rule=" + (r == null ? "-" : r.name)
        + " peer=" + p.peerName + " proto=" + p.proto + " " + addr(p, true) + ":" + p.sport
        + " -> " + addr(p, false) + ":" + p.dport + " state=" + p.state()
        + " (suppressed so far: " + logBudget.refused() + ")";
    if (r != null && r.log) {
      LOG.info(line);
    } else {
      LOG.debug(line);
    }
  }

  private static String addr(Pkt p, boolean src) {
    long hi = src ? p.srcHi : p.dstHi;
    long lo = src ? p.srcLo : p.dstLo;
    if (p.version == 4) {
      int a = (int) (hi >>> 32);
      return (a >>> 24) + "." + ((a >>> 16) & 0xFF) + "." + ((a >>> 8) & 0xFF) + "." + (a & 0xFF);
    }
    return Long.toHexString(hi) + ":" + Long.toHexString(lo);
  }

  // ------------------------------------------------------------------ classification only

  /**
   * The first matching rule's index for a packet treated as NEW, without connection tracking
   * or counters; -1 for no match or a malformed packet. The cost the benchmark measures.
   */
  public int classify(Direction dir, PublicKey peer, byte[] buf, int off, int len, long now) {
    RuleSet rs = current.rules;
    Pkt p = parsedAsNew(rs, dir, peer, buf, off, len, now);
    return p == null ? -1 : rs.firstMatch(p);
  }

  /** As {@link #classify} but by a plain linear scan: the reference for tests. */
  int classifyLinear(Direction dir, PublicKey peer, byte[] buf, int off, int len, long now) {
    RuleSet rs = current.rules;
    Pkt p = parsedAsNew(rs, dir, peer, buf, off, len, now);
    return p == null ? -1 : rs.firstMatchLinear(p);
  }

  /** The thread's scratch packet parsed and placed (direction, peer, time); null if malformed. */
  private Pkt parsedAsNew(RuleSet rs, Direction dir, PublicKey peer, byte[] buf, int off, int len, long now) {
    Pkt p = scratch.get()[0];
    if (!p.parse(buf, off, len)) {
      return null;
    }
    p.dir = dir;
    p.peer = rs.peerIndex(peer, p);
    p.peerName = rs.peerName(p.peer);
    p.now = now;
    return p;
  }

  // ------------------------------------------------------------------ explain

  /**
   * What would happen to a packet described in text (see {@link Packets#parse}) in direction
   * {@code dir} for a peer given by name or base64 key. Reads the connection table but changes
   * nothing and counts nothing; custom matchers are evaluated (a rate limiter may count it).
   *
   * @throws IllegalArgumentException naming what is wrong with the description or peer
   */
  public Explanation explain(Direction dir, String peer, String packet, long now) {
    byte[] b = Packets.parse(packet);
    RuleSet rs = current.rules;
    int pi = peer == null ? -1 : rs.peerIndex(peer);
    if (peer != null && pi < 0) {
      throw new IllegalArgumentException("unknown peer '" + peer + "'");
    }
    return explain(dir, pi, b, 0, b.length, now);
  }

  /** As {@link #explain(Direction, String, String, long)} for a packet in a buffer. */
  public Explanation explain(Direction dir, PublicKey peer, byte[] buf, int off, int len,
      long now) {
    return explain(dir, current.rules.peerIndex(peer), buf, off, len, now);
  }

  private Explanation explain(Direction dir, int peer, byte[] buf, int off, int len, long now) {
    Installed cur = current;
    RuleSet rs = cur.rules;
    Pkt p = new Pkt();
    p.clock = options.clock();
    if (!p.parse(buf, off, len)) {
      return new Explanation(Action.DROP, null, -1, ConnState.INVALID, Reason.MALFORMED);
    }
    p.dir = dir;
    p.peer = peer;
    p.peerName = rs.peerName(peer);
    p.now = now;
    boolean trackable = trackable(p);
    if (trackable && table.exists(p)) {
      // The table does not say here which rules version admitted it; re-check as a reload would.
      Pkt orig = new Pkt();
      orig.copyFrom(p);
      int w = table.peek(p);
      boolean aIsOrig = (w & (1 << 4)) != 0;
      if (aIsOrig != FlowKey.of(p).srcIsA) {
        orig.swap();
      }
      orig.state = ConnState.NEW.ordinal();
      orig.tcpFlags = IpPacket.TCP_SYN;
      int i = cur.recheck.recheck(orig);
      return i >= 0
          ? new Explanation(Action.ACCEPT, rs.rules[i].name, i, ConnState.ESTABLISHED,
              Reason.ESTABLISHED)
          : new Explanation(Action.DROP, null, -1, ConnState.ESTABLISHED,
              Reason.REVOKED_BY_RELOAD);
    }
    if (trackable && p.proto == IpPacket.PROTO_TCP
        && (p.tcpFlags & (IpPacket.TCP_SYN | IpPacket.TCP_ACK | IpPacket.TCP_RST))
            != IpPacket.TCP_SYN) {
      p.state = ConnState.INVALID.ordinal();
    } else if (!trackable && p.isIcmpError()) {
      p.state = related(p, new Pkt()) ? ConnState.RELATED.ordinal()
          : ConnState.INVALID.ordinal();
    }
    ConnState st = ConnState.VALUES[p.state];
    int idx = rs.firstMatch(p);
    if (idx < 0) {
      if (st == ConnState.RELATED) {
        return new Explanation(Action.ACCEPT, null, -1, st, Reason.RELATED);
      }
      return new Explanation(Action.DROP, null, -1, st,
          st == ConnState.INVALID ? Reason.INVALID_STATE : Reason.NO_RULE);
    }
    CompiledRule r = rs.rules[idx];
    Reason reason = switch (r.action) {
      case ACCEPT -> st == ConnState.RELATED ? Reason.RELATED : Reason.RULE_ACCEPT;
      case DROP -> Reason.RULE_DROP;
      case REJECT -> Reason.RULE_REJECT;
    };
    return new Explanation(r.action, r.name, idx, st, reason);
  }
}
