package io.dctun.core.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AllowedIpsTest {

  private final AllowedIps<String> table = new AllowedIps<>();

  private static byte[] v4(int a, int b, int c, int d) {
    return new byte[] {(byte) a, (byte) b, (byte) c, (byte) d};
  }

  private String lookup(String addr) {
    byte[] a = Prefix.parse(addr).address();
    return table.lookup(a, 0, a.length);
  }

  private void put(String cidr, String value) {
    table.insert(Prefix.parse(cidr), value);
  }

  @Test
  void emptyTableMatchesNothing() {
    assertThat(lookup("10.0.0.1")).isNull();
    assertThat(lookup("::1")).isNull();
    assertThat(table.lookupV4(0)).isNull();
    assertThat(table.size()).isZero();
  }

  @Test
  void longestPrefixWins() {
    put("10.0.0.0/8", "a");
    put("10.1.0.0/16", "b");
    put("10.1.2.0/24", "c");
    put("10.1.2.3/32", "d");
    assertThat(lookup("10.9.9.9")).isEqualTo("a");
    assertThat(lookup("10.1.9.9")).isEqualTo("b");
    assertThat(lookup("10.1.2.9")).isEqualTo("c");
    assertThat(lookup("10.1.2.3")).isEqualTo("d");
    assertThat(lookup("11.0.0.0")).isNull();
    assertThat(table.size()).isEqualTo(4);
  }

  @Test
  void defaultRouteMatchesEverythingInItsFamilyOnly() {
    put("0.0.0.0/0", "v4default");
    assertThat(lookup("1.2.3.4")).isEqualTo("v4default");
    assertThat(lookup("255.255.255.255")).isEqualTo("v4default");
    assertThat(lookup("::")).isNull();
    put("::/0", "v6default");
    assertThat(lookup("2001:db8::1")).isEqualTo("v6default");
    assertThat(lookup("1.2.3.4")).isEqualTo("v4default");
  }

  @Test
  void hostRoutesAt32And128() {
    put("192.0.2.1/32", "h4");
    put("2001:db8::1/128", "h6");
    assertThat(lookup("192.0.2.1")).isEqualTo("h4");
    assertThat(lookup("192.0.2.0")).isNull();
    assertThat(lookup("192.0.2.3")).isNull();
    assertThat(lookup("2001:db8::1")).isEqualTo("h6");
    assertThat(lookup("2001:db8::")).isNull();
    assertThat(lookup("2001:db8::3")).isNull();
  }

  @Test
  void insertReplacesSamePrefixAndMasksHostBits() {
    assertThat(table.insert(v4(10, 1, 2, 3), 8, "a")).isNull();
    assertThat(table.insert(v4(10, 200, 0, 0), 8, "b")).isEqualTo("a");
    assertThat(table.size()).isEqualTo(1);
    assertThat(lookup("10.0.0.0")).isEqualTo("b");
    assertThat(table.entries("b")).containsExactly(Prefix.parse("10.0.0.0/8"));
  }

  @Test
  void readsAddressFromPacketBufferAtOffset() {
    put("198.18.0.0/15", "site");
    put("fd00::/8", "ula");
    byte[] buf = new byte[64];
    System.arraycopy(v4(198, 19, 7, 7), 0, buf, 33, 4);
    assertThat(table.lookup(buf, 33, 4)).isEqualTo("site");
    byte[] v6 = Prefix.parse("fd12::9").address();
    System.arraycopy(v6, 0, buf, 7, 16);
    assertThat(table.lookup(buf, 7, 16)).isEqualTo("ula");
    assertThat(table.lookupV4(0xC6130707)).isEqualTo("site");
  }

  @Test
  void rejectsBadAddressLengths() {
    assertThatThrownBy(() -> table.lookup(new byte[8], 0, 8))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("8");
    assertThatThrownBy(() -> table.insert(new byte[4], 33, "x"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("33");
    assertThatThrownBy(() -> table.insert(new byte[3], 8, "x"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> table.insert(new byte[4], 8, null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void removeTakesOnlyTheExactPrefix() {
    put("10.0.0.0/8", "a");
    put("10.1.0.0/16", "b");
    put("10.1.2.0/24", "c");
    assertThat(table.remove(Prefix.parse("10.1.0.0/16"))).isEqualTo("b");
    assertThat(table.remove(Prefix.parse("10.1.0.0/16"))).isNull();
    assertThat(table.remove(Prefix.parse("10.2.0.0/16"))).isNull();
    assertThat(table.remove(Prefix.parse("10.0.0.0/7"))).isNull();
    assertThat(lookup("10.1.9.9")).isEqualTo("a");
    assertThat(lookup("10.1.2.9")).isEqualTo("c");
    assertThat(table.size()).isEqualTo(2);
    assertThat(table.remove(Prefix.parse("10.0.0.0/8"))).isEqualTo("a");
    assertThat(lookup("10.1.9.9")).isNull();
    assertThat(lookup("10.1.2.9")).isEqualTo("c");
    assertThat(table.remove(Prefix.parse("10.1.2.0/24"))).isEqualTo("c");
    assertThat(table.size()).isZero();
    assertThat(lookup("10.1.2.9")).isNull();
  }

  @Test
  void removeAllDropsEveryPrefixOfAPeer() {
    put("10.0.0.0/8", "peer1");
    put("10.1.0.0/16", "peer2");
    put("fd00::/8", "peer1");
    put("192.168.0.0/16", "peer1");
    assertThat(table.entries("peer1")).containsExactly(
        Prefix.parse("10.0.0.0/8"), Prefix.parse("192.168.0.0/16"), Prefix.parse("fd00::/8"));
    assertThat(table.removeAll("peer1")).isEqualTo(3);
    assertThat(table.entries("peer1")).isEmpty();
    assertThat(table.size()).isEqualTo(1);
    assertThat(lookup("10.1.0.1")).isEqualTo("peer2");
    assertThat(lookup("10.2.0.1")).isNull();
    assertThat(lookup("fd00::1")).isNull();
  }

  @Test
  void strideBoundariesAt16And24AreExact() {
    put("10.1.0.0/16", "16");
    put("10.1.2.0/23", "23");
    put("10.1.2.0/24", "24");
    put("10.1.2.128/25", "25");
    put("10.1.0.0/17", "17");
    assertThat(lookup("10.1.2.129")).isEqualTo("25");
    assertThat(lookup("10.1.2.1")).isEqualTo("24");
    assertThat(lookup("10.1.3.1")).isEqualTo("23");
    assertThat(lookup("10.1.4.1")).isEqualTo("17");
    assertThat(lookup("10.1.128.1")).isEqualTo("16");
    table.remove(Prefix.parse("10.1.2.0/24"));
    assertThat(lookup("10.1.2.1")).isEqualTo("23");
    assertThat(lookup("10.1.2.129")).isEqualTo("25");
    table.remove(Prefix.parse("10.1.2.128/25"));
    assertThat(lookup("10.1.2.129")).isEqualTo("23");
    table.remove(Prefix.parse("10.1.2.0/23"));
    table.remove(Prefix.parse("10.1.0.0/17"));
    assertThat(lookup("10.1.2.129")).isEqualTo("16");
    put("10.1.2.129/32", "host");
    assertThat(lookup("10.1.2.129")).isEqualTo("host");
    assertThat(lookup("10.1.2.128")).isEqualTo("16");
  }

  @Test
  void replacingAValueIsSeenByLookups() {
    put("10.0.0.0/8", "old");
    put("10.0.0.0/8", "new");
    assertThat(lookup("10.2.3.4")).isEqualTo("new");
    assertThat(table.entries("old")).isEmpty();
  }

  @Test
  void clearEmptiesBothFamilies() {
    put("10.0.0.0/8", "a");
    put("fd00::/8", "b");
    table.clear();
    assertThat(table.size()).isZero();
    assertThat(lookup("10.0.0.1")).isNull();
    assertThat(lookup("fd00::1")).isNull();
  }

  @Test
  void matchesLinearScanReferenceForIpv4() {
    compareWithReference(4, 11);
  }

  @Test
  void matchesLinearScanReferenceForIpv6() {
    compareWithReference(16, 12);
  }

  /** A plain list of prefixes, scanned in full for every lookup. */
  private static final class Reference {
    final Map<Prefix, String> map = new LinkedHashMap<>();

    String lookup(byte[] addr) {
      String best = null;
      int bestLen = -1;
      for (Map.Entry<Prefix, String> e : map.entrySet()) {
        Prefix p = e.getKey();
        if (p.length() > bestLen && p.contains(addr)) {
          best = e.getValue();
          bestLen = p.length();
        }
      }
      return best;
    }
  }

  private static void compareWithReference(int addrLen, long seed) {
    Random rnd = new Random(seed);
    for (int round = 0; round < 4; round++) {
      AllowedIps<String> trie = new AllowedIps<>();
      Reference ref = new Reference();
      // Addresses drawn near a few bases so prefixes overlap and nest a lot.
      List<byte[]> bases = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        bases.add(randomAddress(rnd, addrLen, null));
      }
      List<Prefix> inserted = new ArrayList<>();
      for (int i = 0; i < 3000; i++) {
        byte[] a = randomAddress(rnd, addrLen, bases.get(rnd.nextInt(bases.size())));
        int len = randomLength(rnd, addrLen * 8);
        String value = "peer" + rnd.nextInt(40);
        Prefix p = Prefix.of(a, len);
        String expectedOld = ref.map.put(p, value);
        assertThat(trie.insert(a, len, value)).as("insert %s", p).isEqualTo(expectedOld);
        inserted.add(p);
        if (rnd.nextInt(5) == 0) {
          Prefix victim = inserted.get(rnd.nextInt(inserted.size()));
          assertThat(trie.remove(victim)).as("remove %s", victim)
              .isEqualTo(ref.map.remove(victim));
        }
      }
      assertThat(trie.size()).isEqualTo(ref.map.size());
      checkLookups(rnd, trie, ref, bases, addrLen);

      String doomed = "peer" + rnd.nextInt(40);
      List<Prefix> expectedEntries = new ArrayList<>();
      ref.map.forEach((p, v) -> {
        if (v.equals(doomed)) {
          expectedEntries.add(p);
        }
      });
      assertThat(trie.entries(doomed)).containsExactlyInAnyOrderElementsOf(expectedEntries);
      assertThat(trie.removeAll(doomed)).isEqualTo(expectedEntries.size());
      ref.map.values().removeIf(doomed::equals);
      assertThat(trie.size()).isEqualTo(ref.map.size());
      checkLookups(rnd, trie, ref, bases, addrLen);

      // Remove everything in random order; the table must end empty and consistent.
      List<Prefix> all = new ArrayList<>(ref.map.keySet());
      Collections.shuffle(all, rnd);
      for (int i = 0; i < all.size(); i++) {
        Prefix p = all.get(i);
        assertThat(trie.remove(p)).isEqualTo(ref.map.remove(p));
        if (i % 500 == 0) {
          checkLookups(rnd, trie, ref, bases, addrLen);
        }
      }
      assertThat(trie.size()).isZero();
      checkLookups(rnd, trie, ref, bases, addrLen);

      // Refill the emptied table: freed internal storage must come back clean.
      for (int i = 0; i < 500; i++) {
        byte[] a = randomAddress(rnd, addrLen, bases.get(rnd.nextInt(bases.size())));
        int len = randomLength(rnd, addrLen * 8);
        String value = "again" + rnd.nextInt(10);
        assertThat(trie.insert(a, len, value)).isEqualTo(ref.map.put(Prefix.of(a, len), value));
      }
      checkLookups(rnd, trie, ref, bases, addrLen);
    }
  }

  private static void checkLookups(Random rnd, AllowedIps<String> trie, Reference ref,
      List<byte[]> bases, int addrLen) {
    byte[] buf = new byte[addrLen + 3];
    for (int i = 0; i < 2000; i++) {
      byte[] a = randomAddress(rnd, addrLen, rnd.nextBoolean()
          ? bases.get(rnd.nextInt(bases.size())) : null);
      System.arraycopy(a, 0, buf, 3, addrLen);
      String expected = ref.lookup(a);
      assertThat(trie.lookup(buf, 3, addrLen)).as("lookup %s", Prefix.of(a, addrLen * 8))
          .isEqualTo(expected);
      if (addrLen == 4) {
        int asInt = ((a[0] & 0xFF) << 24) | ((a[1] & 0xFF) << 16) | ((a[2] & 0xFF) << 8)
            | (a[3] & 0xFF);
        assertThat(trie.lookupV4(asInt)).isEqualTo(expected);
      }
    }
  }

  /** Random address; near {@code base} it keeps a random number of its leading bits. */
  private static byte[] randomAddress(Random rnd, int addrLen, byte[] base) {
    byte[] a = new byte[addrLen];
    rnd.nextBytes(a);
    if (base != null) {
      int keep = rnd.nextInt(addrLen * 8 + 1);
      for (int bit = 0; bit < keep; bit++) {
        int mask = 0x80 >>> (bit & 7);
        a[bit >>> 3] = (byte) ((a[bit >>> 3] & ~mask) | (base[bit >>> 3] & mask));
      }
    }
    return a;
  }

  private static int randomLength(Random rnd, int maxBits) {
    switch (rnd.nextInt(10)) {
      case 0:
        return 0;
      case 1:
        return maxBits;
      default:
        return rnd.nextInt(maxBits + 1);
    }
  }
}
