package org.snapshot.ycsb;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;

import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * The YCSB binding of a sorted key-value store: key -> all F x L field bytes ({@link Records}).
 * A read gets the value; an update gets it, changes the given fields and puts it back whole; an
 * insert puts a new value; every put is committed (durable) before YCSB's call returns; a scan
 * walks the values in key order from the start key. YCSB makes one DB per client thread; they
 * share one store per JVM, opened by the first and closed by the last, and every operation holds
 * one lock, so that a commit never takes another thread's half-done change with it.
 *
 * <p>A put that throws may leave an uncommitted change behind. A store that can drop it
 * ({@link Store#discard()}) carries on; one that cannot would make it durable with the next
 * commit, so the binding then commits nothing more and fails every operation.
 */
abstract class SortedMapDB extends DB {
  /** What a binding provides: one store per JVM. Every call runs under the binding's lock. */
  interface Store {
    /** The value of {@code key} (an array the caller may change), or null. */
    byte[] get(byte[] key);

    /** The values from {@code key} on, in key order. */
    Iterator<byte[]> valuesFrom(byte[] key);

    /** Sets {@code key} to {@code value} and commits. */
    void putAndCommit(byte[] key, byte[] value);

    /** Drops what a failed put left uncommitted; false if the store cannot. */
    boolean discard();

    /** Closes the store; what is not committed is lost. */
    void close();
  }

  private static final Object LOCK = new Object();
  private static Store store;
  private static boolean broken;
  private static int users;

  private Records rec;

  /** The binding's name in messages. */
  protected abstract String name();

  /** Creates the store (load phase) or opens it (run phase, a new JVM); it is durable on return. */
  protected abstract Store open(Properties p, Records rec) throws DBException;

  @Override
  public void init() throws DBException {
    Properties p = getProperties();
    rec = new Records(p);
    synchronized (LOCK) {
      if (users == 0) {
        store = open(p, rec);
        broken = false;
      }
      users++;
    }
  }

  @Override
  public void cleanup() throws DBException {
    synchronized (LOCK) {
      if (--users == 0) {
        store.close();
        store = null;
      }
    }
  }

  private Status failed(String op, String k, RuntimeException e) {
    return Failures.failed(name(), op, k, e);
  }

  /** Under LOCK: a failure if an earlier put broke the binding, else null. */
  private Status brokenStatus(String op, String k) {
    if (!broken) {
      return null;
    }
    return failed(op, k, new IllegalStateException("an earlier write failed; nothing is committed any more"));
  }

  @Override
  public Status read(String t, String k, Set<String> fields, Map<String, ByteIterator> result) {
    try {
      byte[] v;
      synchronized (LOCK) {
        Status b = brokenStatus("read", k);
        if (b != null) {
          return b;
        }
        v = store.get(Records.key(k));
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
        Status b = brokenStatus("scan", startKey);
        if (b != null) {
          return b;
        }
        Iterator<byte[]> it = store.valuesFrom(Records.key(startKey));
        while (result.size() < count && it.hasNext()) {
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
        Status b = brokenStatus("update", k);
        if (b != null) {
          return b;
        }
        byte[] all = store.get(key);
        if (all == null) {
          return Status.NOT_FOUND;
        }
        rec.put(values, all, 0); // a bad field throws here, before the store changes
        write(key, all);
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("update", k, e);
    }
  }

  @Override
  public Status insert(String t, String k, Map<String, ByteIterator> values) {
    try {
      byte[] key = Records.key(k);
      byte[] all = new byte[rec.valueBytes()];
      rec.put(values, all, 0);
      synchronized (LOCK) {
        Status b = brokenStatus("insert", k);
        if (b != null) {
          return b;
        }
        write(key, all);
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("insert", k, e);
    }
  }

  /** Under LOCK: puts and commits; after a failure, discards or breaks the binding. */
  private static void write(byte[] key, byte[] value) {
    try {
      store.putAndCommit(key, value);
    } catch (RuntimeException e) {
      boolean dropped;
      try {
        dropped = store.discard();
      } catch (RuntimeException again) {
        dropped = false;
      }
      broken = !dropped;
      throw e;
    }
  }

  @Override
  public Status delete(String t, String k) {
    return Status.NOT_IMPLEMENTED;
  }
}
