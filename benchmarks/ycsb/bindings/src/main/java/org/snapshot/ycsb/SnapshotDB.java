package org.snapshot.ycsb;

import java.nio.file.Path;
import java.util.Properties;

import site.ycsb.DBException;

/**
 * YCSB binding "snapshot": a {@link SnapshotTable}. Properties: {@code snapshot.path} (the data
 * file; created by the load phase, reopened by the run phase) and {@code snapshot.medium}
 * ({@code pm}: emulated persistent memory, a file on /dev/shm; {@code disk}: the file back end),
 * {@code snapshot.populate} ({@code true}, the default: fault in the region's memory at open,
 * {@link org.snapshot.Options#populate}).
 */
public class SnapshotDB extends TableDB {
  @Override
  protected HashTable open(Properties p) throws DBException {
    String path = p.getProperty("snapshot.path");
    String medium = p.getProperty("snapshot.medium", "pm");
    if (path == null) {
      throw new DBException("snapshot: set -p snapshot.path=FILE");
    }
    if (!medium.equals("pm") && !medium.equals("disk")) {
      throw new DBException("snapshot.medium must be pm or disk, not " + medium);
    }
    try {
      boolean populate = Boolean.parseBoolean(p.getProperty("snapshot.populate", "true"));
      return SnapshotTable.openOrCreate(Path.of(path), medium.equals("pm"), populate, new Records(p),
          Records.capacity(p));
    } catch (RuntimeException e) {
      throw new DBException("snapshot: cannot open " + path + ": " + e.getMessage(), e);
    }
  }
}
