package org.snapshot.ycsb;

import java.nio.file.Files;
import java.nio.file.Path;

import com.intel.pmem.llpl.Transaction;
import com.intel.pmem.llpl.TransactionalHeap;
import com.intel.pmem.llpl.TransactionalMemoryBlock;

/**
 * {@link HashTable} in an Intel LLPL {@code TransactionalHeap}, LLPL's documented transactional
 * idiom: every record is its own memory block (allocated with an initializer, LLPL's way to fill
 * a new block without logging it), the bucket array is one block of handles, the heap's root is a
 * small header block, and every insert or update is one {@code Transaction} (writes to
 * transactional blocks inside it are undo-logged by LLPL; the commit flushes them).
 */
final class LlplTable extends HashTable {
  private static final long MAGIC = 0x31504c5042534359L; // "YCSBLPL1"
  // Root block: [magic][fieldcount][fieldlength][buckets][bucket array handle]
  private static final long R_FIELDS = 8;
  private static final long R_LENGTH = 16;
  private static final long R_BUCKETS = 24;
  private static final long R_ARRAY = 32;
  private static final long ROOT_BYTES = 40;

  private final TransactionalHeap heap;
  private final TransactionalMemoryBlock array;

  private LlplTable(Records rec, long buckets, TransactionalHeap heap, TransactionalMemoryBlock array) {
    super(rec, buckets);
    this.heap = heap;
    this.array = array;
  }

  /** Creates the heap for {@code capacity} records at {@code path}, or opens it if it exists. */
  static LlplTable openOrCreate(Path path, Records rec, long capacity) {
    String file = path.toString();
    if (Files.exists(path)) {
      TransactionalHeap heap = TransactionalHeap.openHeap(file);
      TransactionalMemoryBlock root = heap.getRoot() == 0 ? null : heap.memoryBlockFromHandle(heap.getRoot());
      if (root == null || root.getLong(0) != MAGIC || root.getLong(R_FIELDS) != rec.fields
          || root.getLong(R_LENGTH) != rec.length) {
        throw new IllegalStateException(path + " is not a YCSB table of " + rec.fields + " x "
            + rec.length + "-byte fields; delete it to start again");
      }
      return new LlplTable(rec, root.getLong(R_BUCKETS), heap,
          heap.memoryBlockFromHandle(root.getLong(R_ARRAY)));
    }
    long buckets = bucketsFor(capacity);
    // Room for the records with the allocator's per-block header and rounding, and the buckets.
    long size = capacity * (VALUE + rec.valueBytes() + 128) + 8 * buckets + (64L << 20);
    TransactionalHeap heap = TransactionalHeap.createHeap(file, size);
    TransactionalMemoryBlock[] made = new TransactionalMemoryBlock[1];
    Transaction.create(heap, () -> {
      TransactionalMemoryBlock array = heap.allocateMemoryBlock(8 * buckets,
          range -> range.setMemory((byte) 0, 0, 8 * buckets));
      TransactionalMemoryBlock root = heap.allocateMemoryBlock(ROOT_BYTES, range -> {
        range.setLong(0, MAGIC);
        range.setLong(R_FIELDS, rec.fields);
        range.setLong(R_LENGTH, rec.length);
        range.setLong(R_BUCKETS, buckets);
        range.setLong(R_ARRAY, array.handle());
      });
      heap.setRoot(root.handle());
      made[0] = array;
    });
    return new LlplTable(rec, buckets, heap, made[0]);
  }

  @Override
  protected long bucket(long i) {
    return array.getLong(8 * i);
  }

  @Override
  protected void setBucket(long i, long ref) {
    array.setLong(8 * i, ref);
  }

  @Override
  protected long newRecord(byte[] image) {
    return heap.allocateMemoryBlock(image.length, range -> range.copyFromArray(image, 0, 0, image.length)).handle();
  }

  @Override
  protected void read(long ref, long off, byte[] dst, int dstOff, int len) {
    heap.memoryBlockFromHandle(ref).copyToArray(off, dst, dstOff, len);
  }

  @Override
  protected void write(long ref, long off, byte[] src, int srcOff, int len) {
    heap.memoryBlockFromHandle(ref).copyFromArray(src, srcOff, off, len);
  }

  @Override
  protected void atomically(Runnable update) {
    Transaction.create(heap, update);
  }

  @Override
  public void close() {
    // LLPL 1.2 has no public close: the heap stays mapped until the JVM exits, and every
    // transaction is already durable.
  }
}
