package io.dctun.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The VRRP I/O thread's inbox stays bounded however often trackers report while the thread is
 * stuck (the ConcurrentLinkedQueue before it held one entry per report, forever), and the thread
 * sees each condition's latest level.
 */
class CommandInboxTest {

  @Test
  void reportsWhileTheConsumerIsStuckHoldOneEntryPerConditionAndOneAnnouncement() {
    CommandInbox inbox = new CommandInbox();
    for (int i = 0; i < 100_000; i++) {
      inbox.condition("track:" + (i % 3), i % 2 == 0);
      if (i % 10 == 0) {
        inbox.announce();
      }
    }
    assertThat(inbox.size()).isEqualTo(4);
    Map<String, Boolean> seen = new TreeMap<>();
    AtomicInteger announced = new AtomicInteger();
    inbox.drain(seen::put, announced::incrementAndGet);
    // the last reports: i = 99_997 (track:1, false), 99_998 (track:2, true), 99_999 (track:0, false)
    assertThat(seen).containsExactly(Map.entry("track:0", false), Map.entry("track:1", false),
        Map.entry("track:2", true));
    assertThat(announced).hasValue(1);
    assertThat(inbox.size()).isZero();
    inbox.drain((c, h) -> seen.put("again", true), announced::incrementAndGet);
    assertThat(seen).doesNotContainKey("again");
    assertThat(announced).hasValue(1);
  }

  @Test
  void aReportArrivingDuringADrainIsKeptForTheNext() {
    CommandInbox inbox = new CommandInbox();
    inbox.condition("a", false);
    List<String> order = new ArrayList<>();
    inbox.drain((c, h) -> {
      order.add(c + "=" + h);
      inbox.condition("a", true); // another thread reports while the I/O thread applies
    }, () -> order.add("announce"));
    assertThat(order).containsExactly("a=false");
    inbox.drain((c, h) -> order.add(c + "=" + h), () -> order.add("announce"));
    assertThat(order).containsExactly("a=false", "a=true");
  }
}
