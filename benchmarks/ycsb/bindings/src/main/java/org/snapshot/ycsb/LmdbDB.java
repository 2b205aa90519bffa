package org.snapshot.ycsb;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;

import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * YCSB binding "lmdbjava": LMDB through lmdbjava, its usual way. One database keyed by YCSB's key,
 * the value all F x L field bytes; every insert and update is one write transaction, committed
 * with LMDB's default durability (no MDB_NOSYNC / MDB_NOMETASYNC: each commit syncs the data
 * file). An update reads the value, changes the given fields and puts it back, in its
 * transaction. Reads and scans use read transactions; a scan walks a cursor in key order (LMDB is
 * a B+tree). Property {@code lmdb.dir}: the environment's directory (created by the load phase,
 * reopened by the run phase). One environment per JVM, shared by YCSB's client threads.
 */
public class LmdbDB extends DB {
  private static Env<ByteBuffer> env;
  private static Dbi<ByteBuffer> db;
  private static int users;

  private Records rec;
  private ByteBuffer key;
  private ByteBuffer value;

  @Override
  public void init() throws DBException {
    Properties p = getProperties();
    rec = new Records(p);
    key = ByteBuffer.allocateDirect(Records.MAX_KEY);
    value = ByteBuffer.allocateDirect(rec.valueBytes());
    synchronized (LmdbDB.class) {
      if (users == 0) {
        String dir = p.getProperty("lmdb.dir");
        if (dir == null) {
          throw new DBException("lmdbjava: set -p lmdb.dir=DIRECTORY");
        }
        File d = new File(dir);
        if (!d.isDirectory() && !d.mkdirs()) {
          throw new DBException("lmdbjava: cannot create " + dir);
        }
        // The map is a reservation (sparse file): room for every record with B+tree overhead.
        long mapSize = Records.capacity(p) * (rec.valueBytes() + Records.MAX_KEY + 64) * 2 + (64L << 20);
        try {
          env = Env.create().setMapSize(mapSize).setMaxDbs(1).open(d);
          db = env.openDbi("usertable", DbiFlags.MDB_CREATE);
        } catch (RuntimeException e) {
          throw new DBException("lmdbjava: cannot open " + dir + ": " + e, e);
        }
      }
      users++;
    }
  }

  @Override
  public void cleanup() throws DBException {
    synchronized (LmdbDB.class) {
      if (--users == 0) {
        db.close();
        env.close();
        env = null;
        db = null;
      }
    }
  }

  private static Status failed(String op, String k, RuntimeException e) {
    return Failures.failed("lmdbjava", op, k, e);
  }

  private ByteBuffer key(String k) {
    key.clear();
    key.put(Records.key(k)).flip();
    return key;
  }

  private void result(ByteBuffer v, Set<String> fields, Map<String, ByteIterator> out) {
    byte[] all = new byte[rec.valueBytes()];
    v.get(all);
    rec.get(all, 0, fields, out);
  }

  @Override
  public Status read(String t, String k, Set<String> fields, Map<String, ByteIterator> result) {
    try (Txn<ByteBuffer> txn = env.txnRead()) {
      ByteBuffer v = db.get(txn, key(k));
      if (v == null) {
        return Status.NOT_FOUND;
      }
      result(v, fields, result);
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("read", k, e);
    }
  }

  @Override
  public Status scan(String t, String startKey, int count, Set<String> fields,
                     Vector<HashMap<String, ByteIterator>> result) {
    try (Txn<ByteBuffer> txn = env.txnRead(); Cursor<ByteBuffer> c = db.openCursor(txn)) {
      boolean more = c.get(key(startKey), GetOp.MDB_SET_RANGE);
      while (more && result.size() < count) {
        HashMap<String, ByteIterator> r = new HashMap<>();
        result(c.val(), fields, r);
        result.add(r);
        more = c.next();
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("scan", startKey, e);
    }
  }

  /** Puts {@code all} with {@code values} written over it under the current key, and commits. */
  private Status put(Txn<ByteBuffer> txn, byte[] all, Map<String, ByteIterator> values) {
    rec.put(values, all, 0);
    value.clear();
    value.put(all).flip();
    db.put(txn, key, value);
    txn.commit();
    return Status.OK;
  }

  @Override
  public Status update(String t, String k, Map<String, ByteIterator> values) {
    try (Txn<ByteBuffer> txn = env.txnWrite()) {
      ByteBuffer old = db.get(txn, key(k));
      if (old == null) {
        return Status.NOT_FOUND; // the transaction is aborted by close()
      }
      byte[] all = new byte[rec.valueBytes()];
      old.get(all);
      return put(txn, all, values);
    } catch (RuntimeException e) {
      return failed("update", k, e);
    }
  }

  @Override
  public Status insert(String t, String k, Map<String, ByteIterator> values) {
    try (Txn<ByteBuffer> txn = env.txnWrite()) {
      key(k);
      return put(txn, new byte[rec.valueBytes()], values);
    } catch (RuntimeException e) {
      return failed("insert", k, e);
    }
  }

  @Override
  public Status delete(String t, String k) {
    return Status.NOT_IMPLEMENTED;
  }
}
