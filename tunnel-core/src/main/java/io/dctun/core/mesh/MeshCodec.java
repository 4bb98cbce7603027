package io.dctun.core.mesh;

import io.dctun.core.mesh.MeshMessage.Announce;
import io.dctun.core.mesh.MeshMessage.Entry;
import io.dctun.core.mesh.MeshMessage.Hello;
import io.dctun.core.mesh.MeshMessage.Withdraw;
import io.dctun.core.route.Prefix;
import java.nio.ByteBuffer;
import java.nio.BufferUnderflowException;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire form of {@link MeshMessage}s, the payload of control frames of type {@link #CONTROL_TYPE}
 * (big-endian throughout).
 *
 * <pre>
 *   kind u8 (1 hello, 2 announce, 3 withdraw) | incarnation u64 |
 *     hello:    ack-incarnation u64
 *     announce, withdraw: count u16 | count x [ address-length u8 (4|16) | prefix-length u8 | address | version u64 | lease-ms u32 ]
 * </pre>
 *
 * An entry is 18 or 30 bytes: {@link HostDirectory#MAX_ENTRIES_PER_MESSAGE} IPv6 entries fit a
 * control frame at the smallest IPv6 MTU (1280).
 */
public final class MeshCodec {
  /** The control-channel type route sharing travels on. */
  public static final int CONTROL_TYPE = 1;

  private static final int HELLO = 1;
  private static final int ANNOUNCE = 2;
  private static final int WITHDRAW = 3;

  /** A payload that is not a well-formed mesh message; the message says what is wrong. */
  public static final class MalformedMessageException extends Exception {
    MalformedMessageException(String why) {
      super(why);
    }
  }

  private MeshCodec() {}

  public static byte[] encode(MeshMessage m) {
    if (m instanceof Hello h) {
      return ByteBuffer.allocate(17).put((byte) HELLO).putLong(h.incarnation()).putLong(h.ackIncarnation()).array();
    }
    List<Entry> entries = m instanceof Announce a ? a.entries() : ((Withdraw) m).entries();
    if (entries.size() > 0xFFFF) {
      throw new IllegalArgumentException("at most 65535 entries per message, got " + entries.size());
    }
    int size = 1 + 8 + 2;
    for (Entry e : entries) {
      size += 2 + e.host().addressLength() + 8 + 4;
    }
    ByteBuffer b = ByteBuffer.allocate(size);
    b.put((byte) (m instanceof Announce ? ANNOUNCE : WITHDRAW)).putLong(m.incarnation()).putShort((short) entries.size());
    for (Entry e : entries) {
      b.put((byte) e.host().addressLength()).put((byte) e.host().length()).put(e.host().address())
          .putLong(e.version()).putInt(e.leaseMillis());
    }
    return b.array();
  }

  public static MeshMessage decode(byte[] buf, int off, int len) throws MalformedMessageException {
    ByteBuffer b = ByteBuffer.wrap(buf, off, len);
    try {
      int kind = b.get() & 0xFF;
      long incarnation = b.getLong();
      if (incarnation == 0) {
        throw new MalformedMessageException("incarnation 0");
      }
      MeshMessage m;
      if (kind == HELLO) {
        m = new Hello(incarnation, b.getLong());
      } else if (kind == ANNOUNCE || kind == WITHDRAW) {
        int count = b.getShort() & 0xFFFF;
        List<Entry> entries = new ArrayList<>(Math.min(count, 256));
        for (int i = 0; i < count; i++) {
          int alen = b.get() & 0xFF;
          int plen = b.get() & 0xFF;
          if (alen != 4 && alen != 16) {
            throw new MalformedMessageException("entry " + i + ": address length " + alen);
          }
          if (plen > alen * 8) {
            throw new MalformedMessageException("entry " + i + ": prefix length " + plen + " for a " + alen + "-byte address");
          }
          byte[] a = new byte[alen];
          b.get(a);
          Prefix p = Prefix.of(a, plen);
          if (!p.isCanonical()) {
            throw new MalformedMessageException("entry " + i + ": host bits set in " + p);
          }
          long version = b.getLong();
          int lease = b.getInt();
          if (lease < 0) {
            throw new MalformedMessageException("entry " + i + ": negative lease");
          }
          entries.add(new Entry(p, version, lease));
        }
        m = kind == ANNOUNCE ? new Announce(incarnation, entries) : new Withdraw(incarnation, entries);
      } else {
        throw new MalformedMessageException("unknown kind " + kind);
      }
      if (b.hasRemaining()) {
        throw new MalformedMessageException(b.remaining() + " bytes after the message");
      }
      return m;
    } catch (BufferUnderflowException e) {
      throw new MalformedMessageException("truncated (" + len + " bytes)");
    }
  }
}
