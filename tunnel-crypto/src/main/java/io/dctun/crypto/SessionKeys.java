package io.dctun.crypto;

/**
 * The outcome of a completed handshake: the two transport keys and the indices that name the
 * session on the wire. Key bytes are never printed.
 */
public final class SessionKeys {
  private final byte[] sendKey;
  private final byte[] receiveKey;
  private final int localIndex;
  private final int remoteIndex;
  private final boolean initiator;

  SessionKeys(byte[] sendKey, byte[] receiveKey, int localIndex, int remoteIndex, boolean initiator) {
    this.sendKey = sendKey;
    this.receiveKey = receiveKey;
    this.localIndex = localIndex;
    this.remoteIndex = remoteIndex;
    this.initiator = initiator;
  }

  /** A cipher sealing with the send key (default implementation). */
  public TransportCipher newSealer() {
    return Aead.transport(sendKey, true);
  }

  /** A cipher opening with the receive key (default implementation). */
  public TransportCipher newOpener() {
    return Aead.transport(receiveKey, false);
  }

  public TransportCipher newSealer(Aead.Impl impl) {
    return Aead.transport(impl, sendKey, true);
  }

  public TransportCipher newOpener(Aead.Impl impl) {
    return Aead.transport(impl, receiveKey, false);
  }

  /** Our index: the receiver index the peer puts on messages to us. */
  public int localIndex() {
    return localIndex;
  }

  /** The peer's index: the receiver index we put on messages to it. */
  public int remoteIndex() {
    return remoteIndex;
  }

  /** True if this end sent the initiation. */
  public boolean isInitiator() {
    return initiator;
  }

  /** Wipes the key bytes once ciphers have been made from them. */
  public void wipe() {
    java.util.Arrays.fill(sendKey, (byte) 0);
    java.util.Arrays.fill(receiveKey, (byte) 0);
  }

  @Override
  public String toString() {
    return "SessionKeys[local=" + Integer.toUnsignedString(localIndex) + ", remote="
        + Integer.toUnsignedString(remoteIndex) + ", initiator=" + initiator + "]";
  }
}
