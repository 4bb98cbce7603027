package io.dctun.crypto;

import java.util.Base64;

/** Parsing shared by the key types; messages never contain the key text. */
final class Keys {
  private Keys() {}

  static byte[] decode32(String text, String what) {
    if (text == null) {
      throw new IllegalArgumentException(what + " is missing");
    }
    String t = text.strip();
    byte[] raw;
    try {
      raw = Base64.getDecoder().decode(t);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " is not valid base64 (" + t.length() + " characters)");
    }
    if (raw.length != 32) {
      throw new IllegalArgumentException(what + " must decode to 32 bytes, got " + raw.length);
    }
    return raw;
  }
}
