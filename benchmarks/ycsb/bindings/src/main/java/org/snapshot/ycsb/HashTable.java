package org.snapshot.ycsb;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.Vector;

import site.ycsb.ByteIterator;

/**
 * A chained hash table of fixed-size YCSB records, written once and stored by two bindings
 * (Snapshot's region, LLPL's transactional heap), so both run the same algorithm. A record is
 * {@code [next ref: 8][key length: 8][key: 32][fields: F x L]}, little-endian; a ref is the
 * store's own (region offset, LLPL handle), 0 = none. Every insert and update is one
 * {@link #atomically} call, durable when it returns. Records are never deleted (YCSB's core
 * workloads do not delete). One lock: YCSB may run several client threads on one store.
 */
abstract class HashTable implements AutoCloseable {
  static final int NEXT = 0;
  static final int KEYLEN = 8;
  static final int KEY = 16;
  static final int VALUE = KEY + Records.MAX_KEY;

  final Records rec;
  final long buckets;
  private final byte[] head = new byte[VALUE];

  HashTable(Records rec, long buckets) {
    if (Long.bitCount(buckets) != 1) {
      throw new IllegalArgumentException("buckets must be a power of two: " + buckets);
    }
    this.rec = rec;
    this.buckets = buckets;
  }

  /** Buckets for a table of {@code capacity} records: a load factor of at most 1. */
  static long bucketsFor(long capacity) {
    return Long.highestOneBit(Math.max(capacity, 64) * 2 - 1);
  }

  /** Bytes of one record. */
  int recordBytes() {
    return VALUE + rec.valueBytes();
  }

  protected abstract long bucket(long i);

  protected abstract void setBucket(long i, long ref);

  /** A new record holding {@code image}; throws (before any store) if the store is full. */
  protected abstract long newRecord(byte[] image);

  protected abstract void read(long ref, long off, byte[] dst, int dstOff, int len);

  protected abstract void write(long ref, long off, byte[] src, int srcOff, int len);

  /** Runs {@code update} as one failure-atomic update, durable when this returns. */
  protected abstract void atomically(Runnable update);

  static long getLong(byte[] b, int off) {
    long v = 0;
    for (int i = 7; i >= 0; i--) {
      v = (v << 8) | (b[off + i] & 0xff);
    }
    return v;
  }

  static void putLong(byte[] b, int off, long v) {
    for (int i = 0; i < 8; i++) {
      b[off + i] = (byte) (v >>> (8 * i));
    }
  }

  private long bucketOf(byte[] key) {
    return Records.hash(key) & (buckets - 1);
  }

  private long find(byte[] key, long b) {
    long ref = bucket(b);
    while (ref != 0) {
      read(ref, 0, head, 0, VALUE);
      if (getLong(head, KEYLEN) == key.length && java.util.Arrays.equals(head, KEY, KEY + key.length, key, 0, key.length)) {
        return ref;
      }
      ref = getLong(head, NEXT);
    }
    return 0;
  }

  /** Inserts a record (fields not given are zero); an existing key is overwritten. */
  synchronized void insert(String key, Map<String, ByteIterator> values) {
    byte[] k = Records.key(key);
    long b = bucketOf(k);
    if (find(k, b) != 0) {
      update(key, values);
      return;
    }
    byte[] image = new byte[recordBytes()];
    putLong(image, NEXT, bucket(b));
    putLong(image, KEYLEN, k.length);
    System.arraycopy(k, 0, image, KEY, k.length);
    rec.put(values, image, VALUE);
    atomically(() -> setBucket(b, newRecord(image)));
  }

  /** Writes the given fields of an existing record; false if there is none. */
  synchronized boolean update(String key, Map<String, ByteIterator> values) {
    byte[] k = Records.key(key);
    long ref = find(k, bucketOf(k));
    if (ref == 0) {
      return false;
    }
    byte[][] v = new byte[values.size()][];
    int[] at = new int[v.length];
    int n = 0;
    for (Map.Entry<String, ByteIterator> e : values.entrySet()) {
      at[n] = rec.field(e.getKey());
      v[n] = e.getValue().toArray();
      if (v[n].length != rec.length) {
        throw new IllegalArgumentException("field " + e.getKey() + " has " + v[n].length + " bytes, not " + rec.length);
      }
      n++;
    }
    atomically(() -> {
      for (int i = 0; i < v.length; i++) {
        write(ref, VALUE + (long) at[i] * rec.length, v[i], 0, rec.length);
      }
    });
    return true;
  }

  private void value(long ref, Set<String> fields, Map<String, ByteIterator> result) {
    byte[] all = new byte[rec.valueBytes()];
    read(ref, VALUE, all, 0, all.length);
    rec.get(all, 0, fields, result);
  }

  /** The requested fields (all if null); false if there is no such record. */
  synchronized boolean read(String key, Set<String> fields, Map<String, ByteIterator> result) {
    byte[] k = Records.key(key);
    long ref = find(k, bucketOf(k));
    if (ref == 0) {
      return false;
    }
    value(ref, fields, result);
    return true;
  }

  /**
   * {@code count} records from {@code startKey} on, in the table's order (the rest of its chain,
   * then the following buckets): a hash table has no key order, and YCSB checks none. False if
   * there is no record {@code startKey}.
   */
  synchronized boolean scan(String startKey, int count, Set<String> fields,
                            Vector<HashMap<String, ByteIterator>> result) {
    byte[] k = Records.key(startKey);
    long b = bucketOf(k);
    long ref = find(k, b);
    if (ref == 0) {
      return false;
    }
    for (long seen = 0; result.size() < count && seen < buckets; ) {
      HashMap<String, ByteIterator> r = new HashMap<>();
      value(ref, fields, r);
      result.add(r);
      read(ref, NEXT, head, 0, 8);
      ref = getLong(head, 0);
      while (ref == 0 && ++seen < buckets) {
        b = (b + 1) & (buckets - 1);
        ref = bucket(b);
      }
    }
    return true;
  }

  @Override
  public abstract void close();
}
