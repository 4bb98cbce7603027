package io.dctun.core.transport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A TCP/TLS transport's counters, as an embedding program prints them. */
class StreamCountersTest {

  @Test
  void printsEveryCounterWithQueueFullInsideSendErrors() {
    StreamCounters c = new StreamCounters();
    assertThat(c).hasToString("StreamCounters[opened=0, refused=0, timed-out=0, send-errors=0 (queue-full 0), framing-errors=0]");

    c.opened();
    c.opened();
    c.sendFailed();
    c.queueFull();
    c.framingError();
    c.timedOut();
    c.refused(LoggerFactory.getLogger(StreamCountersTest.class), "tcp", StreamCounters.MAX_CONNECTIONS);
    assertThat(c).hasToString("StreamCounters[opened=2, refused=1, timed-out=1, send-errors=2 (queue-full 1), framing-errors=1]");
    assertThat(c.sendErrors()).isEqualTo(2);
  }
}
