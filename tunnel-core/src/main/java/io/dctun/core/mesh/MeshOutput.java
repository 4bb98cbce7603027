package io.dctun.core.mesh;

import io.dctun.core.route.Prefix;

/** What a {@link HostDirectory} asks its driver to do. Called on the thread that drove it. */
public interface MeshOutput<G> {
  /** Send {@code m} to gateway {@code to} (over the control channel). Loss is tolerated. */
  void send(G to, MeshMessage m);

  /**
   * Where packets for {@code host} go now: {@code owner} is the gateway it is connected to (this
   * gateway's own id when it is connected here), or null when no gateway has it.
   */
  void routeChanged(Prefix host, G owner);
}
