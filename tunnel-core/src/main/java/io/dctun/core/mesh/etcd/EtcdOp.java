package io.dctun.core.mesh.etcd;

import io.dctun.core.route.Prefix;

/**
 * One etcd transaction the driver is asked to run by {@link EtcdHostTable#pending}. Each compares
 * the key's {@code mod_revision} with the one the table last saw ({@code 0}: the key is absent),
 * so a write never overwrites a record the table has not judged; on a failed compare the driver
 * reads the key back in the same transaction and hands it to {@link EtcdHostTable#compareFailed}.
 */
public sealed interface EtcdOp {
  Prefix host();

  long expectModRevision();

  /** Put {@code record} under {@code lease} if the key is still at {@code expectModRevision}. */
  record Write(Prefix host, HostRecord record, long lease, long expectModRevision) implements EtcdOp {}

  /** Delete the key (this gateway's own record) if it is still at {@code expectModRevision}. */
  record Delete(Prefix host, long expectModRevision) implements EtcdOp {}
}
