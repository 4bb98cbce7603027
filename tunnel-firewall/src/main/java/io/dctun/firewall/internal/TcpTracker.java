package io.dctun.firewall.internal;

import io.dctun.core.packet.IpPacket;

/**
 * The TCP state machine of connection tracking, as a pure function: (state, direction, flags)
 * to the next state. No table, no time, no packet: {@link ConnTrack} looks the flow up, asks
 * here, and stores the answer with the state's timeout.
 *
 * <p>A reduced nf_conntrack machine (no sequence or window tracking):
 *
 * <pre>
 *   (no flow) --SYN from originator (see opens)--> SYN_SENT
 *   SYN_SENT    --SYN again (originator)--------> SYN_SENT
 *               --SYN+ACK (responder)-----------> SYN_RECV
 *               --anything else-----------------> INVALID
 *   SYN_RECV    --ACK, no SYN (originator)------> ESTABLISHED     (the flow becomes assured)
 *               --SYN again / SYN+ACK again-----> SYN_RECV
 *               --anything else-----------------> INVALID
 *   ESTABLISHED --FIN (either side)-------------> FIN_WAIT        (that side's FIN recorded)
 *   FIN_WAIT    --FIN (the other side)----------> LAST_ACK
 *   ESTABLISHED, FIN_WAIT --any SYN-------------> INVALID
 *   LAST_ACK    --ACK, no FIN, no SYN-----------> TIME_WAIT
 *   TIME_WAIT, CLOSE --SYN, no ACK (originator)-> REOPEN          (port reuse: a new connection)
 *   any state   --RST---------------------------> CLOSE
 *   otherwise the state stays.
 * </pre>
 *
 * <pre>
 * state: kind:4 | FIN seen from the originator:1 | FIN seen from the responder:1
 * </pre>
 *
 * Kinds are numbered as in {@link ConnTrack}'s state word. Thread-safety: stateless.
 */
public final class TcpTracker {
  public static final int SYN_SENT = 1;
  public static final int SYN_RECV = 2;
  public static final int ESTABLISHED = 3;
  public static final int FIN_WAIT = 4;
  public static final int LAST_ACK = 5;
  public static final int TIME_WAIT = 6;
  public static final int CLOSE = 7;

  public static final int KIND_MASK = 0xF;
  public static final int FIN_ORIGINATOR = 1 << 4;
  public static final int FIN_RESPONDER = 1 << 5;

  /** The segment is out of step with the flow: the state stays, the packet is INVALID. */
  public static final int INVALID = -1;
  /** A fresh SYN on the tuple of a closed connection: forget the flow, treat it as new. */
  public static final int REOPEN = -2;

  private TcpTracker() {}

  /** Whether a segment with these flags may start a flow: a SYN without ACK or RST. */
  public static boolean opens(int flags) {
    return (flags & (IpPacket.TCP_SYN | IpPacket.TCP_ACK | IpPacket.TCP_RST)) == IpPacket.TCP_SYN;
  }

  /**
   * The state after a segment with TCP {@code flags} sent by the originator ({@code
   * fromOriginator}) or the responder; {@link #INVALID} or {@link #REOPEN} otherwise.
   */
  public static int next(int state, boolean fromOriginator, int flags) {
    int kind = state & KIND_MASK;
    int fins = state & (FIN_ORIGINATOR | FIN_RESPONDER);
    boolean syn = (flags & IpPacket.TCP_SYN) != 0;
    boolean ack = (flags & IpPacket.TCP_ACK) != 0;
    boolean fin = (flags & IpPacket.TCP_FIN) != 0;
    if ((flags & IpPacket.TCP_RST) != 0) {
      return CLOSE | fins;
    }
    switch (kind) {
      case SYN_SENT:
        if (fromOriginator && syn && !ack) {
          return state;
        }
        if (!fromOriginator && syn && ack) {
          return SYN_RECV | fins;
        }
        return INVALID;
      case SYN_RECV:
        if (fromOriginator && ack && !syn) {
          return ESTABLISHED | fins;
        }
        // Besides the final ACK, only a retransmitted SYN or SYN+ACK.
        return syn && ack != fromOriginator ? state : INVALID;
      case ESTABLISHED:
      case FIN_WAIT:
        if (syn) {
          return INVALID;
        }
        if (!fin) {
          return state;
        }
        fins |= fromOriginator ? FIN_ORIGINATOR : FIN_RESPONDER;
        return (fins == (FIN_ORIGINATOR | FIN_RESPONDER) ? LAST_ACK : FIN_WAIT) | fins;
      case LAST_ACK:
        return ack && !fin && !syn ? TIME_WAIT | fins : state;
      default: // TIME_WAIT, CLOSE
        return fromOriginator && syn && !ack ? REOPEN : state;
    }
  }
}
