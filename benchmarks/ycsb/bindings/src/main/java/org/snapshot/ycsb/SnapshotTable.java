package org.snapshot.ycsb;

import java.nio.file.Files;
import java.nio.file.Path;

import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;

/**
 * {@link HashTable} in one Snapshot region, through the public API only: plain stores into the
 * region, and {@code msync()} after every insert or update (the commit). Layout: a 64-byte header
 * {@code [magic][fieldcount][fieldlength][buckets][capacity][next free]}, the bucket array (8 bytes
 * each), then the records, each rounded up to a 64-byte line, allocated by bumping "next free".
 */
final class SnapshotTable extends HashTable {
  private static final long MAGIC = 0x31504e5342534359L; // "YCSBSNP1"
  private static final long H_FIELDS = 8;
  private static final long H_LENGTH = 16;
  private static final long H_BUCKETS = 24;
  private static final long H_CAPACITY = 32;
  private static final long H_FREE = 40;
  private static final long BUCKETS = 64;

  private final PersistentRegion region;
  private final long stride;

  private SnapshotTable(Records rec, long buckets, PersistentRegion region) {
    super(rec, buckets);
    this.region = region;
    this.stride = stride(rec);
  }

  private static long stride(Records rec) {
    return align(VALUE + rec.valueBytes());
  }

  private static long align(long n) {
    return (n + 63) & ~63L;
  }

  private static long recordsStart(long buckets) {
    return align(BUCKETS + 8 * buckets);
  }

  /**
   * Creates the table for {@code capacity} records at {@code path}, or opens it if the file exists.
   * {@code pm}: emulated persistent memory (a file on /dev/shm), else the file back end (disk).
   * {@code populate}: fault in the region's DRAM copy at open ({@link Options#populate}).
   */
  static SnapshotTable openOrCreate(Path path, boolean pm, boolean populate, Records rec, long capacity) {
    Options o = Options.defaults().backend(pm ? Backend.EMULATED_PMEM : Backend.FILE)
        .noConcurrentWriters(true) // every store and msync runs under the table's lock
        .populate(populate);
    if (Files.exists(path)) {
      PersistentRegion r = PersistentRegion.open(path, o);
      try {
        if (r.getLong(0) != MAGIC || r.getLong(H_FIELDS) != rec.fields || r.getLong(H_LENGTH) != rec.length) {
          throw new IllegalStateException(path + " is not a YCSB table of " + rec.fields + " x "
              + rec.length + "-byte fields; delete it to start again");
        }
        return new SnapshotTable(rec, r.getLong(H_BUCKETS), r);
      } catch (RuntimeException e) {
        r.close();
        throw e;
      }
    }
    long buckets = bucketsFor(capacity);
    long size = recordsStart(buckets) + capacity * stride(rec);
    PersistentRegion r = PersistentRegion.create(path, size, o.exclusive(true));
    r.putLong(H_FIELDS, rec.fields);
    r.putLong(H_LENGTH, rec.length);
    r.putLong(H_BUCKETS, buckets);
    r.putLong(H_CAPACITY, capacity);
    r.putLong(H_FREE, recordsStart(buckets));
    r.putLong(0, MAGIC);
    r.msync();
    return new SnapshotTable(rec, buckets, r);
  }

  @Override
  protected long bucket(long i) {
    return region.getLong(BUCKETS + 8 * i);
  }

  @Override
  protected void setBucket(long i, long ref) {
    region.putLong(BUCKETS + 8 * i, ref);
  }

  @Override
  protected long newRecord(byte[] image) {
    long at = region.getLong(H_FREE);
    if (at + stride > region.size()) {
      throw new IllegalStateException("table full: " + region.getLong(H_CAPACITY)
          + " records (sized from recordcount, operationcount and insertproportion)");
    }
    region.putBytes(at, image);
    region.putLong(H_FREE, at + stride);
    return at;
  }

  @Override
  protected void read(long ref, long off, byte[] dst, int dstOff, int len) {
    region.getBytes(ref + off, dst, dstOff, len);
  }

  @Override
  protected void write(long ref, long off, byte[] src, int srcOff, int len) {
    region.putBytes(ref + off, src, srcOff, len);
  }

  @Override
  protected void atomically(Runnable update) {
    // The updates throw (table full) before their first store, so nothing half-done is
    // left for the next msync to commit.
    update.run();
    region.msync();
  }

  @Override
  public void close() {
    region.close();
  }
}
