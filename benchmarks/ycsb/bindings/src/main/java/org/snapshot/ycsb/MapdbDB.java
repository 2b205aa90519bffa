package org.snapshot.ycsb;

import java.io.File;
import java.util.Iterator;
import java.util.Properties;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

import site.ycsb.DBException;

/**
 * YCSB binding "mapdb": MapDB 3.1 as its users run it durably. A file DB with transactions
 * enabled (MapDB's write-ahead log), one {@code BTreeMap<byte[], byte[]>}, {@code db.commit()}
 * after every put (MapDB's commit syncs its log: benchmarks/ycsb/README.md, "Sync calls per
 * commit"); a failed put is rolled back ({@code db.rollback()}). Operations: {@link SortedMapDB}.
 * Properties: {@code mapdb.path}, the DB file (created by the load phase, reopened by the run
 * phase); {@code mapdb.access}, how MapDB reaches the file: {@code channel} (the default,
 * {@code fileChannelEnable()}, the fastest of the three here), {@code raf} (MapDB's own default,
 * RandomAccessFile) or {@code mmap}; {@code mapdb.valuesOutsideNodes} (default false, as MapDB's:
 * the values inside the B-tree's leaves).
 */
public class MapdbDB extends SortedMapDB {
  @Override
  protected String name() {
    return "mapdb";
  }

  @Override
  protected Store open(Properties p, Records rec) throws DBException {
    String path = p.getProperty("mapdb.path");
    if (path == null) {
      throw new DBException("mapdb: set -p mapdb.path=FILE");
    }
    File parent = new File(path).getAbsoluteFile().getParentFile();
    if (!parent.isDirectory() && !parent.mkdirs()) {
      throw new DBException("mapdb: cannot create " + parent);
    }
    DBMaker.Maker dm = DBMaker.fileDB(path).transactionEnable();
    String access = p.getProperty("mapdb.access", "channel");
    switch (access) {
      case "channel" -> dm.fileChannelEnable();
      case "mmap" -> dm.fileMmapEnable();
      case "raf" -> { } // MapDB's default, RandomAccessFile
      default -> throw new DBException("mapdb.access must be channel, mmap or raf, not " + access);
    }
    DB db = null;
    try {
      db = dm.make();
      DB.TreeMapMaker<byte[], byte[]> maker =
          db.treeMap("usertable", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY);
      if (Boolean.parseBoolean(p.getProperty("mapdb.valuesOutsideNodes", "false"))) {
        maker.valuesOutsideNodesEnable();
      }
      BTreeMap<byte[], byte[]> map = maker.createOrOpen();
      db.commit(); // the load phase's empty map is durable before its first insert
      return new MapdbStore(db, map);
    } catch (RuntimeException e) {
      if (db != null) {
        db.close();
      }
      throw new DBException("mapdb: cannot open " + path + ": " + e, e);
    }
  }

  private record MapdbStore(DB db, BTreeMap<byte[], byte[]> map) implements Store {
    @Override
    public byte[] get(byte[] key) {
      byte[] v = map.get(key);
      return v == null ? null : v.clone(); // never change an array the map may still hold
    }

    @Override
    public Iterator<byte[]> valuesFrom(byte[] key) {
      return map.tailMap(key, true).values().iterator();
    }

    @Override
    public void putAndCommit(byte[] key, byte[] value) {
      map.put(key, value);
      db.commit();
    }

    @Override
    public boolean discard() {
      db.rollback();
      return true;
    }

    @Override
    public void close() {
      db.close();
    }
  }
}
