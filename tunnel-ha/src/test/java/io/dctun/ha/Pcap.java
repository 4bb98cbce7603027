package io.dctun.ha;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads a classic pcap file of Ethernet frames (24-byte global header, 16-byte records). */
final class Pcap {
  static final Path TESTDATA = Path.of(System.getProperty("dctun.testdata", "/work/shared/testdata"));

  record Frame(long micros, byte[] data) {
    int etherType() {
      return (data[12] & 0xff) << 8 | (data[13] & 0xff);
    }
  }

  private Pcap() {}

  static List<Frame> read(Path p) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p));
    int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    if (magic != 0xa1b2c3d4) {
      b.order(ByteOrder.BIG_ENDIAN);
      if (b.getInt(0) != 0xa1b2c3d4) {
        throw new IOException("not a microsecond pcap: " + p);
      }
    }
    if (b.getInt(20) != 1) {
      throw new IOException("not Ethernet link type: " + p);
    }
    b.position(24);
    List<Frame> frames = new ArrayList<>();
    while (b.remaining() >= 16) {
      long sec = b.getInt() & 0xffffffffL;
      long usec = b.getInt() & 0xffffffffL;
      int incl = b.getInt();
      b.getInt();
      byte[] d = new byte[incl];
      b.get(d);
      frames.add(new Frame(sec * 1_000_000 + usec, d));
    }
    if (b.hasRemaining()) {
      throw new IOException("trailing bytes in " + p);
    }
    return frames;
  }

  /** Parses tcpdump -x style "0x0000:  45c0 0020 ..." lines into bytes. */
  static byte[] hexDump(String text) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (String line : text.split("\n")) {
      String t = line.trim();
      if (!t.startsWith("0x")) {
        continue;
      }
      String hex = t.substring(t.indexOf(':') + 1).replaceAll("\\s+", "");
      for (int i = 0; i + 1 < hex.length(); i += 2) {
        out.write(Integer.parseInt(hex.substring(i, i + 2), 16));
      }
    }
    return out.toByteArray();
  }
}
