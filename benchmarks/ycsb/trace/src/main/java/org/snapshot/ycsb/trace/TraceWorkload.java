package org.snapshot.ycsb.trace;

import site.ycsb.DB;
import site.ycsb.workloads.CoreWorkload;

/**
 * YCSB's CoreWorkload, unchanged, except that it tells {@link TraceDB} when a read and the update
 * after it form one read-modify-write. The DB interface alone cannot tell an RMW from a read that
 * happens to be followed by an update of the same (hot, zipfian) key, and the trace must keep them
 * apart ({@code M} lines).
 */
public class TraceWorkload extends CoreWorkload {
  /** Set while this thread runs CoreWorkload's read-modify-write. */
  static final ThreadLocal<Boolean> IN_RMW = ThreadLocal.withInitial(() -> Boolean.FALSE);

  @Override
  public void doTransactionReadModifyWrite(DB db) {
    IN_RMW.set(Boolean.TRUE);
    try {
      super.doTransactionReadModifyWrite(db);
    } finally {
      IN_RMW.set(Boolean.FALSE);
    }
  }
}
