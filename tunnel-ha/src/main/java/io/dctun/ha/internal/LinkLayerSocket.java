package io.dctun.ha.internal;

import io.dctun.tun.LibC;
import io.dctun.tun.NativeIoException;
import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * An AF_PACKET socket that sends whole Ethernet frames of one ethertype out of one interface, to
 * one link-layer destination: what gratuitous ARP and unsolicited neighbour advertisements need.
 *
 * <p>Thread-safety: {@link #send} is serialised; close once.
 */
final class LinkLayerSocket implements Closeable {
  private final LibC libc = LibC.get();
  private final byte[] sll;
  private final String what;
  private int fd;

  private LinkLayerSocket(int fd, byte[] sll, String what) {
    this.fd = fd;
    this.sll = sll;
    this.what = what;
  }

  /** Opens the socket on {@code ifindex} (in the calling thread's network namespace). */
  static LinkLayerSocket open(String ifname, int ifindex, int ethertype, byte[] destination, String what)
      throws NativeIoException {
    int proto = Short.toUnsignedInt(Short.reverseBytes((short) ethertype)); // htons
    int fd = LibC.get().socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, proto);
    if (fd < 0) {
      throw new NativeIoException("socket(AF_PACKET, SOCK_RAW) for " + what + " on " + ifname,
          LibC.errno(), null);
    }
    // struct sockaddr_ll: u16 family, be16 protocol, s32 ifindex, u16 hatype, u8 pkttype,
    // u8 halen, u8 addr[8]
    ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
    b.putShort((short) LibC.AF_PACKET);
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) ethertype);
    b.order(ByteOrder.nativeOrder()).putInt(ifindex).putShort((short) 1).put((byte) 0)
        .put((byte) 6).put(destination, 0, 6);
    return new LinkLayerSocket(fd, b.array(), what);
  }

  synchronized void send(byte[] frame, int len) throws NativeIoException {
    if (fd < 0) {
      throw new NativeIoException("send " + what, LibC.EBADF, "socket closed");
    }
    if (libc.sendto(fd, frame, len, 0, sll, sll.length) < 0) {
      throw new NativeIoException("send " + what, LibC.errno(), null);
    }
  }

  @Override
  public synchronized void close() {
    if (fd >= 0) {
      libc.close(fd);
      fd = -1;
    }
  }
}
