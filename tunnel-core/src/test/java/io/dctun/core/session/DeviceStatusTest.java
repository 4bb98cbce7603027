package io.dctun.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusText;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The device reports through the one status interface; the text renderer prints what scripts read. */
class DeviceStatusTest {

  /** Records each fact with its kind, under its full name. */
  static final class Recording implements StatusSink {
    final Map<String, String> facts;
    final String prefix;

    Recording() {
      this(new LinkedHashMap<>(), "");
    }

    Recording(Map<String, String> facts, String prefix) {
      this.facts = facts;
      this.prefix = prefix;
    }

    @Override
    public void text(String name, String value) {
      facts.put(prefix + name, "text:" + value);
    }

    @Override
    public void counter(String name, long value) {
      facts.put(prefix + name, "counter:" + value);
    }

    @Override
    public void gauge(String name, long value) {
      facts.put(prefix + name, "gauge:" + value);
    }

    @Override
    public StatusSink scope(String kind, String id) {
      return new Recording(facts, prefix + kind + "." + id + ".");
    }

    @Override
    public StatusSink section(String name) {
      return new Recording(facts, prefix + name + ".");
    }
  }

  @Test
  void peersControlAndEveryDropReasonAreReportedWithTheirKinds() {
    Pair p = new Pair(true);
    byte[] ping = Pair.ping("198.18.1.10", "198.18.2.10", 1);
    p.send(p.a, ping);
    p.pump();
    p.b.inbound(new byte[3], 0, 3, Pair.EP_A, p.clock.now);

    Recording r = new Recording();
    p.b.report(r);
    String n = p.aAtB.name();
    assertThat(r.facts).containsEntry("peer", "text:" + n + " " + p.keyA.publicKey())
        .containsEntry("peer." + n + ".endpoint", "text:198.18.0.1:51820")
        .containsEntry("peer." + n + ".rx-bytes", "counter:" + p.aAtB.rxBytes())
        .containsEntry("drop.UNKNOWN_MESSAGE_TYPE", "counter:1")
        .containsEntry("control.sent", "counter:0");
    assertThat(p.aAtB.rxBytes()).isPositive();
    assertThat(r.facts.get("peer." + n + ".latest-handshake-unix")).startsWith("gauge:");
    for (DropReason d : DropReason.values()) {
      assertThat(r.facts).containsKey("drop." + d.name());
    }
  }

  @Test
  void theTextFormIsOneKeyValueLinePerFact() {
    Pair p = new Pair(true);
    String text = StatusText.of(p.a);
    String n = p.bAtA.name();
    assertThat(text).contains("peer " + n + " " + p.keyB.publicKey() + "\n")
        .contains("peer." + n + ".endpoint 198.18.0.2:51820\n")
        .contains("drop.NO_ROUTE 0\n");
    StatusText t = new StatusText();
    t.section("a").scope("rule", "x").text("why", "two\nlines");
    assertThat(t.toString()).isEqualTo("a.rule.x.why two lines\n");
  }
}
