package io.dctun.appliance.e2e;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.util.HexFormat;

/**
 * Sends datagrams given in hex to one UDP address: {@code UdpBlaster HOST PORT HEX [HEX...]}, one
 * datagram per argument, in order, 20 ms apart. Run inside a test namespace (as a spawned JVM with
 * the test classpath) to feed a gateway bad input from its WAN side.
 */
public final class UdpBlaster {
  private UdpBlaster() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: UdpBlaster HOST PORT HEX [HEX...]");
      System.exit(2);
    }
    InetAddress host = InetAddress.getByName(args[0]);
    int port = Integer.parseInt(args[1]);
    int sent = 0;
    try (DatagramSocket s = new DatagramSocket()) {
      for (int i = 2; i < args.length; i++) {
        byte[] b = HexFormat.of().parseHex(args[i]);
        s.send(new DatagramPacket(b, b.length, host, port));
        sent++;
        Thread.sleep(20);
      }
    }
    System.out.println("sent " + sent);
  }
}
