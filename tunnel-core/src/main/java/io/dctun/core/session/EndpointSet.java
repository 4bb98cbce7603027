package io.dctun.core.session;

import io.dctun.core.status.StatusSink;
import io.dctun.core.transport.Endpoint;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Which of a peer's several configured endpoints packets go to: a sans-I/O state machine, time
 * in, decisions out. The list is in preference order (index 0 is the best) and fixed for the
 * life of the set; per endpoint it keeps when an authenticated packet was last heard from it,
 * when it was last asked (a probe or a handshake initiation sent to it) and the first question
 * it has not answered yet.
 *
 * <pre>
 *   endpoint state:  UNKNOWN --answer--> UP --question unanswered for DOWN_AFTER--> DOWN --answer--> UP
 *                    (before any session the first initiation gets FIRST_CONTACT_DOWN_AFTER: 3 s)
 *                    (aliveSince = first answer after DOWN; a DOWN endpoint forgets it)
 *
 *   every tick:   current DOWN          -> move to the best UP endpoint, else to the next one (fresh chance)
 *                 a better one UP >= hold -> move back to it (hysteresis)
 *                 asks: dctun peer with a session: a probe to every other endpoint every PROBE_INTERVAL,
 *                         and to the current one when it has been quiet that long;
 *                       stock WireGuard peer: a handshake initiation to the current endpoint when data we sent
 *                         got nothing back for SILENCE_SUSPECT, and to a better endpoint every STOCK_PROBE_INTERVAL
 * </pre>
 *
 * <p>Liveness is any authenticated packet from the endpoint (data, keepalive, handshake, probe
 * answer); the set never sees unauthenticated input. A probe to a dctun peer is a control message
 * the peer answers to the address it came from ({@link PathProbe}), so an answer proves the path
 * both ways and moves nobody's endpoint. A stock WireGuard peer answers only handshakes, so its
 * questions are initiations, and a check costs a handshake.
 *
 * <p>Roaming and the list: a peer with one configured endpoint or none has no set, and its
 * endpoint follows the source of its authenticated packets, as WireGuard's does. With a list the
 * list decides: an authenticated packet from an address on it proves that endpoint alive and moves
 * nothing by itself; one from any other address is delivered but only counted ({@code
 * foreign-sources}), because a source the operator did not list is no reason to leave a listed
 * path that answers. The side without a list keeps roaming, and so follows each move at once: the
 * mover sends a keepalive (dctun) or a handshake (stock) down the new path. Probes and their
 * answers never move either side.
 *
 * <p>Flapping: a move away happens only when the current endpoint left a question unanswered for
 * {@link #downAfter}; a move back only to an endpoint that has answered everything asked of it for
 * {@code hold}, and an endpoint that goes DOWN starts that time again. So moves back to any one
 * endpoint are at least {@code hold} apart whatever the links do.
 *
 * <p>Thread-safety: {@link #heard} and {@link #dataSent} are the data paths' (any thread, no lock,
 * no allocation: an array slot written at most once per millisecond); {@link #tick}, {@link
 * #asked} and {@link #report} synchronise on the set.
 */
public final class EndpointSet {
  static final long NEVER = Long.MIN_VALUE;
  private static final long MS = 1_000_000L;
  /** How often a dctun peer's endpoints are probed. */
  public static final long PROBE_INTERVAL = 500 * MS;
  /** A dctun peer's endpoint whose oldest unanswered probe is this old is DOWN: three probes lost. */
  public static final long DCTUN_DOWN_AFTER = 1500 * MS;
  /** A stock peer's endpoint is DOWN when an initiation went unanswered this long (a response takes one round trip). */
  public static final long STOCK_DOWN_AFTER = 1000 * MS;
  /**
   * Before any session: how long the first initiation to an endpoint may go unanswered. Longer
   * than {@link #STOCK_DOWN_AFTER}: nothing flows yet that a move would save, and a peer's first
   * handshake is its slowest (a cold process, a cookie round under load); moving too soon would
   * replace the initiation whose answer is on its way.
   */
  public static final long FIRST_CONTACT_DOWN_AFTER = 3000 * MS;
  /** Stock peer: data sent and nothing heard for this long makes us check the path with a handshake. */
  public static final long SILENCE_SUSPECT = 1000 * MS;
  /** Stock peer: a check of the current endpoint is not repeated sooner than this (one-way traffic). */
  public static final long STOCK_RECHECK = 3000 * MS;
  /** Stock peer: how often a better endpoint than the current one is tried with a handshake. */
  public static final long STOCK_PROBE_INTERVAL = 2500 * MS;
  /** Default hysteresis: how long a better endpoint must have answered everything before we move back. */
  public static final long DEFAULT_HOLD = 5000 * MS;
  /** Longest list accepted (the probes of one tick fit a {@code long} mask). */
  public static final int MAX_ENDPOINTS = 16;
  private static final long TOUCH = MS;

  /** What an endpoint is known to be. */
  public enum State {
    UNKNOWN, UP, DOWN;

    String text() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** What one {@link #tick} asks the peer to do; one instance per set, reused. */
  public static final class Actions {
    /** The new current endpoint's index if the tick moved, else -1. */
    public int movedTo = -1;
    /** Bit i: send a probe to endpoint i (dctun peers with a session). */
    public long probe;
    /** Send a handshake initiation to this endpoint (-1: none). */
    public int initiate = -1;

    private void clear() {
      movedTo = -1;
      probe = 0;
      initiate = -1;
    }

    public boolean probes(int i) {
      return (probe & (1L << i)) != 0;
    }
  }

  private final Endpoint[] endpoints;
  private final boolean dctun;
  private final long hold;
  private final long downAfter;
  private final Actions actions = new Actions();

  // Written by the data paths.
  private final AtomicLongArray lastHeard;
  private volatile long unansweredDataSince = NEVER;

  // Guarded by this.
  private volatile int current;
  private long currentSince = NEVER;
  private final long[] lastAsked;
  private final long[] question;
  private final long[] aliveSince;
  private final long[] downAt;
  private final State[] state;
  private long lastCheck = NEVER;
  private long moves;
  private long movesBack;
  private long probesSent;
  private long handshakeProbes;
  private long checks;

  /**
   * @param endpoints in preference order, 2..{@link #MAX_ENDPOINTS}, no duplicates
   * @param dctun whether the peer runs dctun and answers probes; otherwise only handshakes are used
   * @param hold how long a better endpoint must be UP before we move back to it (nanoseconds)
   */
  public EndpointSet(List<? extends Endpoint> endpoints, boolean dctun, long hold) {
    if (endpoints.size() < 2 || endpoints.size() > MAX_ENDPOINTS) {
      throw new IllegalArgumentException("an endpoint set holds 2.." + MAX_ENDPOINTS + " endpoints, got " + endpoints.size());
    }
    if (hold < 0) {
      throw new IllegalArgumentException("hold must be >= 0, got " + hold);
    }
    this.endpoints = endpoints.toArray(new Endpoint[0]);
    for (int i = 0; i < this.endpoints.length; i++) {
      if (this.endpoints[i] == null) {
        throw new IllegalArgumentException("endpoint " + i + " is null");
      }
      for (int j = 0; j < i; j++) {
        if (this.endpoints[j].equals(this.endpoints[i])) {
          throw new IllegalArgumentException("endpoint " + this.endpoints[i] + " is listed twice");
        }
      }
    }
    int n = this.endpoints.length;
    this.dctun = dctun;
    this.hold = hold;
    this.downAfter = dctun ? DCTUN_DOWN_AFTER : STOCK_DOWN_AFTER;
    this.lastHeard = new AtomicLongArray(n);
    this.lastAsked = new long[n];
    this.question = new long[n];
    this.aliveSince = new long[n];
    this.downAt = new long[n];
    this.state = new State[n];
    for (int i = 0; i < n; i++) {
      lastHeard.set(i, NEVER);
      lastAsked[i] = NEVER;
      question[i] = NEVER;
      aliveSince[i] = NEVER;
      downAt[i] = NEVER;
      state[i] = State.UNKNOWN;
    }
  }

  public int size() {
    return endpoints.length;
  }

  public Endpoint endpoint(int i) {
    return endpoints[i];
  }

  /** The index packets go to now. */
  public int current() {
    return current;
  }

  public Endpoint currentEndpoint() {
    return endpoints[current];
  }

  public boolean dctun() {
    return dctun;
  }

  /** How long a UP endpoint's question may stay unanswered before it is DOWN. */
  public long downAfter() {
    return downAfter;
  }

  /** The index of {@code e} in the list, or -1. Allocation-free (the data path calls it per packet). */
  public int indexOf(Endpoint e) {
    if (e == null) {
      return -1;
    }
    Endpoint[] eps = endpoints;
    if (eps[current].equals(e)) {
      return current;
    }
    for (int i = 0; i < eps.length; i++) {
      if (eps[i].equals(e)) {
        return i;
      }
    }
    return -1;
  }

  // ------------------------------------------------------------------ data paths

  /** An authenticated packet came from endpoint {@code i} at {@code now}. */
  public void heard(int i, long now) {
    long lh = lastHeard.get(i);
    if (lh == NEVER || now - lh >= TOUCH) {
      lastHeard.set(i, now);
    }
    if (i == current && unansweredDataSince != NEVER) {
      unansweredDataSince = NEVER;
    }
  }

  /** Data (not a keepalive) went to the current endpoint: a stock peer's answer is expected. */
  public void dataSent(long now) {
    if (!dctun && unansweredDataSince == NEVER) {
      unansweredDataSince = now;
    }
  }

  // ------------------------------------------------------------------ questions and time

  /** A question (probe or handshake initiation) went to endpoint {@code i} at {@code now}. */
  public synchronized void asked(int i, long now) {
    lastAsked[i] = now;
    if (question[i] == NEVER) {
      question[i] = now;
    }
  }

  /**
   * Moves the state on to {@code now} and says what is due; the caller carries the actions out
   * (and reports questions it sent through {@link #asked}).
   *
   * @param session whether a keypair is usable for sending (probes need one)
   * @param handshakeInFlight whether an initiation is awaiting its response (a second would replace it)
   * @return this set's reused {@link Actions}
   */
  public synchronized Actions tick(long now, boolean session, boolean handshakeInFlight) {
    Actions a = actions;
    a.clear();
    int n = endpoints.length;
    if (currentSince == NEVER) {
      currentSince = now;
    }
    long deadline = session ? downAfter : Math.max(downAfter, FIRST_CONTACT_DOWN_AFTER);
    for (int i = 0; i < n; i++) {
      update(i, now, deadline);
    }
    int cur = current;
    if (state[cur] == State.DOWN) {
      int to = -1;
      for (int i = 0; i < n; i++) {
        if (i != cur && state[i] == State.UP) {
          to = i;
          break;
        }
      }
      if (to < 0) {
        // Nothing known to answer: try the next one, with a clean slate, so that "first that answers" finds it.
        to = (cur + 1) % n;
        question[to] = NEVER;
        if (state[to] == State.DOWN) {
          state[to] = State.UNKNOWN;
        }
      }
      moveTo(to, now, a);
    } else {
      for (int i = 0; i < cur; i++) {
        if (state[i] == State.UP && now - aliveSince[i] >= hold) {
          movesBack++;
          moveTo(i, now, a);
          break;
        }
      }
    }
    cur = current;
    if (dctun && session) {
      long lhCur = lastHeard.get(cur);
      for (int i = 0; i < n; i++) {
        boolean quiet = i != cur || lhCur == NEVER || now - lhCur >= PROBE_INTERVAL;
        if (quiet && (lastAsked[i] == NEVER || now - lastAsked[i] >= PROBE_INTERVAL)) {
          a.probe |= 1L << i;
          probesSent++;
          asked(i, now);
        }
      }
    } else if (!dctun && session && !handshakeInFlight && a.movedTo < 0) {
      long since = unansweredDataSince;
      if (question[cur] == NEVER && since != NEVER && now - since >= SILENCE_SUSPECT
          && (lastCheck == NEVER || now - lastCheck >= STOCK_RECHECK)) {
        lastCheck = now;
        checks++;
        a.initiate = cur;
      } else if (question[cur] == NEVER) {
        for (int i = 0; i < cur; i++) {
          if (lastAsked[i] == NEVER || now - lastAsked[i] >= STOCK_PROBE_INTERVAL) {
            handshakeProbes++; // a stock peer is asked by a handshake, never by a control probe
            a.initiate = i;
            break;
          }
        }
      }
    }
    return a;
  }

  private void update(int i, long now, long deadline) {
    long lh = lastHeard.get(i);
    // A packet heard up to TOUCH before the question may be its answer (the data path writes at that grain).
    if (question[i] != NEVER && lh != NEVER && lh + TOUCH > question[i]) {
      question[i] = NEVER;
    }
    if (question[i] != NEVER && now - question[i] >= deadline) {
      if (state[i] != State.DOWN) {
        state[i] = State.DOWN;
        downAt[i] = now;
        aliveSince[i] = NEVER;
      }
    } else if (lh != NEVER && (downAt[i] == NEVER || lh > downAt[i])) {
      if (state[i] != State.UP) {
        state[i] = State.UP;
        aliveSince[i] = lh;
      }
    }
  }

  private void moveTo(int to, long now, Actions a) {
    current = to;
    currentSince = now;
    unansweredDataSince = NEVER;
    moves++;
    a.movedTo = to;
  }

  // ------------------------------------------------------------------ status

  public synchronized State state(int i) {
    return state[i];
  }

  /** Moves from one endpoint to another, in all. */
  public synchronized long moves() {
    return moves;
  }

  /** Moves back to a better endpoint after its hold time. */
  public synchronized long movesBack() {
    return movesBack;
  }

  /** Authenticated control probes sent to a dctun peer's endpoints. */
  public synchronized long probesSent() {
    return probesSent;
  }

  /** Handshake initiations sent to a stock peer's better endpoint, to see whether it answers again. */
  public synchronized long handshakeProbes() {
    return handshakeProbes;
  }

  /** Handshakes sent to check a stock peer's current endpoint. */
  public synchronized long checks() {
    return checks;
  }

  /**
   * {@code endpoint-moves}, {@code endpoint-moves-back}, {@code endpoint-probes} (control
   * probes, dctun peers), {@code endpoint-handshake-probes} (stock peers), {@code endpoint-checks},
   * and per endpoint {@code path.I.address} and {@code path.I.state}.
   */
  public synchronized void report(StatusSink s) {
    s.counter("endpoint-moves", moves);
    s.counter("endpoint-moves-back", movesBack);
    s.counter("endpoint-probes", probesSent);
    s.counter("endpoint-handshake-probes", handshakeProbes);
    s.counter("endpoint-checks", checks);
    for (int i = 0; i < endpoints.length; i++) {
      StatusSink p = s.scope("path", Integer.toString(i));
      p.text("address", endpoints[i].toString());
      p.text("state", state[i].text() + (i == current ? " current" : ""));
    }
  }

  /** One line: {@code 198.18.0.2:51820 up current, 198.18.1.2:51820 down}. */
  public synchronized String summary() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < endpoints.length; i++) {
      if (i > 0) {
        b.append(", ");
      }
      b.append(endpoints[i]).append(' ').append(state[i].text());
      if (i == current) {
        b.append(" current");
      }
    }
    return b.toString();
  }

  @Override
  public String toString() {
    return "EndpointSet[" + summary() + "]";
  }
}
