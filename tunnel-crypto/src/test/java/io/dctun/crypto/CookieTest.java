package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CookieTest {
  final PrivateKey a = PrivateKey.generate();
  final PrivateKey b = PrivateKey.generate();
  final byte[] source = {(byte) 198, 18, 0, 1, (byte) 0xca, 0x6c};

  @Test
  void cookieReplyRoundTripSetsValidMac2() {
    LocalIdentity idB = new LocalIdentity(b);
    CookieGenerator gen = new CookieGenerator(b.publicKey());
    CookieChecker checker = new CookieChecker(idB);
    byte[] init = new Handshake(new LocalIdentity(a), b.publicKey(), null).createInitiation(5, 1L);
    gen.addMacs(init, 0);
    assertThat(checker.checkMac1(init, 0, init.length)).isTrue();
    assertThat(checker.checkMac2(init, 0, init.length, source, 0)).isFalse();

    byte[] reply = checker.createReply(init, 0, init.length, source, 0);
    assertThat(reply).hasSize(WireFormat.COOKIE_REPLY_LENGTH);
    assertThat(WireFormat.getIntLE(reply, 4)).isEqualTo(5);
    assertThat(gen.consumeCookieReply(reply, 1)).isTrue();

    byte[] init2 = new Handshake(new LocalIdentity(a), b.publicKey(), null).createInitiation(6, 2L);
    gen.addMacs(init2, 2);
    assertThat(checker.checkMac1(init2, 0, init2.length)).isTrue();
    assertThat(checker.checkMac2(init2, 0, init2.length, source, 3)).isTrue();
    byte[] otherSource = source.clone();
    otherSource[3] = 2;
    assertThat(checker.checkMac2(init2, 0, init2.length, otherSource, 3)).isFalse();
  }

  @Test
  void cookieExpiresAfterTwoMinutes() {
    CookieGenerator gen = new CookieGenerator(b.publicKey());
    CookieChecker checker = new CookieChecker(new LocalIdentity(b));
    byte[] init = new byte[148];
    gen.addMacs(init, 0);
    assertThat(gen.consumeCookieReply(checker.createReply(init, 0, 148, source, 0), 0)).isTrue();
    assertThat(gen.hasCookie(CookieGenerator.COOKIE_LIFETIME_NANOS - 1)).isTrue();
    assertThat(gen.hasCookie(CookieGenerator.COOKIE_LIFETIME_NANOS)).isFalse();
  }

  @Test
  void forgedCookieReplyIsRefused() {
    CookieGenerator gen = new CookieGenerator(b.publicKey());
    byte[] init = new byte[148];
    gen.addMacs(init, 0);
    byte[] reply = new CookieChecker(new LocalIdentity(b)).createReply(init, 0, 148, source, 0);
    reply[40] ^= 1;
    assertThat(gen.consumeCookieReply(reply, 0)).isFalse();
    assertThat(gen.hasCookie(0)).isFalse();
  }

  @Test
  void flippedMac1IsRefused() {
    CookieGenerator gen = new CookieGenerator(b.publicKey());
    byte[] init = new byte[148];
    gen.addMacs(init, 0);
    init[WireFormat.INIT_MAC1] ^= 0x10;
    assertThat(new CookieChecker(new LocalIdentity(b)).checkMac1(init, 0, 148)).isFalse();
  }
}
