package io.dctun.core.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PrefixTest {

  @Test
  void parsesIpv4Cidr() {
    Prefix p = Prefix.parse("198.18.0.0/15");
    assertThat(p.isIpv4()).isTrue();
    assertThat(p.length()).isEqualTo(15);
    assertThat(p.address()).containsExactly(198, 18, 0, 0);
    assertThat(p.isCanonical()).isTrue();
    assertThat(p).hasToString("198.18.0.0/15");
  }

  @Test
  void parsesIpv6Cidr() {
    Prefix p = Prefix.parse("fd00::/8");
    assertThat(p.isIpv4()).isFalse();
    assertThat(p.addressLength()).isEqualTo(16);
    assertThat(p.length()).isEqualTo(8);
    assertThat(p).hasToString("fd00::/8");
  }

  @Test
  void masksHostBitsAndReportsNonCanonical() {
    Prefix p = Prefix.parse("10.1.2.3/8");
    assertThat(p).hasToString("10.0.0.0/8");
    assertThat(p.isCanonical()).isFalse();
    assertThat(p).isEqualTo(Prefix.parse("10.0.0.0/8"));
    Prefix q = Prefix.parse("fd12:3456::1/16");
    assertThat(q).hasToString("fd12::/16");
    assertThat(q.isCanonical()).isFalse();
  }

  @Test
  void bareAddressIsHostPrefix() {
    assertThat(Prefix.parse("10.0.0.1")).hasToString("10.0.0.1/32");
    assertThat(Prefix.parse("::1")).hasToString("::1/128");
  }

  @Test
  void formatsIpv6InRfc5952Form() {
    assertThat(Prefix.parse("2001:0DB8:0:0:0:0:0:1/128")).hasToString("2001:db8::1/128");
    assertThat(Prefix.parse("2001:db8:0:1:0:0:0:1/128")).hasToString("2001:db8:0:1::1/128");
    assertThat(Prefix.parse("2001:0:0:1:0:0:0:1/128")).hasToString("2001:0:0:1::1/128");
    assertThat(Prefix.parse("2001:db8:0:0:1:0:0:1/128")).hasToString("2001:db8::1:0:0:1/128");
    assertThat(Prefix.parse("1:0:2:3:4:5:6:7/128")).hasToString("1:0:2:3:4:5:6:7/128");
    assertThat(Prefix.parse("::/0")).hasToString("::/0");
    assertThat(Prefix.parse("::ffff:10.1.2.3/128")).hasToString("::ffff:a01:203/128");
    assertThat(Prefix.parse("1::/16")).hasToString("1::/16");
  }

  @Test
  void ipv6ParserAgreesWithJdkOnRandomAddresses() throws Exception {
    Random rnd = new Random(5952);
    for (int i = 0; i < 2000; i++) {
      byte[] a = new byte[16];
      for (int k = 0; k < 16; k += 2) {
        if (rnd.nextInt(3) > 0) {
          a[k] = (byte) rnd.nextInt(256);
          a[k + 1] = (byte) rnd.nextInt(256);
        }
      }
      Prefix p = Prefix.of(a, 128);
      String text = p.toString();
      Prefix back = Prefix.parse(text);
      assertThat(back).as(text).isEqualTo(p);
      String addr = text.substring(0, text.indexOf('/'));
      assertThat(InetAddress.getByName(addr).getAddress()).as(text).isEqualTo(a);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0/8", "10.0.0.0.0/8",
      "256.0.0.0/8", "10.0.0.-1/8", "10.0.0.01/8", "10.0.0.0/08", "10.0.0.0/+8", "a.b.c.d/8",
      "fd00::/129", "fd00:::/8", ":fd00::/8", "fd00::1::/8", "1:2:3:4:5:6:7:8:9/128",
      "1:2:3:4:5:6:7/128", "12345::/16", "fe80::1%eth0/64", "g::/8", "1:2:3:4:5:6:7:8::/128",
      "::1.2.3/128", "1:2:3:4:5:6:7:1.2.3.4/128", "fd00::/-1", "10.0.0.0/8/8"})
  void rejectsBadTextNamingIt(String bad) {
    assertThatThrownBy(() -> Prefix.parse(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + bad + "'");
  }

  @Test
  void rejectsBadRawInput() {
    assertThatThrownBy(() -> Prefix.of(new byte[5], 8))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("5");
    assertThatThrownBy(() -> Prefix.of(new byte[4], 33))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("33");
  }

  @Test
  void containsChecksOnlyPrefixBits() {
    Prefix p = Prefix.parse("198.18.0.0/15");
    assertThat(p.contains(new byte[] {(byte) 198, 19, (byte) 255, 1})).isTrue();
    assertThat(p.contains(new byte[] {(byte) 198, 20, 0, 0})).isFalse();
    assertThat(p.contains(new byte[16])).isFalse();
    assertThat(Prefix.parse("0.0.0.0/0").contains(new byte[] {1, 2, 3, 4})).isTrue();
  }

  @Test
  void addressIsDefensivelyCopied() {
    byte[] a = {10, 0, 0, 0};
    Prefix p = Prefix.of(a, 8);
    a[0] = 11;
    p.address()[0] = 12;
    assertThat(p).hasToString("10.0.0.0/8");
  }
}
