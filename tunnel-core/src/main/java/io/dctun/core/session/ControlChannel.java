package io.dctun.core.session;

import static io.dctun.crypto.WireFormat.TRANSPORT_HEADER_LENGTH;

import io.dctun.core.control.ControlFrame;
import io.dctun.core.control.ControlHandler;
import io.dctun.core.control.ControlSend;
import io.dctun.crypto.PublicKey;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A device's control channel: dctun-only messages ({@link ControlFrame}) inside the encrypted
 * transport of an established session, to and from peers configured as dctun ({@link
 * PeerConfig#dctun()}). Route sharing and other gateway-to-gateway protocols run on it.
 *
 * <pre>
 *   send:    send(peer key, type, payload) -> dctun peer? fits the MTU? -> frame -> Peer.send (queued until a session exists)
 *   receive: transport message opened -> first byte 0x0D -> from a dctun peer? well-formed? handler for the type? -> handler
 * </pre>
 *
 * <p>Control messages are not IP packets and bypass the packet filter in both directions: the
 * firewall rules the traffic between hosts, not the gateways' conversation, which is
 * authenticated by the peer's static key. Every refusal is counted as a {@link DropReason}
 * {@code CONTROL_*}. Sans-I/O like the device; thread-safe.
 */
public final class ControlChannel {
  private final Device device;
  private final Map<Integer, ControlHandler> handlers = new ConcurrentHashMap<>();
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong received = new AtomicLong();

  ControlChannel(Device device) {
    this.device = device;
  }

  /**
   * Routes messages of {@code type} to {@code handler}. One handler per type: registering a
   * second is refused, so two modules cannot silently steal each other's messages.
   */
  public void register(int type, ControlHandler handler) {
    if (type < 0 || type > 0xFFFF) {
      throw new IllegalArgumentException("control type must be 0..65535, got " + type);
    }
    if (handlers.putIfAbsent(type, handler) != null) {
      throw new IllegalStateException("control type " + type + " already has a handler");
    }
  }

  public void unregister(int type, ControlHandler handler) {
    handlers.remove(type, handler);
  }

  /** Sends {@code payload[off..off+len)} as a control message of {@code type} to the peer with key {@code to}. */
  public ControlSend send(PublicKey to, int type, byte[] payload, int off, int len, long now) {
    Peer p = device.peer(to);
    if (p == null) {
      return ControlSend.UNKNOWN_PEER;
    }
    if (!p.config().dctun()) {
      return ControlSend.NOT_DCTUN;
    }
    if (ControlFrame.HEADER_LENGTH + len > device.mtu()) {
      return ControlSend.TOO_BIG;
    }
    // Headroom for the transport header, room after for padding to 16 and the tag.
    byte[] buf = new byte[TRANSPORT_HEADER_LENGTH + ControlFrame.HEADER_LENGTH + len + 32];
    int frame = ControlFrame.writeHeader(buf, TRANSPORT_HEADER_LENGTH, type, len);
    System.arraycopy(payload, off, buf, TRANSPORT_HEADER_LENGTH + ControlFrame.HEADER_LENGTH, len);
    ControlSend r;
    try {
      r = p.sendControl(buf, TRANSPORT_HEADER_LENGTH, frame, now);
    } catch (RuntimeException e) {
      device.peerFailed(p, "control send", e, now); // a caller sending to every gateway goes on to the next
      return ControlSend.FAILED;
    }
    if (r == ControlSend.SENT || r == ControlSend.QUEUED) {
      sent.incrementAndGet();
    }
    return r;
  }

  /** An authenticated plaintext from {@code p} that starts with the control magic byte. */
  void receive(Peer p, byte[] buf, int off, int len, long now) {
    DropCounters drops = device.drops();
    if (!p.config().dctun()) {
      drops.drop(DropReason.CONTROL_UNEXPECTED, now, p.name());
      return;
    }
    int n = ControlFrame.payloadLength(buf, off, len);
    if (n == ControlFrame.MALFORMED) {
      drops.drop(DropReason.CONTROL_MALFORMED, now, p.name());
      return;
    }
    int type = ControlFrame.type(buf, off);
    ControlHandler h = handlers.get(type);
    if (h == null) {
      drops.drop(DropReason.CONTROL_UNHANDLED, now, p.name() + " type " + type);
      return;
    }
    received.incrementAndGet();
    try {
      h.onControl(p.publicKey(), type, buf, off + ControlFrame.HEADER_LENGTH, n, now);
    } catch (RuntimeException e) {
      drops.drop(DropReason.CONTROL_HANDLER_FAILED, now, p.name() + " type " + type + ": " + e);
    }
  }

  /** Control messages sent or queued. */
  public long sent() {
    return sent.get();
  }

  /** Control messages handed to a handler. */
  public long received() {
    return received.get();
  }

  /** {@code ControlChannel[sent=4, received=3, handlers for types 1, 2]}. */
  @Override
  public String toString() {
    return "ControlChannel[sent=" + sent.get() + ", received=" + received.get() + ", handlers for types "
        + (handlers.isEmpty() ? "none" : handlers.keySet().stream().sorted().map(String::valueOf)
            .collect(Collectors.joining(", "))) + "]";
  }
}
