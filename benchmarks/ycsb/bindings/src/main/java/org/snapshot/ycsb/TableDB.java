package org.snapshot.ycsb;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;

import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * The YCSB binding of a {@link HashTable}. YCSB makes one DB per client thread; they share one
 * table per JVM, opened by the first and closed by the last. A failed operation is counted by
 * YCSB as failed, never dropped ({@link Failures}).
 */
abstract class TableDB extends DB {
  private static HashTable table;
  private static int users;

  /** Creates the store (load phase) or opens it (run phase, a new JVM). */
  protected abstract HashTable open(Properties p) throws DBException;

  @Override
  public void init() throws DBException {
    synchronized (TableDB.class) {
      if (users == 0) {
        table = open(getProperties());
      }
      users++;
    }
  }

  @Override
  public void cleanup() throws DBException {
    synchronized (TableDB.class) {
      if (--users == 0) {
        table.close();
        table = null;
      }
    }
  }

  private static Status failed(String op, String key, RuntimeException e) {
    return Failures.failed("ycsb binding", op, key, e);
  }

  @Override
  public Status read(String t, String key, Set<String> fields, Map<String, ByteIterator> result) {
    try {
      return table.read(key, fields, result) ? Status.OK : Status.NOT_FOUND;
    } catch (RuntimeException e) {
      return failed("read", key, e);
    }
  }

  @Override
  public Status scan(String t, String startKey, int count, Set<String> fields,
                     Vector<HashMap<String, ByteIterator>> result) {
    try {
      return table.scan(startKey, count, fields, result) ? Status.OK : Status.NOT_FOUND;
    } catch (RuntimeException e) {
      return failed("scan", startKey, e);
    }
  }

  @Override
  public Status update(String t, String key, Map<String, ByteIterator> values) {
    try {
      return table.update(key, values) ? Status.OK : Status.NOT_FOUND;
    } catch (RuntimeException e) {
      return failed("update", key, e);
    }
  }

  @Override
  public Status insert(String t, String key, Map<String, ByteIterator> values) {
    try {
      table.insert(key, values);
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("insert", key, e);
    }
  }

  @Override
  public Status delete(String t, String key) {
    return Status.NOT_IMPLEMENTED;
  }
}
