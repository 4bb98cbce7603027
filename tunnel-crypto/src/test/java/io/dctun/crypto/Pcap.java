package io.dctun.crypto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reads the UDP payloads out of a classic pcap of Ethernet/IPv4 frames (test data only). */
final class Pcap {
  private Pcap() {}

  static Path testdata(String first, String... more) {
    Path p = Path.of("..", "..", "shared", "testdata").resolve(Path.of(first, more));
    if (!Files.exists(p)) {
      p = Path.of("..", "shared", "testdata").resolve(Path.of(first, more));
    }
    return p;
  }

  static List<byte[]> udpPayloads(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
    int magic = b.getInt(0);
    b.order(magic == 0xa1b2c3d4 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    b.position(24);
    List<byte[]> out = new ArrayList<>();
    while (b.remaining() >= 16) {
      b.getInt();
      b.getInt();
      int incl = b.getInt();
      b.getInt();
      byte[] frame = new byte[incl];
      b.get(frame);
      int ip = 14;
      if ((frame[12] & 0xff) != 0x08 || frame[13] != 0x00 || (frame[ip + 9] & 0xff) != 17) {
        continue;
      }
      int ihl = (frame[ip] & 0x0f) * 4;
      int udp = ip + ihl;
      int udpLen = ((frame[udp + 4] & 0xff) << 8) | (frame[udp + 5] & 0xff);
      out.add(Arrays.copyOfRange(frame, udp + 8, udp + udpLen));
    }
    return out;
  }
}
