package org.snapshot.ycsb;

import java.nio.file.Path;
import java.util.Properties;

import site.ycsb.DBException;

/**
 * YCSB binding "llpl": an {@link LlplTable}. Property {@code llpl.path}: the heap file (created by
 * the load phase, reopened by the run phase), on /dev/shm with PMEM_IS_PMEM_FORCE=1 in the
 * environment for emulated persistent memory.
 */
public class LlplDB extends TableDB {
  @Override
  protected HashTable open(Properties p) throws DBException {
    String path = p.getProperty("llpl.path");
    if (path == null) {
      throw new DBException("llpl: set -p llpl.path=FILE");
    }
    try {
      return LlplTable.openOrCreate(Path.of(path), new Records(p), Records.capacity(p));
    } catch (RuntimeException | LinkageError e) {
      // LinkageError: LLPL's libllpl.so (in its jar) did not load, e.g. libpmempool.so.1 missing.
      throw new DBException("llpl: cannot open " + path + ": " + e, e);
    }
  }
}
