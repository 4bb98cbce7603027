package io.dctun.firewall.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.packet.IpPacket;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * TcpTracker's transition function, one row per (state, FINs seen, sender, flags). FINs: none,
 * orig (from the originator), resp (from the responder), both. The expected state is a state
 * and its FINs, or INVALID (state unchanged, packet INVALID) or REOPEN (a new connection).
 */
class TcpTrackerTest {

  @ParameterizedTest(name = "{0}/{1} + {3} from {2} -> {4}/{5}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      # normal open: SYN, SYN+ACK, ACK, data both ways
      SYN_SENT    | none | orig | SYN         | SYN_SENT    | none
      SYN_SENT    | none | resp | SYN+ACK     | SYN_RECV    | none
      SYN_RECV    | none | orig | ACK         | ESTABLISHED | none
      ESTABLISHED | none | orig | ACK         | ESTABLISHED | none
      ESTABLISHED | none | resp | ACK+PSH     | ESTABLISHED | none
      ESTABLISHED | none | orig | -           | ESTABLISHED | none
      # retransmissions during the handshake
      SYN_RECV    | none | orig | SYN         | SYN_RECV    | none
      SYN_RECV    | none | resp | SYN+ACK     | SYN_RECV    | none
      # simultaneous open (both sides send SYN) is not followed: the second SYN is out of step
      SYN_SENT    | none | resp | SYN         | INVALID     |
      SYN_RECV    | none | resp | SYN         | INVALID     |
      SYN_RECV    | none | orig | SYN+ACK     | INVALID     |
      # close, originator first
      ESTABLISHED | none | orig | FIN+ACK     | FIN_WAIT    | orig
      FIN_WAIT    | orig | orig | FIN+ACK     | FIN_WAIT    | orig
      FIN_WAIT    | orig | resp | ACK         | FIN_WAIT    | orig
      FIN_WAIT    | orig | resp | FIN+ACK     | LAST_ACK    | both
      LAST_ACK    | both | orig | ACK         | TIME_WAIT   | both
      # close, responder first
      ESTABLISHED | none | resp | FIN+ACK     | FIN_WAIT    | resp
      FIN_WAIT    | resp | resp | FIN         | FIN_WAIT    | resp
      FIN_WAIT    | resp | orig | FIN+ACK     | LAST_ACK    | both
      LAST_ACK    | both | resp | ACK         | TIME_WAIT   | both
      # LAST_ACK waits for a bare ACK; anything else leaves it there
      LAST_ACK    | both | orig | FIN+ACK     | LAST_ACK    | both
      LAST_ACK    | both | resp | SYN+ACK     | LAST_ACK    | both
      # after the close: stragglers pass, the originator's fresh SYN opens a new connection
      TIME_WAIT   | both | resp | ACK         | TIME_WAIT   | both
      TIME_WAIT   | both | orig | SYN         | REOPEN      |
      TIME_WAIT   | both | resp | SYN         | TIME_WAIT   | both
      TIME_WAIT   | both | orig | SYN+ACK     | TIME_WAIT   | both
      CLOSE       | none | orig | SYN         | REOPEN      |
      CLOSE       | none | orig | ACK         | CLOSE       | none
      CLOSE       | none | resp | SYN         | CLOSE       | none
      # RST closes from any state, either side, keeping the FINs seen
      SYN_SENT    | none | resp | RST+ACK     | CLOSE       | none
      SYN_RECV    | none | orig | RST         | CLOSE       | none
      ESTABLISHED | none | resp | RST         | CLOSE       | none
      FIN_WAIT    | orig | orig | RST         | CLOSE       | orig
      TIME_WAIT   | both | orig | RST         | CLOSE       | both
      ESTABLISHED | none | orig | SYN+RST     | CLOSE       | none
      # out of step in the handshake
      SYN_SENT    | none | orig | ACK         | INVALID     |
      SYN_SENT    | none | resp | ACK         | INVALID     |
      SYN_SENT    | none | orig | SYN+ACK     | INVALID     |
      SYN_SENT    | none | resp | FIN+ACK     | INVALID     |
      SYN_RECV    | none | resp | ACK         | INVALID     |
      SYN_RECV    | none | orig | FIN         | INVALID     |
      # a SYN inside an open connection
      ESTABLISHED | none | orig | SYN         | INVALID     |
      ESTABLISHED | none | resp | SYN+ACK     | INVALID     |
      FIN_WAIT    | orig | resp | SYN+ACK     | INVALID     |
      # flag combinations no stack sends: only a SYN among them is refused
      ESTABLISHED | none | orig | SYN+FIN     | INVALID     |
      SYN_SENT    | none | orig | SYN+FIN     | SYN_SENT    | none
      SYN_RECV    | none | orig | FIN+ACK     | ESTABLISHED | none
      ESTABLISHED | none | orig | FIN+ACK+URG+PSH | FIN_WAIT | orig
      """)
  void transition(String state, String fins, String from, String flags, String expected,
      String expectedFins) {
    int next = TcpTracker.next(kind(state) | fins(fins), from.equals("orig"), flags(flags));
    int want = switch (expected) {
      case "INVALID" -> TcpTracker.INVALID;
      case "REOPEN" -> TcpTracker.REOPEN;
      default -> kind(expected) | fins(expectedFins);
    };
    assertThat(name(next)).isEqualTo(name(want));
  }

  @ParameterizedTest(name = "{0} opens a flow: {1}")
  @CsvSource(delimiter = '|', textBlock = """
      SYN         | true
      SYN+PSH     | true
      SYN+FIN     | true
      SYN+ACK     | false
      SYN+RST     | false
      ACK         | false
      RST         | false
      FIN+ACK     | false
      -           | false
      """)
  void onlyALoneSynOpensAFlow(String flags, boolean opens) {
    assertThat(TcpTracker.opens(flags(flags))).isEqualTo(opens);
  }

  private static int kind(String s) {
    return switch (s) {
      case "SYN_SENT" -> TcpTracker.SYN_SENT;
      case "SYN_RECV" -> TcpTracker.SYN_RECV;
      case "ESTABLISHED" -> TcpTracker.ESTABLISHED;
      case "FIN_WAIT" -> TcpTracker.FIN_WAIT;
      case "LAST_ACK" -> TcpTracker.LAST_ACK;
      case "TIME_WAIT" -> TcpTracker.TIME_WAIT;
      case "CLOSE" -> TcpTracker.CLOSE;
      default -> throw new IllegalArgumentException(s);
    };
  }

  private static int fins(String s) {
    return switch (s) {
      case "none" -> 0;
      case "orig" -> TcpTracker.FIN_ORIGINATOR;
      case "resp" -> TcpTracker.FIN_RESPONDER;
      case "both" -> TcpTracker.FIN_ORIGINATOR | TcpTracker.FIN_RESPONDER;
      default -> throw new IllegalArgumentException(s);
    };
  }

  private static int flags(String s) {
    int f = 0;
    if (s.equals("-")) {
      return 0;
    }
    for (String x : s.split("\\+")) {
      f |= switch (x) {
        case "SYN" -> IpPacket.TCP_SYN;
        case "ACK" -> IpPacket.TCP_ACK;
        case "FIN" -> IpPacket.TCP_FIN;
        case "RST" -> IpPacket.TCP_RST;
        case "PSH" -> IpPacket.TCP_PSH;
        case "URG" -> IpPacket.TCP_URG;
        default -> throw new IllegalArgumentException(x);
      };
    }
    return f;
  }

  /** A readable form of a tracker state, so a failing row says what it got. */
  private static String name(int state) {
    if (state == TcpTracker.INVALID) {
      return "INVALID";
    }
    if (state == TcpTracker.REOPEN) {
      return "REOPEN";
    }
    String[] kinds = {"?", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "LAST_ACK",
        "TIME_WAIT", "CLOSE"};
    int k = state & TcpTracker.KIND_MASK;
    int f = state & (TcpTracker.FIN_ORIGINATOR | TcpTracker.FIN_RESPONDER);
    String fins = f == 0 ? "none" : f == TcpTracker.FIN_ORIGINATOR ? "orig"
        : f == TcpTracker.FIN_RESPONDER ? "resp" : "both";
    return (k < kinds.length ? kinds[k] : "?" + k) + "/" + fins;
  }
}
