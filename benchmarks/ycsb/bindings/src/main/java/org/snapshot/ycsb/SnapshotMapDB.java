package org.snapshot.ycsb;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;

import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;
import org.snapshot.heap.PersistentHeap;
import org.snapshot.heap.PersistentSortedMap;

import site.ycsb.DBException;

/**
 * YCSB binding "snapmap": Snapshot's sorted map ({@link PersistentSortedMap}, a B+tree in a
 * {@link PersistentHeap} in one {@link PersistentRegion}); every put is followed by the map's
 * {@code commit()} (the region's msync). Operations: {@link SortedMapDB}. A region cannot drop
 * uncommitted changes short of closing, so a failed put breaks the binding, and closing it
 * discards the change.
 *
 * <p>Properties: {@code snapmap.path} (the data file; created by the load phase, reopened by the
 * run phase), {@code snapmap.medium} ({@code pm}: emulated persistent memory, a file on /dev/shm;
 * {@code disk}: the file back end), {@code snapmap.populate} (default {@code true}, as the
 * {@code snapshot} binding: {@link Options#populate}), {@code snapmap.initial} (bytes of a new
 * region, default 64 MiB; the heap grows it) and {@code snapmap.max} (its address-space
 * reservation, {@link Options#maxSize}; default four times the records' bytes, at least 1 GiB).
 * The region is opened with {@code noConcurrentWriters}: the binding's lock makes it true.
 */
public class SnapshotMapDB extends SortedMapDB {
  private static final long DEFAULT_INITIAL = 64L << 20;

  @Override
  protected String name() {
    return "snapmap";
  }

  @Override
  protected Store open(Properties p, Records rec) throws DBException {
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
        .noConcurrentWriters(true)
        .populate(Boolean.parseBoolean(p.getProperty("snapmap.populate", "true")))
        .maxSize(max);
    Path file = Path.of(path);
    PersistentRegion r = null;
    try {
      r = Files.exists(file) ? PersistentRegion.open(file, o)
          : PersistentRegion.create(file, Math.min(initial, max), o.exclusive(true));
      PersistentSortedMap m = PersistentSortedMap.open(PersistentHeap.open(r));
      m.commit(); // a new, empty map is durable before the load's first insert
      return new MapStore(r, m);
    } catch (RuntimeException e) {
      if (r != null) {
        r.close();
      }
      throw new DBException("snapmap: cannot open " + path + ": " + e, e);
    }
  }

  private record MapStore(PersistentRegion region, PersistentSortedMap map) implements Store {
    @Override
    public byte[] get(byte[] key) {
      return map.get(key); // a copy out of the region
    }

    @Override
    public Iterator<byte[]> valuesFrom(byte[] key) {
      Iterator<Map.Entry<byte[], byte[]>> it = map.ascending(key);
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          return it.hasNext();
        }

        @Override
        public byte[] next() {
          return it.next().getValue();
        }
      };
    }

    @Override
    public void putAndCommit(byte[] key, byte[] value) {
      map.put(key, value);
      map.commit();
    }

    @Override
    public boolean discard() {
      return false;
    }

    @Override
    public void close() {
      region.close();
    }
  }
}
