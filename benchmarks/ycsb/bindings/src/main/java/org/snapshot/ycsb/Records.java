package org.snapshot.ycsb;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import site.ycsb.ByteArrayByteIterator;
import site.ycsb.ByteIterator;
import site.ycsb.DBException;

/**
 * The shape of a YCSB record, the same for every binding: a key of at most {@link #MAX_KEY} ASCII
 * bytes and {@code fieldcount} fields named {@code field0..} of exactly {@code fieldlength} bytes
 * (YCSB's defaults: 10 x 100; fieldlengthdistribution must stay constant). A field a write does
 * not give stays as it was (update) or zero (insert).
 */
final class Records {
  static final int MAX_KEY = 32;

  final int fields;
  final int length;

  Records(Properties p) throws DBException {
    fields = intProperty(p, "fieldcount", 10);
    length = intProperty(p, "fieldlength", 100);
    String dist = p.getProperty("fieldlengthdistribution", "constant");
    if (!dist.equals("constant")) {
      throw new DBException("fixed-size records: fieldlengthdistribution must be constant, not " + dist);
    }
  }

  static int intProperty(Properties p, String name, int dflt) throws DBException {
    long v = longProperty(p, name, dflt);
    if (v < 1 || v > Integer.MAX_VALUE) {
      throw new DBException("property " + name + " out of range: " + v);
    }
    return (int) v;
  }

  static long longProperty(Properties p, String name, long dflt) throws DBException {
    String v = p.getProperty(name);
    try {
      return v == null ? dflt : Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new DBException("property " + name + " is not an integer: " + v);
    }
  }

  /**
   * Records a store must hold: the load phase's, plus the run phase's inserts (workloads D and E)
   * with a margin, since the store is sized once, at creation.
   */
  static long capacity(Properties p) throws DBException {
    long records = longProperty(p, "recordcount", 0);
    long ops = longProperty(p, "operationcount", 0);
    double insert = Double.parseDouble(p.getProperty("insertproportion", "0"));
    return records + (long) Math.ceil(ops * insert * 1.5) + 1024;
  }

  /** Bytes of all fields of one record. */
  int valueBytes() {
    return fields * length;
  }

  static byte[] key(String key) {
    byte[] k = key.getBytes(StandardCharsets.US_ASCII);
    if (k.length > MAX_KEY) {
      throw new IllegalArgumentException("key longer than " + MAX_KEY + " bytes: " + key);
    }
    return k;
  }

  /** 64-bit FNV-1a, then a final mix so that the low bits (the bucket) depend on every byte. */
  static long hash(byte[] key) {
    long h = 0xcbf29ce484222325L;
    for (byte b : key) {
      h = (h ^ (b & 0xff)) * 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    return h ^ (h >>> 33);
  }

  /** Index of YCSB's field name {@code field<i>}. */
  int field(String name) {
    if (name.startsWith("field")) {
      try {
        int i = Integer.parseInt(name.substring(5));
        if (i >= 0 && i < fields) {
          return i;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
    }
    throw new IllegalArgumentException("no field " + name + " (fieldcount " + fields + ")");
  }

  /** Copies the given fields' values into {@code dst}, field i at {@code base + i * length}. */
  void put(Map<String, ByteIterator> values, byte[] dst, int base) {
    for (Map.Entry<String, ByteIterator> e : values.entrySet()) {
      byte[] v = e.getValue().toArray();
      if (v.length != length) {
        throw new IllegalArgumentException("field " + e.getKey() + " has " + v.length + " bytes, not " + length);
      }
      System.arraycopy(v, 0, dst, base + field(e.getKey()) * length, length);
    }
  }

  /** The requested fields (all if null) from a record's value bytes, as YCSB's read result. */
  void get(byte[] src, int base, Set<String> wanted, Map<String, ByteIterator> result) {
    if (wanted == null) {
      for (int i = 0; i < fields; i++) {
        result.put("field" + i, new ByteArrayByteIterator(src, base + i * length, length));
      }
    } else {
      for (String name : wanted) {
        result.put(name, new ByteArrayByteIterator(src, base + field(name) * length, length));
      }
    }
  }
}
