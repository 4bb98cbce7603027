package io.dctun.core.control;

import io.dctun.crypto.PublicKey;

/**
 * Receives the control messages of one type from dctun peers. Called on the thread that opened
 * the transport message (a transport's receive thread), so it must be quick and must not block;
 * hand longer work to an executor of your own. What it throws is caught, logged (rate-limited)
 * and counted as {@code CONTROL_HANDLER_FAILED}; the session is unaffected.
 */
@FunctionalInterface
public interface ControlHandler {
  /**
   * @param from the peer's static key: the message is authenticated as coming from it
   * @param buf the payload is {@code buf[off..off+len)}; reused after return, copy what you keep
   * @param now the monotonic time the message was received at
   */
  void onControl(PublicKey from, int type, byte[] buf, int off, int len, long now);
}
