// PersistentSortedMap — a B+tree of byte-array keys and values on a PersistentHeap.
package org.snapshot.heap;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.snapshot.PersistentRegion;

/**
 * A sorted map from byte-array keys to byte-array values, ordered by unsigned lexicographic
 * comparison of the keys (as {@link Arrays#compareUnsigned(byte[], byte[])}; {@link LongKey} makes
 * long keys), stored as a B+tree in a {@link PersistentHeap}. {@link #commit()} makes every change
 * since the last commit durable at once; after a crash the map is exactly as of the last commit,
 * and its heap holds no block the map does not reach. No fixed capacity: nodes and records come
 * from the heap, which grows the region.
 *
 * <pre>{@code
 * try (PersistentRegion r = PersistentRegion.create(Path.of("kv.db"), 1 << 20)) {
 *     PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
 *     map.put("apple".getBytes(), "red".getBytes());
 *     map.commit();
 * }
 * }</pre>
 *
 * <p><b>Layout.</b> The heap's root is the map header {magic "SNAPBTRE", root node, entries,
 * height}. A node is a 1008-byte block: {int magic "NODE", short level (0: leaf), short count,
 * 8 zero bytes}, then the entries; unused slots are zero. A leaf holds up to 62 entries
 * {record handle, first 8 key bytes big-endian}; an inner node up to 41 {child, separator handle,
 * separator's first 8 bytes}, where separator i (i >= 1) is the smallest key child i may hold and
 * slot 0 has none. A record is a block {int key length, int value length, int CRC-32C of the
 * lengths, key and value, int 0, key, value}; a separator is a record with an empty value, owned
 * by its inner node. The 8-byte prefixes settle most comparisons without reading a record.
 * Nodes split when full; a node that becomes empty is freed (and the root collapses when it has one
 * child); nodes are not merged when merely underfull.
 *
 * <p><b>Threads.</b> All methods are thread-safe. This first version guards the tree with one
 * {@link ReentrantReadWriteLock}: gets, {@link #size()} and iterator refills run in parallel,
 * {@code put} and {@code remove} one at a time. {@link #commit()} takes no tree lock: it waits
 * only for the update in flight, and concurrent commits share one msync (group commit). Next
 * step: per-node latches (lock coupling, or optimistic version checks for readers), so that
 * updates to different leaves proceed in parallel.
 *
 * <p><b>Iterators</b> are weakly consistent: they fetch entries in batches, each under the read
 * lock, resuming after the last key returned; they never throw
 * {@link java.util.ConcurrentModificationException}, return each key at most once and in order,
 * and reflect updates made between batches.
 *
 * <p><b>Damage.</b> Every node and record read is checked (block header, magic, level, count,
 * lengths); {@link #verify()} checks everything, including each record's checksum and that every
 * heap block is reachable. They throw {@link CorruptHeapException}; a walk never loops (levels
 * strictly decrease along every path, and the height is at most 32), nor does an iterator (each
 * batch must go on strictly past the last key returned). A get does not check the value's
 * checksum.
 */
public final class PersistentSortedMap {
    static final long MAGIC = 0x45525442504E4153L; // "SNAPBTRE", little-endian
    static final int NODE_MAGIC = 0x45444F4E;      // "NODE"
    static final int HEADER_BYTES = 32;
    static final long H_ROOT = 8, H_COUNT = 16, H_HEIGHT = 24;
    static final int NODE_BYTES = 1008; // with its block header: a 1024-byte block
    static final int ENTRIES = 16;
    static final int LEAF_SLOT = 16, INNER_SLOT = 24;
    static final int LEAF_CAP = (NODE_BYTES - ENTRIES) / LEAF_SLOT;   // 62
    static final int INNER_CAP = (NODE_BYTES - ENTRIES) / INNER_SLOT; // 41
    static final int MAX_HEIGHT = 32;
    static final int RECORD_HEADER = 16;
    /** Longest key, in bytes. */
    public static final int MAX_KEY = 4096;
    /** Longest value, in bytes. */
    public static final int MAX_VALUE = 1 << 30;
    private static final int BATCH = 64;

    private final PersistentHeap heap;
    private final PersistentRegion r;
    private final long header;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    private PersistentSortedMap(PersistentHeap heap, long header) {
        this.heap = heap;
        this.r = heap.region();
        this.header = header;
    }

    /**
     * The map at {@code heap}'s root; if the heap has no root, a new empty map, made the root
     * (durable with the next commit). One map object per heap.
     *
     * @throws CorruptHeapException if the root is not a map or its header is damaged
     */
    public static PersistentSortedMap open(PersistentHeap heap) {
        PersistentRegion r = heap.region();
        heap.gate.enter();
        try {
            long h = heap.root();
            if (h == 0) {
                h = heap.allocate(HEADER_BYTES);
                PersistentSortedMap m = new PersistentSortedMap(heap, h);
                long leaf = m.newNode(0);
                r.putLong(h, MAGIC);
                r.putLong(h + H_ROOT, leaf);
                r.putLong(h + H_COUNT, 0);
                r.putLong(h + H_HEIGHT, 1);
                heap.setRoot(h);
                return m;
            }
            if (heap.storedUsableSize(h) < HEADER_BYTES || r.getLong(h) != MAGIC) {
                throw new CorruptHeapException(h, "the heap's root is not a sorted map");
            }
            PersistentSortedMap m = new PersistentSortedMap(heap, h);
            m.node(m.rootNode(), m.height() - 1);
            return m;
        } finally {
            heap.gate.leave();
        }
    }

    /** The heap holding the map. */
    public PersistentHeap heap() {
        return heap;
    }

    // ---- Reading ---------------------------------------------------------------------------------

    private long rootNode() {
        return r.getLong(header + H_ROOT);
    }

    private int height() {
        long h = r.getLong(header + H_HEIGHT);
        if (h < 1 || h > MAX_HEIGHT) {
            throw new CorruptHeapException(header + H_HEIGHT, "map height " + h + " out of range");
        }
        return (int) h;
    }

    /** Check that {@code n} is a node of {@code level}; returns its entry count. */
    private int node(long n, int level) {
        if (heap.storedUsableSize(n) < NODE_BYTES) {
            throw new CorruptHeapException(n, "map node in a block too small");
        }
        if (r.getInt(n) != NODE_MAGIC || r.getShort(n + 4) != level) {
            throw new CorruptHeapException(n, "not a map node of level " + level);
        }
        int count = r.getShort(n + 6);
        if (count < 0 || count > (level == 0 ? LEAF_CAP : INNER_CAP)) {
            throw new CorruptHeapException(n, "map node count " + count + " out of range");
        }
        return count;
    }

    private long leafRecord(long n, int i) {
        return r.getLong(n + ENTRIES + (long) LEAF_SLOT * i);
    }

    private long leafPrefix(long n, int i) {
        return r.getLong(n + ENTRIES + (long) LEAF_SLOT * i + 8);
    }

    private long child(long n, int i) {
        return r.getLong(n + ENTRIES + (long) INNER_SLOT * i);
    }

    private long separator(long n, int i) {
        return r.getLong(n + ENTRIES + (long) INNER_SLOT * i + 8);
    }

    private long separatorPrefix(long n, int i) {
        return r.getLong(n + ENTRIES + (long) INNER_SLOT * i + 16);
    }

    /** The first 8 bytes of {@code key}, big-endian, zero-padded: unsigned order agrees with key order. */
    static long prefix(byte[] key) {
        long p = 0;
        for (int i = 0; i < 8; i++) {
            p = p << 8 | (i < key.length ? key[i] & 0xFF : 0);
        }
        return p;
    }

    /** Key length of record {@code rec}, checked against its block. */
    private int keyLength(long rec) {
        long cap = heap.storedUsableSize(rec);
        int k = r.getInt(rec), v = r.getInt(rec + 4);
        if (k < 0 || k > MAX_KEY || v < 0 || v > MAX_VALUE || RECORD_HEADER + (long) k + v > cap) {
            throw new CorruptHeapException(rec, "record lengths " + k + "/" + v
                    + " do not fit its block");
        }
        return k;
    }

    private byte[] key(long rec) {
        byte[] k = new byte[keyLength(rec)];
        r.getBytes(rec + RECORD_HEADER, k);
        return k;
    }

    private byte[] value(long rec) {
        int k = keyLength(rec);
        byte[] v = new byte[r.getInt(rec + 4)];
        r.getBytes(rec + RECORD_HEADER + k, v);
        return v;
    }

    private int compare(byte[] key, long kp, long rec, long recPrefix) {
        if (kp != recPrefix) {
            return Long.compareUnsigned(kp, recPrefix);
        }
        return Arrays.compareUnsigned(key, key(rec));
    }

    /** Index of {@code key} in leaf {@code n} ({@code count} entries), or -(insertion point) - 1. */
    private int leafSearch(long n, int count, byte[] key, long kp) {
        int lo = 0, hi = count - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = compare(key, kp, leafRecord(n, mid), leafPrefix(n, mid));
            if (c == 0) {
                return mid;
            } else if (c > 0) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return -lo - 1;
    }

    /** The child of inner node {@code n} whose range holds {@code key}. */
    private int childIndex(long n, int count, byte[] key, long kp) {
        int lo = 1, hi = count - 1, found = 0;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (compare(key, kp, separator(n, mid), separatorPrefix(n, mid)) >= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** The leaf whose range holds {@code key}; fills path (inner nodes, child taken) if not null. */
    private long findLeaf(byte[] key, long kp, long[] pathNodes, int[] pathIndex) {
        int height = height();
        long n = rootNode();
        for (int level = height - 1; level > 0; level--) {
            int count = node(n, level);
            if (count == 0) {
                throw new CorruptHeapException(n, "empty inner node");
            }
            int i = childIndex(n, count, key, kp);
            if (pathNodes != null) {
                pathNodes[height - 1 - level] = n;
                pathIndex[height - 1 - level] = i;
            }
            n = child(n, i);
        }
        return n;
    }

    private static void checkKey(byte[] key) {
        if (key.length > MAX_KEY) {
            throw new IllegalArgumentException("key of " + key.length + " bytes; at most " + MAX_KEY);
        }
    }

    /** {@code body} under the tree's read lock. */
    private <T> T reading(Supplier<T> body) {
        Lock l = lock.readLock();
        l.lock();
        try {
            return body.get();
        } finally {
            l.unlock();
        }
    }

    /** The record of {@code key}, or 0 if absent; under the read lock. */
    private long find(byte[] key) {
        checkKey(key);
        long kp = prefix(key);
        long leaf = findLeaf(key, kp, null, null);
        int i = leafSearch(leaf, node(leaf, 0), key, kp);
        return i < 0 ? 0 : leafRecord(leaf, i);
    }

    /** The value of {@code key}, or null if absent. */
    public byte[] get(byte[] key) {
        return reading(() -> {
            long rec = find(key);
            return rec == 0 ? null : value(rec);
        });
    }

    /**
     * Copy the value of {@code key} into {@code dst} (its position moves past it), without an
     * intermediate array. Returns the value's length, or -1 if the key is absent (dst unchanged).
     *
     * @throws BufferOverflowException if the value does not fit dst's remaining bytes (dst unchanged)
     */
    public int get(byte[] key, ByteBuffer dst) {
        return reading(() -> {
            long rec = find(key);
            if (rec == 0) {
                return -1;
            }
            int k = keyLength(rec), v = r.getInt(rec + 4);
            if (v > dst.remaining()) {
                throw new BufferOverflowException();
            }
            ByteBuffer d = dst.duplicate();
            d.limit(d.position() + v);
            r.getBytes(rec + RECORD_HEADER + k, d);
            dst.position(dst.position() + v);
            return v;
        });
    }

    /** True if {@code key} is present. */
    public boolean containsKey(byte[] key) {
        return reading(() -> find(key) != 0);
    }

    /** Number of entries. */
    public long size() {
        return reading(() -> r.getLong(header + H_COUNT));
    }

    // ---- Updating --------------------------------------------------------------------------------

    private long newNode(int level) {
        long n = heap.allocate(NODE_BYTES);
        r.fill(n, NODE_BYTES, (byte) 0);
        r.putInt(n, NODE_MAGIC);
        r.putShort(n + 4, (short) level);
        return n;
    }

    private static int recordCrc(byte[] key, byte[] value) {
        CRC32C c = new CRC32C();
        c.update(ByteBuffer.allocate(8).putInt(key.length).putInt(value.length).flip());
        c.update(key);
        c.update(value);
        return (int) c.getValue();
    }

    private static final byte[] EMPTY = new byte[0];

    private void writeRecord(long rec, byte[] key, byte[] value) {
        r.putInt(rec, key.length);
        r.putInt(rec + 4, value.length);
        r.putInt(rec + 8, recordCrc(key, value));
        r.putInt(rec + 12, 0);
        r.putBytes(rec + RECORD_HEADER, key);
        r.putBytes(rec + RECORD_HEADER + key.length, value);
    }

    private long newRecord(byte[] key, byte[] value) {
        long rec = heap.allocate(RECORD_HEADER + (long) key.length + value.length);
        writeRecord(rec, key, value);
        return rec;
    }

    private void setCount(long n, int count) {
        r.putShort(n + 6, (short) count);
    }

    private void addToCount(long delta) {
        r.putLong(header + H_COUNT, r.getLong(header + H_COUNT) + delta);
    }

    /**
     * Set {@code key} to {@code value} (both copied). Returns true if the key was new.
     *
     * @throws IllegalArgumentException for a key longer than {@link #MAX_KEY} or a value longer
     *                                  than {@link #MAX_VALUE}
     */
    public boolean put(byte[] key, byte[] value) {
        checkKey(key);
        if (value.length > MAX_VALUE) {
            throw new IllegalArgumentException("value of " + value.length + " bytes; at most "
                    + MAX_VALUE);
        }
        long kp = prefix(key);
        Lock l = lock.writeLock();
        l.lock();
        heap.gate.enter();
        try {
            long[] pathNodes = new long[MAX_HEIGHT];
            int[] pathIndex = new int[MAX_HEIGHT];
            long leaf = findLeaf(key, kp, pathNodes, pathIndex);
            int count = node(leaf, 0);
            int i = leafSearch(leaf, count, key, kp);
            if (i >= 0) {
                long old = leafRecord(leaf, i);
                long need = RECORD_HEADER + (long) key.length + value.length;
                long have = heap.storedUsableSize(old) + PersistentHeap.BLOCK_HEADER;
                if (PersistentHeap.blockSize(need) == have) {
                    writeRecord(old, key, value);
                } else {
                    r.putLong(leaf + ENTRIES + (long) LEAF_SLOT * i, newRecord(key, value));
                    heap.free(old);
                }
                return false;
            }
            i = -i - 1;
            long rec = newRecord(key, value);
            if (count < LEAF_CAP) {
                long at = leaf + ENTRIES + (long) LEAF_SLOT * i;
                r.copy(at, at + LEAF_SLOT, (long) LEAF_SLOT * (count - i));
                r.putLong(at, rec);
                r.putLong(at + 8, kp);
                setCount(leaf, count + 1);
            } else {
                splitLeaf(leaf, count, i, rec, kp, pathNodes, pathIndex);
            }
            addToCount(1);
            return true;
        } finally {
            heap.gate.leave();
            l.unlock();
        }
    }

    /** Entries of node n as longs (2 or 3 per slot), with {@code slot} inserted at {@code i}. */
    private long[] entriesWith(long n, int count, int width, int i, long... slot) {
        long[] e = new long[(count + 1) * width];
        long[] old = new long[count * width];
        r.getLongs(n + ENTRIES, old, 0, old.length);
        System.arraycopy(old, 0, e, 0, i * width);
        System.arraycopy(slot, 0, e, i * width, width);
        System.arraycopy(old, i * width, e, (i + 1) * width, (count - i) * width);
        return e;
    }

    /** Write slots [from, to) of {@code e} as node n's entries, zeroing the rest of n. */
    private void writeEntries(long n, long[] e, int width, int from, int to) {
        int longs = (to - from) * width;
        r.putLongs(n + ENTRIES, e, from * width, longs);
        long used = ENTRIES + 8L * longs;
        r.fill(n + used, NODE_BYTES - used, (byte) 0);
        setCount(n, to - from);
    }

    private void splitLeaf(long leaf, int count, int i, long rec, long kp, long[] pathNodes,
            int[] pathIndex) {
        long[] e = entriesWith(leaf, count, 2, i, rec, kp);
        int total = count + 1, mid = total / 2;
        long right = newNode(0);
        writeEntries(leaf, e, 2, 0, mid);
        writeEntries(right, e, 2, mid, total);
        long sep = newRecord(key(e[2 * mid]), EMPTY);
        insertUp(height() - 2, sep, e[2 * mid + 1], right, pathNodes, pathIndex);
    }

    /** Insert (separator, right child) into the inner node at depth d of the path (-1: new root). */
    private void insertUp(int d, long sep, long sepPrefix, long right, long[] pathNodes,
            int[] pathIndex) {
        if (d < 0) {
            int height = height();
            if (height == MAX_HEIGHT) {
                throw new IllegalStateException("map height limit reached");
            }
            long root = newNode(height);
            long[] e = {rootNode(), 0, 0, right, sep, sepPrefix};
            writeEntries(root, e, 3, 0, 2);
            r.putLong(header + H_ROOT, root);
            r.putLong(header + H_HEIGHT, height + 1);
            return;
        }
        long n = pathNodes[d];
        int level = height() - 1 - d;
        int count = node(n, level);
        int i = pathIndex[d] + 1;
        if (count < INNER_CAP) {
            long at = n + ENTRIES + (long) INNER_SLOT * i;
            r.copy(at, at + INNER_SLOT, (long) INNER_SLOT * (count - i));
            r.putLong(at, right);
            r.putLong(at + 8, sep);
            r.putLong(at + 16, sepPrefix);
            setCount(n, count + 1);
            return;
        }
        long[] e = entriesWith(n, count, 3, i, right, sep, sepPrefix);
        int total = count + 1, mid = total / 2;
        long up = e[3 * mid + 1], upPrefix = e[3 * mid + 2];
        e[3 * mid + 1] = 0; // slot 0 of the new node has no separator: it moves up
        e[3 * mid + 2] = 0;
        long sibling = newNode(level);
        writeEntries(n, e, 3, 0, mid);
        writeEntries(sibling, e, 3, mid, total);
        insertUp(d - 1, up, upPrefix, sibling, pathNodes, pathIndex);
    }

    /** Remove {@code key}; returns true if it was present. */
    public boolean remove(byte[] key) {
        checkKey(key);
        long kp = prefix(key);
        Lock l = lock.writeLock();
        l.lock();
        heap.gate.enter();
        try {
            long[] pathNodes = new long[MAX_HEIGHT];
            int[] pathIndex = new int[MAX_HEIGHT];
            long leaf = findLeaf(key, kp, pathNodes, pathIndex);
            int count = node(leaf, 0);
            int i = leafSearch(leaf, count, key, kp);
            if (i < 0) {
                return false;
            }
            heap.free(leafRecord(leaf, i));
            removeSlot(leaf, count, LEAF_SLOT, i);
            addToCount(-1);
            int height = height();
            if (count == 1 && height > 1) {
                removeChild(height - 2, leaf, pathNodes, pathIndex);
                collapseRoot();
            }
            return true;
        } finally {
            heap.gate.leave();
            l.unlock();
        }
    }

    private void removeSlot(long n, int count, int slot, int i) {
        long at = n + ENTRIES + (long) slot * i;
        r.copy(at + slot, at, (long) slot * (count - 1 - i));
        r.fill(n + ENTRIES + (long) slot * (count - 1), slot, (byte) 0);
        setCount(n, count - 1);
    }

    /** Free the empty node {@code gone}, child of the inner node at depth d, and its separator. */
    private void removeChild(int d, long gone, long[] pathNodes, int[] pathIndex) {
        heap.free(gone);
        long n = pathNodes[d];
        int count = node(n, height() - 1 - d);
        int i = pathIndex[d];
        if (i > 0) {
            heap.free(separator(n, i));
            removeSlot(n, count, INNER_SLOT, i);
        } else if (count > 1) { // child 1 becomes child 0, which has no separator
            heap.free(separator(n, 1));
            removeSlot(n, count, INNER_SLOT, 0);
            r.putLong(n + ENTRIES + 8, 0);
            r.putLong(n + ENTRIES + 16, 0);
        } else {
            setCount(n, 0);
            r.putLong(n + ENTRIES, 0);
        }
        if (count == 1) {
            if (d == 0) { // the root lost its only child: an empty tree
                heap.free(n);
                r.putLong(header + H_ROOT, newNode(0));
                r.putLong(header + H_HEIGHT, 1);
            } else {
                removeChild(d - 1, n, pathNodes, pathIndex);
            }
        }
    }

    /** While the root is an inner node with one child, that child becomes the root. */
    private void collapseRoot() {
        for (int height = height(); height > 1; height--) {
            long root = rootNode();
            if (node(root, height - 1) != 1) {
                return;
            }
            r.putLong(header + H_ROOT, child(root, 0));
            r.putLong(header + H_HEIGHT, height - 1);
            heap.free(root);
        }
    }

    /** Make every change so far durable and atomic: the heap's commit (the region's msync). */
    public void commit() {
        heap.commit();
    }

    // ---- Iteration -------------------------------------------------------------------------------

    /**
     * Entries in ascending key order, from {@code fromInclusive} (null: from the first key). Keys
     * and values are copies. Weakly consistent (see the class comment).
     */
    public Iterator<Map.Entry<byte[], byte[]>> ascending(byte[] fromInclusive) {
        return new Cursor(fromInclusive, true);
    }

    /** Entries in descending key order, from {@code fromInclusive} (null: from the last key). */
    public Iterator<Map.Entry<byte[], byte[]>> descending(byte[] fromInclusive) {
        return new Cursor(fromInclusive, false);
    }

    private final class Cursor implements Iterator<Map.Entry<byte[], byte[]>> {
        private final boolean ascending;
        private byte[] from;
        private boolean inclusive = true;
        private List<Map.Entry<byte[], byte[]>> batch = List.of();
        private int next;
        private boolean more = true;

        Cursor(byte[] from, boolean ascending) {
            if (from != null) {
                checkKey(from);
            }
            this.from = from;
            this.ascending = ascending;
        }

        @Override
        public boolean hasNext() {
            if (next < batch.size()) {
                return true;
            }
            if (!more) {
                return false;
            }
            batch = fetch(from, inclusive, ascending);
            next = 0;
            more = batch.size() == BATCH;
            if (!batch.isEmpty()) {
                from = batch.get(batch.size() - 1).getKey();
                inclusive = false;
            }
            return !batch.isEmpty();
        }

        @Override
        public Map.Entry<byte[], byte[]> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            Map.Entry<byte[], byte[]> e = batch.get(next++);
            return new AbstractMap.SimpleImmutableEntry<>(e.getKey().clone(), e.getValue());
        }
    }

    private List<Map.Entry<byte[], byte[]>> fetch(byte[] from, boolean inclusive, boolean asc) {
        return reading(() -> {
            List<Map.Entry<byte[], byte[]>> out = new ArrayList<>(BATCH);
            scan(rootNode(), height() - 1, from, from == null ? 0 : prefix(from), inclusive, asc, out);
            inOrder(out, from, inclusive, asc);
            return out;
        });
    }

    /**
     * A batch must go strictly on from where the last one ended, or a damaged tree (a record
     * pointer copied elsewhere) could send a cursor back over keys it returned, for ever.
     */
    private void inOrder(List<Map.Entry<byte[], byte[]>> out, byte[] from, boolean inclusive,
            boolean asc) {
        byte[] prev = from;
        for (Map.Entry<byte[], byte[]> e : out) {
            if (prev != null) {
                int c = Arrays.compareUnsigned(e.getKey(), prev) * (asc ? 1 : -1);
                if (c < 0 || (c == 0 && (prev != from || !inclusive))) {
                    throw new CorruptHeapException(header, "a scan met keys out of order");
                }
            }
            prev = e.getKey();
        }
    }

    private void scan(long n, int level, byte[] from, long fp, boolean inclusive, boolean asc,
            List<Map.Entry<byte[], byte[]>> out) {
        int count = node(n, level);
        if (level == 0) {
            int i;
            if (from == null) {
                i = asc ? 0 : count - 1;
            } else {
                i = leafSearch(n, count, from, fp);
                if (i >= 0) {
                    i = inclusive ? i : asc ? i + 1 : i - 1;
                } else {
                    i = asc ? -i - 1 : -i - 2;
                }
            }
            for (; i >= 0 && i < count && out.size() < BATCH; i += asc ? 1 : -1) {
                long rec = leafRecord(n, i);
                out.add(new AbstractMap.SimpleImmutableEntry<>(key(rec), value(rec)));
            }
            return;
        }
        int i = from == null ? (asc ? 0 : count - 1) : childIndex(n, count, from, fp);
        for (; i >= 0 && i < count && out.size() < BATCH; i += asc ? 1 : -1) {
            scan(child(n, i), level - 1, from, fp, inclusive, asc, out);
            from = null; // the next children lie wholly beyond the bound
        }
    }

    // ---- Checking --------------------------------------------------------------------------------

    /** Entries, height and nodes (walks the tree, checking each node and record it reads). */
    public MapSummary summary() {
        return reading(() -> new Checker(null).run());
    }

    /**
     * Check every invariant of the map and its heap: {@link PersistentHeap#verify()}; every node
     * and record an allocated block reached exactly once; levels, counts and zeroed unused slots;
     * keys strictly ascending within each node's separator bounds, prefixes matching; every
     * record's checksum; the entry count and height in the header; and no leak: every allocated
     * block of the heap is the map's header, a node, a record or a separator.
     *
     * @throws CorruptHeapException at the first violation
     */
    public MapSummary verify() {
        return reading(() -> heap.verifyWith(w -> new Checker(w).run()));
    }

    /** One walk of the tree; with a heap walk, also marks blocks for the leak check. */
    private final class Checker {
        private final PersistentHeap.Walk walk;
        private final boolean[] reached;
        long entries, leaves, inners, keyBytes, valueBytes;
        int height;

        Checker(PersistentHeap.Walk walk) {
            this.walk = walk;
            this.reached = walk == null ? null : new boolean[walk.n];
        }

        private void reach(long handle, String what) {
            if (walk == null) {
                return;
            }
            int i = walk.indexOf(handle);
            if (i < 0 || !walk.allocated[i]) {
                throw new CorruptHeapException(handle, what + " is not an allocated block");
            }
            if (reached[i]) {
                throw new CorruptHeapException(handle, what + " is reached twice");
            }
            reached[i] = true;
        }

        MapSummary run() {
            reach(header, "map header");
            if (heap.root() != header || r.getLong(header) != MAGIC) {
                throw new CorruptHeapException(header, "map header damaged");
            }
            height = height();
            check(rootNode(), height - 1, null, null, true);
            if (entries != r.getLong(header + H_COUNT)) {
                throw new CorruptHeapException(header + H_COUNT, "map header counts "
                        + r.getLong(header + H_COUNT) + " entries, the tree holds " + entries);
            }
            if (walk != null) {
                for (int i = 0; i < walk.n; i++) {
                    if (walk.allocated[i] && !reached[i]) {
                        throw new CorruptHeapException(walk.starts[i], "allocated block not "
                                + "reachable from the map (a leak)");
                    }
                }
            }
            return new MapSummary(entries, height, leaves, inners, keyBytes, valueBytes);
        }

        /** Check record rec fully (lengths, checksum); returns its key. */
        private byte[] record(long rec, String what, boolean separator) {
            reach(rec, what);
            byte[] k = key(rec);
            byte[] v = value(rec);
            if (r.getInt(rec + 12) != 0 || (separator && v.length != 0)
                    || r.getInt(rec + 8) != recordCrc(k, v)) {
                throw new CorruptHeapException(rec, what + " damaged (checksum)");
            }
            keyBytes += separator ? 0 : k.length;
            valueBytes += v.length;
            return k;
        }

        /** Check the subtree at n: keys in [lo, hi) (null: unbounded). */
        private void check(long n, int level, byte[] lo, byte[] hi, boolean root) {
            reach(n, "map node");
            int count = node(n, level);
            if (r.getLong(n + 8) != 0) {
                throw new CorruptHeapException(n, "map node: reserved bytes not zero");
            }
            int slot = level == 0 ? LEAF_SLOT : INNER_SLOT;
            for (long p = n + ENTRIES + (long) slot * count; p < n + NODE_BYTES; p += 8) {
                if (r.getLong(p) != 0) {
                    throw new CorruptHeapException(p, "map node: unused slot not zero");
                }
            }
            if (level == 0) {
                leaves++;
                if (count == 0 && !root) {
                    throw new CorruptHeapException(n, "empty leaf");
                }
                byte[] prev = lo;
                for (int i = 0; i < count; i++) {
                    long rec = leafRecord(n, i);
                    byte[] k = record(rec, "record", false);
                    if (prefix(k) != leafPrefix(n, i)) {
                        throw new CorruptHeapException(n, "leaf prefix of entry " + i + " wrong");
                    }
                    if (prev != null && Arrays.compareUnsigned(k, prev) < (i == 0 ? 0 : 1)) {
                        throw new CorruptHeapException(n, "leaf keys out of order at " + i);
                    }
                    if (hi != null && Arrays.compareUnsigned(k, hi) >= 0) {
                        throw new CorruptHeapException(n, "leaf key beyond its separator");
                    }
                    prev = k;
                    entries++;
                }
                return;
            }
            inners++;
            if (count < (root ? 2 : 1) || separator(n, 0) != 0 || separatorPrefix(n, 0) != 0) {
                throw new CorruptHeapException(n, "inner node with " + count + " children");
            }
            byte[][] seps = new byte[count + 1][];
            seps[0] = lo;
            seps[count] = hi;
            for (int i = 1; i < count; i++) {
                byte[] s = record(separator(n, i), "separator", true);
                if (prefix(s) != separatorPrefix(n, i)) {
                    throw new CorruptHeapException(n, "separator prefix " + i + " wrong");
                }
                if ((seps[i - 1] != null && Arrays.compareUnsigned(s, seps[i - 1]) <= 0 && i > 1)
                        || (lo != null && Arrays.compareUnsigned(s, lo) < 0)
                        || (hi != null && Arrays.compareUnsigned(s, hi) >= 0)) {
                    throw new CorruptHeapException(n, "separators out of order at " + i);
                }
                seps[i] = s;
            }
            for (int i = 0; i < count; i++) {
                check(child(n, i), level - 1, seps[i], seps[i + 1], false);
            }
        }
    }

    @Override
    public String toString() {
        return "PersistentSortedMap[" + r.path() + "]";
    }
}
