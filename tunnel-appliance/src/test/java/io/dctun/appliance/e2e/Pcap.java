package io.dctun.appliance.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Just enough of the pcap file format to pull IPv4/UDP datagrams out of a tcpdump capture. */
final class Pcap {
  private Pcap() {}

  /** One captured IPv4 packet: protocol, addresses and, for UDP, ports and the captured payload. */
  record Ipv4(int protocol, String src, String dst, int srcPort, int dstPort, byte[] udpPayload) {}

  /** The IPv4 packets in {@code file} (Ethernet or Linux cooked captures); other frames are skipped. */
  static List<Ipv4> ipv4(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(bytes); // record headers: the file's byte order
    ByteBuffer net = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN); // packet fields: network order
    if (b.remaining() < 24) {
      throw new IOException(file + ": not a pcap file (" + b.remaining() + " bytes)");
    }
    int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
      b.order(ByteOrder.BIG_ENDIAN);
      magic = b.getInt(0);
      if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        throw new IOException(file + ": bad pcap magic " + Integer.toHexString(magic));
      }
    }
    int linkType = b.getInt(20);
    int l2 = switch (linkType) {
      case 1 -> 14;    // Ethernet
      case 113 -> 16;  // Linux cooked (SLL)
      case 276 -> 20;  // Linux cooked v2
      case 101 -> 0;   // raw IP
      default -> throw new IOException(file + ": unsupported link type " + linkType);
    };
    List<Ipv4> out = new ArrayList<>();
    int pos = 24;
    for (int n = 0; n < 10_000_000 && pos + 16 <= b.limit(); n++) {
      int incl = b.getInt(pos + 8);
      int start = pos + 16;
      pos = start + incl;
      if (incl < 0 || pos > b.limit()) {
        break; // truncated last record
      }
      int etherType = switch (linkType) {
        case 1 -> net.getShort(start + 12) & 0xffff;
        case 113 -> net.getShort(start + 14) & 0xffff;
        case 276 -> net.getShort(start) & 0xffff;
        default -> 0x0800;
      };
      int ip = start + l2;
      if (etherType != 0x0800 || ip + 20 > pos || (net.get(ip) >> 4) != 4) {
        continue;
      }
      int ihl = (net.get(ip) & 0x0f) * 4;
      int proto = net.get(ip + 9) & 0xff;
      String src = addr(net, ip + 12);
      String dst = addr(net, ip + 16);
      int l4 = ip + ihl;
      if (proto == 17 && l4 + 8 <= pos) {
        int sp = net.getShort(l4) & 0xffff;
        int dp = net.getShort(l4 + 2) & 0xffff;
        byte[] payload = Arrays.copyOfRange(bytes, l4 + 8, pos);
        out.add(new Ipv4(proto, src, dst, sp, dp, payload));
      } else {
        out.add(new Ipv4(proto, src, dst, -1, -1, null));
      }
    }
    return out;
  }

  private static String addr(ByteBuffer b, int at) {
    return (b.get(at) & 0xff) + "." + (b.get(at + 1) & 0xff) + "." + (b.get(at + 2) & 0xff) + "." + (b.get(at + 3) & 0xff);
  }
}
