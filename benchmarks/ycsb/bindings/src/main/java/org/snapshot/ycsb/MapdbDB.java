package org.snapshot.ycsb;

import java.io.File;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

import site.ycsb.ByteIterator;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * YCSB binding "mapdb": MapDB 3.1 as its users run it durably. A file DB with transactions
 * enabled (MapDB's write-ahead log), one {@code BTreeMap<byte[], byte[]>} keyed by YCSB's key, the
 * value all F x L field bytes; {@code db.commit()} after every insert and update (MapDB's commit
 * syncs its log: benchmarks/ycsb/README.md, "Sync calls per commit"). An update reads the value,
 * changes the given fields and puts it back. A scan walks the B-tree in key order from the start
 * key. Properties: {@code mapdb.path}, the DB file (created by the load phase, reopened by the run
 * phase); {@code mapdb.access}, how MapDB reaches the file: {@code channel} (the default,
 * {@code fileChannelEnable()}, the fastest of the three here), {@code raf} (MapDB's own default,
 * RandomAccessFile) or {@code mmap}; {@code mapdb.valuesOutsideNodes} (default false, as MapDB's:
 * the values inside the B-tree's leaves). One DB per JVM, shared by YCSB's client threads behind
 * one lock, so that a commit never takes another thread's half-done operation with it.
 */
public class MapdbDB extends site.ycsb.DB {
  private static DB db;
  private static BTreeMap<byte[], byte[]> map;
  private static int users;
  private static final Object LOCK = new Object();

  private Records rec;

  @Override
  public void init() throws DBException {
    Properties p = getProperties();
    rec = new Records(p);
    synchronized (LOCK) {
      if (users == 0) {
        String path = p.getProperty("mapdb.path");
        if (path == null) {
          throw new DBException("mapdb: set -p mapdb.path=FILE");
        }
        File parent = new File(path).getAbsoluteFile().getParentFile();
        if (!parent.isDirectory() && !parent.mkdirs()) {
          throw new DBException("mapdb: cannot create " + parent);
        }
        try {
          DBMaker.Maker dm = DBMaker.fileDB(path).transactionEnable();
          String access = p.getProperty("mapdb.access", "channel");
          switch (access) {
            case "channel" -> dm.fileChannelEnable();
            case "mmap" -> dm.fileMmapEnable();
            case "raf" -> { } // MapDB's default, RandomAccessFile
            default -> throw new DBException("mapdb.access must be channel, mmap or raf, not " + access);
          }
          db = dm.make();
          DB.TreeMapMaker<byte[], byte[]> maker = db.treeMap("usertable", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY);
          if (Boolean.parseBoolean(p.getProperty("mapdb.valuesOutsideNodes", "false"))) {
            maker.valuesOutsideNodesEnable();
          }
          map = maker.createOrOpen();
          db.commit(); // the load phase's empty map is durable before its first insert
        } catch (RuntimeException e) {
          if (db != null) {
            db.close();
            db = null;
          }
          throw new DBException("mapdb: cannot open " + path + ": " + e, e);
        }
      }
      users++;
    }
  }

  @Override
  public void cleanup() throws DBException {
    synchronized (LOCK) {
      if (--users == 0) {
        db.close();
        db = null;
        map = null;
      }
    }
  }

  private static Status failed(String op, String k, RuntimeException e) {
    return Failures.failed("mapdb", op, k, e);
  }

  @Override
  public Status read(String t, String k, Set<String> fields, Map<String, ByteIterator> result) {
    try {
      byte[] v;
      synchronized (LOCK) {
        v = map.get(Records.key(k));
      }
      if (v == null) {
        return Status.NOT_FOUND;
      }
      rec.get(v, 0, fields, result);
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("read", k, e);
    }
  }

  @Override
  public Status scan(String t, String startKey, int count, Set<String> fields,
                     Vector<HashMap<String, ByteIterator>> result) {
    try {
      synchronized (LOCK) {
        Iterator<byte[]> it = map.tailMap(Records.key(startKey), true).values().iterator();
        while (it.hasNext() && result.size() < count) {
          HashMap<String, ByteIterator> r = new HashMap<>();
          rec.get(it.next(), 0, fields, r);
          result.add(r);
        }
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("scan", startKey, e);
    }
  }

  @Override
  public Status update(String t, String k, Map<String, ByteIterator> values) {
    try {
      byte[] key = Records.key(k);
      synchronized (LOCK) {
        byte[] old = map.get(key);
        if (old == null) {
          return Status.NOT_FOUND;
        }
        byte[] all = old.clone(); // never change an array the map may still hold
        rec.put(values, all, 0);
        map.put(key, all);
        db.commit();
      }
      return Status.OK;
    } catch (RuntimeException e) {
      rollback();
      return failed("update", k, e);
    }
  }

  @Override
  public Status insert(String t, String k, Map<String, ByteIterator> values) {
    try {
      byte[] all = new byte[rec.valueBytes()];
      rec.put(values, all, 0);
      synchronized (LOCK) {
        map.put(Records.key(k), all);
        db.commit();
      }
      return Status.OK;
    } catch (RuntimeException e) {
      rollback();
      return failed("insert", k, e);
    }
  }

  /** Drops what a failed write left uncommitted, so the next commit does not make it durable. */
  private static void rollback() {
    synchronized (LOCK) {
      try {
        db.rollback();
      } catch (RuntimeException ignored) {
        // the operation is reported failed already; a DB that cannot roll back fails the next one
      }
    }
  }

  @Override
  public Status delete(String t, String k) {
    return Status.NOT_IMPLEMENTED;
  }
}
