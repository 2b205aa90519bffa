package org.snapshot.ycsb;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;

import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;
import org.snapshot.heap.PersistentHeap;
import org.snapshot.heap.PersistentSortedMap;

import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * YCSB binding "snapmap": Snapshot's sorted map ({@link PersistentSortedMap}, a B+tree in a
 * {@link PersistentHeap} in one {@link PersistentRegion}), keyed by YCSB's key, the value all
 * F x L field bytes ({@link Records}), as with lmdbjava and MapDB. Every insert and update is one
 * {@code commit()} (the region's msync). An update gets the value, changes the given fields and
 * puts it back. A scan walks the map in key order from the start key.
 *
 * <p>Properties: {@code snapmap.path} (the data file; created by the load phase, reopened by the
 * run phase), {@code snapmap.medium} ({@code pm}: emulated persistent memory, a file on /dev/shm;
 * {@code disk}: the file back end), {@code snapmap.populate} (default {@code true}, as the
 * {@code snapshot} binding: {@link Options#populate}), {@code snapmap.initial} (bytes of a new
 * region, default 64 MiB; the heap grows it) and {@code snapmap.max} (its address-space
 * reservation, {@link Options#maxSize}; default four times the records' bytes, at least 1 GiB).
 *
 * <p>One map per JVM, shared by YCSB's client threads behind one lock (the region is opened with
 * {@code noConcurrentWriters}, which that lock makes true). A write that throws may have changed
 * the map half-way, and the next commit would make that durable: after one, the binding commits
 * nothing more and fails every operation, and the store is closed without a commit.
 */
public class SnapshotMapDB extends DB {
  private static final long DEFAULT_INITIAL = 64L << 20;
  private static final Object LOCK = new Object();
  private static PersistentRegion region;
  private static PersistentSortedMap map;
  private static boolean broken;
  private static int users;

  private Records rec;

  @Override
  public void init() throws DBException {
    Properties p = getProperties();
    rec = new Records(p);
    synchronized (LOCK) {
      if (users == 0) {
        open(p, rec);
      }
      users++;
    }
  }

  private static void open(Properties p, Records rec) throws DBException {
    String path = p.getProperty("snapmap.path");
    String medium = p.getProperty("snapmap.medium", "pm");
    if (path == null) {
      throw new DBException("snapmap: set -p snapmap.path=FILE");
    }
    if (!medium.equals("pm") && !medium.equals("disk")) {
      throw new DBException("snapmap.medium must be pm or disk, not " + medium);
    }
    long records = (rec.valueBytes() + Records.MAX_KEY) * Records.capacity(p);
    long initial = Records.longProperty(p, "snapmap.initial", DEFAULT_INITIAL);
    long max = Records.longProperty(p, "snapmap.max", Math.max(1L << 30, 4 * records));
    Options o = Options.defaults().backend(medium.equals("pm") ? Backend.EMULATED_PMEM : Backend.FILE)
        .noConcurrentWriters(true) // every change and commit runs under LOCK
        .populate(Boolean.parseBoolean(p.getProperty("snapmap.populate", "true")))
        .maxSize(max);
    Path file = Path.of(path);
    PersistentRegion r = null;
    try {
      r = Files.exists(file) ? PersistentRegion.open(file, o)
          : PersistentRegion.create(file, Math.min(initial, max), o.exclusive(true));
      PersistentSortedMap m = PersistentSortedMap.open(PersistentHeap.open(r));
      m.commit(); // a new, empty map is durable before the load's first insert
      region = r;
      map = m;
      broken = false;
    } catch (RuntimeException e) {
      if (r != null) {
        r.close();
      }
      throw new DBException("snapmap: cannot open " + path + ": " + e, e);
    }
  }

  @Override
  public void cleanup() throws DBException {
    synchronized (LOCK) {
      if (--users == 0) {
        region.close();
        region = null;
        map = null;
      }
    }
  }

  private static Status failed(String op, String k, RuntimeException e) {
    return Failures.failed("snapmap", op, k, e);
  }

  private static Status brokenStatus(String op, String k) {
    return failed(op, k, new IllegalStateException("an earlier write failed; nothing is committed any more"));
  }

  @Override
  public Status read(String t, String k, Set<String> fields, Map<String, ByteIterator> result) {
    try {
      byte[] v;
      synchronized (LOCK) {
        if (broken) {
          return brokenStatus("read", k);
        }
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
        if (broken) {
          return brokenStatus("scan", startKey);
        }
        Iterator<Map.Entry<byte[], byte[]>> it = map.ascending(Records.key(startKey));
        while (result.size() < count && it.hasNext()) {
          HashMap<String, ByteIterator> r = new HashMap<>();
          rec.get(it.next().getValue(), 0, fields, r);
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
        if (broken) {
          return brokenStatus("update", k);
        }
        byte[] all = map.get(key); // a copy out of the region
        if (all == null) {
          return Status.NOT_FOUND;
        }
        rec.put(values, all, 0); // a bad field throws here, before the map changes
        write(key, all);
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("update", k, e);
    }
  }

  /** Puts and commits; a failure leaves the binding broken. Under LOCK. */
  private static void write(byte[] key, byte[] value) {
    try {
      map.put(key, value);
      map.commit();
    } catch (RuntimeException e) {
      broken = true;
      throw e;
    }
  }

  @Override
  public Status insert(String t, String k, Map<String, ByteIterator> values) {
    try {
      byte[] key = Records.key(k);
      byte[] all = new byte[rec.valueBytes()];
      rec.put(values, all, 0);
      synchronized (LOCK) {
        if (broken) {
          return brokenStatus("insert", k);
        }
        write(key, all);
      }
      return Status.OK;
    } catch (RuntimeException e) {
      return failed("insert", k, e);
    }
  }

  @Override
  public Status delete(String t, String k) {
    return Status.NOT_IMPLEMENTED;
  }
}
