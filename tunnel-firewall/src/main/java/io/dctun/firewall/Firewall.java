package io.dctun.firewall;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import io.dctun.core.packet.IpPacket;
import io.dctun.core.session.PacketFilter;
import io.dctun.crypto.PublicKey;
import io.dctun.firewall.internal.CompiledRule;
import io.dctun.firewall.internal.ConnTrack;
import io.dctun.firewall.internal.Pkt;
import io.dctun.firewall.internal.Rejects;
import io.dctun.firewall.internal.TcpTracker;
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
 *    |-- ACCEPT: NEW flows enter the table (PEER_SHARE_FULL if the peer holds its share and
 *    |           none of its own flows can go, TABLE_FULL if the table cannot make room)
 *    |-- DROP / REJECT (TCP RST or ICMP prohibited written in place, rate-limited)
 *    '-- no rule: NEW -> NO_RULE, INVALID -> INVALID_STATE (drop); RELATED -> accept
 * </pre>
 *
 * {@link #explain} runs this very path, dry, with a {@link Trace}: the connection table is read
 * through the same tracking code and nothing is written, counted or replied, so its answer is
 * the data path's.
 *
 * <p>Replies of an accepted flow pass without their own rule, in either direction; so rules are
 * written for the side that opens a connection. Rules decide NEW, RELATED and INVALID packets;
 * packets of established flows never reach them.
 *
 * <p><b>Who loses when the table fills</b> (issue 13). Each flow belongs to one tunnel peer: the
 * peer an inbound packet came from, or the peer an outbound packet is routed to. For a flow that
 * a host on the local network opens, that is the peer it talks to: the table has no other
 * notion of "who", and so a LAN host opening connections toward one peer spends that peer's
 * share, never another's. No peer holds more than {@link #maxFlowsPerPeer()} flows. A new flow
 * of a peer at its share replaces that peer's own expired or oldest unanswered flow (in the new
 * flow's segment); if it has none, the new flow is refused and counted as {@link
 * Reason#PEER_SHARE_FULL}, with a rate-limited warning naming the peer (by its configured name).
 * Refusing, rather than evicting the peer's oldest assured flow, keeps a peer's established
 * connections (a long replication stream) from being cut by its own flood of new ones; the
 * peer over its share loses only new connections, and the other peers lose nothing. The share
 * counts every flow, answered or not, so neither a flood of half-open flows nor of answered ones
 * takes more than it. Packets of flows already tracked never pay for any of this: only creating
 * and removing a flow updates a peer's count (one atomic update).
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
  /** The warning that a peer reached its share: one a second at most, apart from rule logs. */
  private final TokenBucket shareLogBudget = new TokenBucket(1, 1);
  /** {@code maxFlowsPerPeer} as configured ({@link FirewallOptions#AUTO_PER_PEER}: automatic). */
  private volatile int perPeerSetting;
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
    this.table = new ConnTrack(options.maxFlows(), rules == null ? 0 : rules.peerCount());
    this.perPeerSetting = options.maxFlowsPerPeer();
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
    table.resizePeers(rules.peerCount());
    table.setPeerLimit(options.withMaxFlowsPerPeer(perPeerSetting).perPeerLimit(rules.peerCount()));
    current = new Installed(rules, versions.incrementAndGet());
  }

  /**
   * Changes how many flows one peer may hold ({@link FirewallOptions#AUTO_PER_PEER} for the
   * automatic share); applies to new flows at once. Flows already held stay, even over it.
   *
   * @throws IllegalArgumentException if {@code n} is negative
   */
  public synchronized void setMaxFlowsPerPeer(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("max flows per peer must be >= 0 (0 = automatic), got " + n);
    }
    perPeerSetting = n;
    table.setPeerLimit(options.withMaxFlowsPerPeer(n).perPeerLimit(current.rules.peerCount()));
  }

  /** The share in force: flows one peer may hold before its new flows are refused. */
  public int maxFlowsPerPeer() {
    return table.peerLimit();
  }

  /**
   * Flows the peer holds now, by configured name or base64 key; null for no peer (flows of
   * packets from keys the rule set does not know).
   *
   * @throws IllegalArgumentException if the rule set has no such peer
   */
  public int peerFlowCount(String peer) {
    int i = peer == null ? -1 : current.rules.peerIndex(peer);
    if (peer != null && i < 0) {
      throw new IllegalArgumentException("unknown peer '" + peer + "'");
    }
    return table.peerFlows(i);
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

  /** The connection table itself, for this package's tests; others read the counts below. */
  ConnTrack connections() {
    return table;
  }

  /** Flows tracked now. */
  public int flowCount() {
    return table.size();
  }

  /** The connection table's capacity ({@code max-flows}). */
  public int maxFlows() {
    return table.maxFlows();
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
    s.gauge("max-flows", table.maxFlows());
    s.gauge("max-flows-per-peer", table.peerLimit());
    s.gauge("flows", table.size());
    RuleSet rs = ruleSet();
    for (int i = 0; i < rs.peerCount(); i++) {
      s.scope("peer", rs.peerName(i)).gauge("flows", table.peerFlows(i));
    }
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

  /**
   * {@code Firewall[rules v2 (4 rules), 12/262144 flows, decided RULE_ACCEPT=10, NO_RULE=3]}: the
   * installed version, the table's fill and every non-zero verdict reason, for a program that
   * prints what it reads; per-rule and per-peer counts are in {@link #report}.
   */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("Firewall[rules v").append(rulesVersion()).append(" (")
        .append(ruleSet().size()).append(ruleSet().size() == 1 ? " rule), " : " rules), ")
        .append(table.size()).append('/').append(table.maxFlows()).append(" flows, decided");
    int shown = 0;
    for (Reason r : Reason.VALUES) {
      long c = reasonCount(r);
      if (c != 0) {
        b.append(shown++ == 0 ? " " : ", ").append(r.name()).append('=').append(c);
      }
    }
    return b.append(shown == 0 ? " nothing yet]" : "]").toString();
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
    return decide(current, dir, peer, -1, buf, off, len, now, reply, null);
  }

  /**
   * The decision, the one both the data path and {@link #explain} run. The peer is {@code
   * peerKey} (resolved after parsing, through the thread's cache) or, when that is null, the
   * index {@code peerIndex}. With a {@code trace} (explain) it records each step and its verdict
   * and is dry: the connection table is consulted as the data path would, but nothing is
   * written, counted, logged or replied. Without one (the data path: every {@code t != null}
   * below is one untaken branch) it allocates nothing.
   */
  private int decide(Installed cur, Direction dir, PublicKey peerKey, int peerIndex, byte[] buf,
      int off, int len, long now, boolean reply, Trace t) {
    Pkt[] s = scratch.get();
    Pkt p = s[0];
    if (!p.parse(buf, off, len)) {
      if (t != null) {
        t.step("not a well-formed IPv4/IPv6 packet");
        t.verdict(Reason.MALFORMED, null, ConnState.INVALID);
        return DROP;
      }
      return drop(Reason.MALFORMED, null, dir, now);
    }
    RuleSet rs = cur.rules;
    p.dir = dir;
    p.peer = peerKey != null ? rs.peerIndex(peerKey, p) : peerIndex;
    p.peerName = rs.peerName(p.peer);
    p.now = now;
    boolean commit = t == null;
    if (t != null) {
      t.step(describe(p));
    }
    boolean trackable = trackable(p);
    if (trackable) {
      int tr = table.track(p, cur.version, cur.recheck, s[2], commit);
      if (t != null) {
        traceTracking(t, p, tr, rs);
      }
      switch (tr & 0xFF) {
        case ConnTrack.PASS: {
          int rule = (tr >>> 8) - 1;
          CompiledRule admitted = rule >= 0 && rule < rs.rules.length ? rs.rules[rule] : null;
          p.state = ConnState.ESTABLISHED.ordinal();
          if (t != null) {
            t.verdict(Reason.ESTABLISHED, admitted, ConnState.ESTABLISHED);
            return ACCEPT;
          }
          if (admitted != null) {
            rs.count(rule, len, now);
          }
          reasons[Reason.ESTABLISHED.ordinal()].increment();
          return ACCEPT;
        }
        case ConnTrack.REVOKED:
          p.state = ConnState.ESTABLISHED.ordinal();
          return drop(Reason.REVOKED_BY_RELOAD, null, p, now, t);
        case ConnTrack.INVALID:
          p.state = ConnState.INVALID.ordinal();
          break;
        default: // MISS
          if (p.proto == IpPacket.PROTO_TCP && !TcpTracker.opens(p.tcpFlags)) {
            p.state = ConnState.INVALID.ordinal();
            if (t != null) {
              t.step("a TCP segment that cannot open a connection (not a SYN alone): INVALID");
            }
          }
          break;
      }
    } else if (p.isIcmpError()) {
      p.state = related(p, s[1]) ? ConnState.RELATED.ordinal() : ConnState.INVALID.ordinal();
      if (t != null) {
        t.step(p.state == ConnState.RELATED.ordinal()
            ? "ICMP error quoting a tracked flow: RELATED"
            : "ICMP error quoting no tracked flow: INVALID");
      }
    } else if (t != null) {
      t.step("not tracked (non-first fragment, or ICMP other than echo)");
    }
    int idx = rs.firstMatch(p);
    if (idx < 0) {
      if (t != null) {
        t.step("no " + dir.name().toLowerCase(java.util.Locale.ROOT) + " rule matches state "
            + p.state());
      }
      if (p.state == ConnState.RELATED.ordinal()) {
        return accept(Reason.RELATED, null, p, now, t);
      }
      return drop(p.state == ConnState.INVALID.ordinal() ? Reason.INVALID_STATE : Reason.NO_RULE,
          null, p, now, t);
    }
    CompiledRule r = rs.rules[idx];
    if (t != null) {
      t.step("first matching rule: '" + r.name + "' #" + idx + " " + r.action);
    } else {
      rs.count(idx, len, now);
    }
    switch (r.action) {
      case ACCEPT:
        if (trackable && p.state == ConnState.NEW.ordinal()) {
          int in = table.insert(p, cur.version, idx, commit);
          if (in == ConnTrack.PEER_FULL) {
            if (t != null) {
              t.step("peer " + (p.peerName == null ? "(unknown)" : p.peerName) + " holds its share of "
                  + "the connection table (" + table.peerFlows(p.peer) + " of max-flows-per-peer "
                  + table.peerLimit() + "), none of its own flows can make room");
            } else {
              shareFull(p, now);
            }
            return drop(Reason.PEER_SHARE_FULL, r, p, now, t);
          }
          if (in != ConnTrack.INSERTED) {
            if (t != null) {
              t.step("the connection table has no room for the new flow");
            }
            return drop(Reason.TABLE_FULL, r, p, now, t);
          }
        }
        return accept(p.state == ConnState.RELATED.ordinal() ? Reason.RELATED : Reason.RULE_ACCEPT,
            r, p, now, t);
      case DROP:
        return drop(Reason.RULE_DROP, r, p, now, t);
      default: {
        drop(Reason.RULE_REJECT, r, p, now, t);
        if (commit && reply && rejectBudget.tryAcquire(now)) {
          int n = Rejects.write(p);
          return n > 0 ? n : DROP;
        }
        return DROP;
      }
    }
  }

  /** The connection table's answer, in words (explain only). */
  private void traceTracking(Trace t, Pkt p, int tr, RuleSet rs) {
    int w = table.peek(p);
    String flow = w < 0 ? "" : "flow " + ConnTrack.kindName(w);
    switch (tr & 0xFF) {
      case ConnTrack.PASS -> {
        int rule = (tr >>> 8) - 1;
        t.step(flow + ", admitted by rule "
            + (rule >= 0 && rule < rs.rules.length ? "'" + rs.rules[rule].name + "' #" + rule : "?")
            + ": the packet is in step, ESTABLISHED");
      }
      case ConnTrack.REVOKED ->
          t.step(flow + ", admitted under older rules that no longer accept it: revoked");
      case ConnTrack.INVALID -> t.step(flow + ": the packet is out of step, INVALID");
      default -> t.step(w < 0 ? "no tracked flow" : flow + " is closed; this SYN starts a new one");
    }
  }

  private static String describe(Pkt p) {
    return p.dir.name().toLowerCase(java.util.Locale.ROOT) + " packet, peer "
        + (p.peerName == null ? "(unknown)" : p.peerName) + ": IPv" + p.version + " proto "
        + p.proto + " " + addr(p, true) + (p.sport >= 0 ? ":" + p.sport : "") + " -> "
        + addr(p, false) + (p.dport >= 0 ? ":" + p.dport : "")
        + (p.tcpFlags >= 0 ? " flags 0x" + Integer.toHexString(p.tcpFlags) : "")
        + (p.icmpType >= 0 ? " type " + p.icmpType + " code " + p.icmpCode : "")
        + (p.nonFirstFragment ? " (non-first fragment)" : "");
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
    if (!q.parseQuoted(p.buf, at, p.total - p.l4 - 8) || q.version != p.version) {
      return false;
    }
    q.peer = p.peer;
    q.now = p.now;
    return table.exists(q);
  }

  /** The rate-limited warning that a peer reached its share (names the peer, never its key). */
  private void shareFull(Pkt p, long now) {
    if (!shareLogBudget.tryAcquire(now)) {
      return;
    }
    LOG.warn("firewall: peer {} holds its share of the connection table ({} flows, "
            + "max-flows-per-peer {}); its new connections are refused until some of its flows "
            + "end (PEER_SHARE_FULL {} so far, {} warnings suppressed)",
        p.peerName == null ? "(unknown)" : p.peerName, table.peerFlows(p.peer), table.peerLimit(),
        reasons[Reason.PEER_SHARE_FULL.ordinal()].sum() + 1, shareLogBudget.refused());
  }

  private int accept(Reason reason, CompiledRule r, Pkt p, long now, Trace t) {
    if (t != null) {
      t.verdict(reason, r, p.state());
      return ACCEPT;
    }
    if (r != null && r.log) {
      log("accept", r, p, now);
    }
    reasons[reason.ordinal()].increment();
    return ACCEPT;
  }

  private int drop(Reason reason, CompiledRule r, Pkt p, long now, Trace t) {
    if (t != null) {
      t.verdict(reason, r, p.state());
      return DROP;
    }
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
   * {@code dir} for a peer given by name or base64 key: the data path's own decision, run dry
   * with a {@link Trace}. It reads the connection table but changes nothing and counts nothing;
   * custom matchers are evaluated (a rate limiter may count it).
   *
   * @throws IllegalArgumentException naming what is wrong with the description or peer
   */
  public Explanation explain(Direction dir, String peer, String packet, long now) {
    byte[] b = Packets.parse(packet);
    Installed cur = current;
    int pi = peer == null ? -1 : cur.rules.peerIndex(peer);
    if (peer != null && pi < 0) {
      throw new IllegalArgumentException("unknown peer '" + peer + "'");
    }
    return explain(cur, dir, pi, b, 0, b.length, now);
  }

  /** As {@link #explain(Direction, String, String, long)} for a packet in a buffer. */
  public Explanation explain(Direction dir, PublicKey peer, byte[] buf, int off, int len,
      long now) {
    Installed cur = current;
    return explain(cur, dir, cur.rules.peerIndex(peer), buf, off, len, now);
  }

  private Explanation explain(Installed cur, Direction dir, int peer, byte[] buf, int off,
      int len, long now) {
    Trace t = new Trace();
    decide(cur, dir, null, peer, buf, off, len, now, false, t);
    return t.explanation();
  }
}
