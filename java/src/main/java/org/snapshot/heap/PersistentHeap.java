// PersistentHeap — a crash-safe allocator whose every byte of metadata lives in a region.
package org.snapshot.heap;

import java.util.concurrent.locks.ReentrantLock;
import org.snapshot.PersistentRegion;
import org.snapshot.SnapshotException;

/**
 * A heap of blocks inside a {@link PersistentRegion}: {@link #allocate} returns a <em>handle</em>,
 * the region offset of a block's first usable byte, valid across reopens; the caller reads and
 * writes the block through the region's accessors. {@link #commit()} (the region's msync) makes
 * every change since the last commit durable at once; after a crash the heap is exactly as of the
 * last commit: no block leaked, none handed out twice. There is no recovery step, because all
 * of the heap's state is in the region and no commit ever sees an operation half done.
 *
 * <p><b>Layout</b> (all little-endian):
 * <pre>
 * offset 0     header, 4096 bytes:
 *   0  magic "SNAPHEAP"   8  version (int)   12  header size (int)
 *   16 root handle        24 top: end of the carved part; blocks lie in [4096, top)
 *   64 + 64 * c           head of size class c's free list (one line each: no false sharing)
 *   64 + 64 * CLASSES     head of the large blocks' free list
 *   every other byte      zero
 * offset 4096  blocks, back to back up to top. A block of S bytes at offset b:
 *   b      S | 1 if allocated (S is a multiple of 16)
 *   b + 8  check word: a function of b and the word above (a damaged header is caught)
 *   b + 16 the handle: S - 16 usable bytes; a free block keeps the next free handle here
 * </pre>
 *
 * <p><b>Size classes.</b> A request of n bytes needs a block of n + 16 bytes, rounded up to a class
 * size: 32 to 128 in steps of 16, then four classes per power of two up to 4096 (160, 192, 224,
 * 256, 320 ... 3584, 4096), so at most 20% of a small block is rounding (above 128 bytes). Larger
 * requests get <em>large</em> blocks: a multiple of 4096 bytes. Each class keeps its own LIFO
 * free list; a freed block returns to its class and is reused only by it (no coalescing), and an
 * empty class carves about 16 KiB of new blocks from the top. Large blocks come first-fit from one
 * list, split when 8 KiB or more would remain, and a freed large block at the top gives its space
 * back to the top. Fragmentation therefore stays bounded by each class's peak use: memory freed in
 * one class is not available to another. {@link #summary()} reports it.
 *
 * <p><b>Growth.</b> When the top reaches the region's end the heap grows the region
 * ({@link PersistentRegion#grow(long)}): by half its size (at least what is needed, a multiple of
 * 64 KiB), or just what is needed when that would pass the region's maxSize. Beyond maxSize an
 * allocation throws the {@link SnapshotException} of the grow (SNAP_E_NOSPACE).
 *
 * <p><b>Threads.</b> All methods are thread-safe. Allocation and freeing lock only their size class
 * (or the large list), plus the top briefly when a class carves new blocks, so threads using
 * different classes do not wait for each other. A commit waits for operations in flight and holds
 * new ones back for the length of its msync; concurrent commits share one msync. Commit through
 * {@link #commit()}, not {@code region.msync()}, while other threads use the heap: a bare msync
 * could capture an operation half done.
 *
 * <p><b>Damage.</b> {@link #open} checks the header; every operation checks the blocks it touches
 * and {@link #verify()} checks everything; all throw {@link CorruptHeapException}, never loop
 * forever (every walk is bounded by the heap's size) and never read outside the region.
 */
public final class PersistentHeap {
    static final long MAGIC = 0x5041454854414E53L; // "SNAPHEAP", little-endian
    static final int VERSION = 1;
    static final int HEADER_BYTES = 4096;
    static final long ROOT = 16, TOP = 24, HEADS = 64;
    static final int BLOCK_HEADER = 16;
    static final int PAGE = 4096;
    static final long ALLOCATED = 1;

    /** Block sizes of the small classes, header included. */
    static final int[] CLASS_SIZES = {32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
            448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096};
    static final int CLASSES = CLASS_SIZES.length;
    static final int LARGE = CLASSES; // index of the large list (its lock and head)
    private static final byte[] CLASS_OF = new byte[PAGE / 16 + 1]; // by block size / 16
    /** Largest request served by a small class. */
    public static final long MAX_SMALL = PAGE - BLOCK_HEADER;
    /** Largest request (a large block must fit in a long region offset comfortably). */
    public static final long MAX_ALLOCATION = 1L << 40;

    static {
        for (int s = 16, c = 0; s <= PAGE; s += 16) {
            while (CLASS_SIZES[c] < s) {
                c++;
            }
            CLASS_OF[s / 16] = (byte) c;
        }
    }

    private final PersistentRegion region;
    final CommitGate gate = new CommitGate();
    private final ReentrantLock[] listLocks = new ReentrantLock[CLASSES + 1];
    private final ReentrantLock topLock = new ReentrantLock();

    private PersistentHeap(PersistentRegion region) {
        this.region = region;
        for (int i = 0; i < listLocks.length; i++) {
            listLocks[i] = new ReentrantLock();
        }
    }

    /**
     * The heap in {@code region}: a region whose first 4096 bytes are all zero (a new one) is
     * formatted, growing it to 64 KiB if smaller; any other is checked (magic, version, header
     * fields). Formatting is committed with the next {@link #commit()}. One heap object per
     * region: a second one would not share the first's locks.
     *
     * @throws CorruptHeapException if the region holds something else or a damaged header
     */
    public static PersistentHeap open(PersistentRegion region) {
        PersistentHeap h = new PersistentHeap(region);
        if (region.size() < HEADER_BYTES || isZero(region, 0, HEADER_BYTES)) {
            if (region.size() < 16 * PAGE) {
                region.grow(16 * PAGE);
            }
            region.putLong(0, MAGIC);
            region.putInt(8, VERSION);
            region.putInt(12, HEADER_BYTES);
            region.putLong(TOP, HEADER_BYTES);
        }
        h.checkHeader();
        return h;
    }

    private static boolean isZero(PersistentRegion r, long off, int len) {
        for (long p = off; p < off + len; p += 8) {
            if (r.getLong(p) != 0) {
                return false;
            }
        }
        return true;
    }

    private void checkHeader() {
        if (region.getLong(0) != MAGIC) {
            throw new CorruptHeapException(0, "not a Snapshot heap: bad magic in " + region.path());
        }
        if (region.getInt(8) != VERSION || region.getInt(12) != HEADER_BYTES) {
            throw new CorruptHeapException(8, "heap format version " + region.getInt(8)
                    + " (header " + region.getInt(12) + " bytes); this library reads version "
                    + VERSION);
        }
        long top = top();
        if (top < HEADER_BYTES || top > region.size() || (top & 15) != 0) {
            throw new CorruptHeapException(TOP, "heap top " + top + " outside the region (size "
                    + region.size() + ")");
        }
        long root = region.getLong(ROOT);
        if (root != 0 && !plausible(root, top)) {
            throw new CorruptHeapException(ROOT, "root handle " + root + " outside the heap");
        }
        for (int c = 0; c <= CLASSES; c++) {
            long head = region.getLong(HEADS + 64L * c);
            if (head != 0 && !plausible(head, top)) {
                throw new CorruptHeapException(HEADS + 64L * c, "free list head " + head
                        + " outside the heap");
            }
        }
    }

    /** A handle that could name a block below {@code top}: aligned, after the header. */
    private static boolean plausible(long handle, long top) {
        return (handle & 15) == 0 && handle >= HEADER_BYTES + BLOCK_HEADER
                && handle <= top - (CLASS_SIZES[0] - BLOCK_HEADER);
    }

    /** The region holding the heap. */
    public PersistentRegion region() {
        return region;
    }

    long top() {
        return region.getLong(TOP);
    }

    static long check(long block, long word) {
        return Long.rotateLeft(block * 0x9E3779B97F4A7C15L, 29) ^ word ^ 0x5EA1ED0FB10C4B1DL;
    }

    static boolean validSize(long size) {
        return size >= CLASS_SIZES[0] && (size & 15) == 0
                && (size <= PAGE ? CLASS_SIZES[CLASS_OF[(int) (size / 16)]] == size
                : (size & (PAGE - 1)) == 0);
    }

    /** Block size (header included) for a request of {@code n} bytes. */
    static long blockSize(long n) {
        if (n < 0 || n > MAX_ALLOCATION) {
            throw new IllegalArgumentException("allocation size " + n + " outside [0, 2^40]");
        }
        long s = Math.max(n, 1) + BLOCK_HEADER;
        if (s <= PAGE) {
            return CLASS_SIZES[CLASS_OF[(int) ((s + 15) / 16)]];
        }
        return (s + PAGE - 1) & -PAGE;
    }

    private static int listOf(long size) {
        return size <= PAGE ? CLASS_OF[(int) (size / 16)] : LARGE;
    }

    private static long headAt(int list) {
        return HEADS + 64L * list;
    }

    private void writeHeader(long block, long size, boolean allocated) {
        long word = size | (allocated ? ALLOCATED : 0);
        region.putLong(block, word);
        region.putLong(block + 8, check(block, word));
    }

    /**
     * The header word of the block whose handle is {@code handle}, checked (alignment, bounds,
     * check word, size): IllegalArgumentException for a handle that cannot be a block,
     * CorruptHeapException for a damaged header.
     */
    private long headerWord(long handle) {
        long top = top();
        if (!plausible(handle, Math.min(top, region.size()))) {
            throw new IllegalArgumentException("not a heap handle: " + handle);
        }
        long block = handle - BLOCK_HEADER;
        long word = region.getLong(block);
        if (region.getLong(block + 8) != check(block, word)) {
            throw new CorruptHeapException(block, "block header damaged, or " + handle
                    + " is not a handle from allocate()");
        }
        long size = word & ~15L;
        if (!validSize(size) || size > top - block) {
            throw new CorruptHeapException(block, "block size " + size + " invalid");
        }
        return word;
    }

    private long allocatedWord(long handle) {
        long word = headerWord(handle);
        if ((word & ALLOCATED) == 0) {
            throw new IllegalArgumentException("block " + handle + " is not allocated (freed twice?)");
        }
        return word;
    }

    /** Usable bytes of the allocated block {@code handle} (at least what was asked for). */
    public long usableSize(long handle) {
        return (allocatedWord(handle) & ~15L) - BLOCK_HEADER;
    }

    /**
     * {@link #usableSize} of a handle read from the heap's own bytes (a map's pointer): a handle
     * that cannot be an allocated block is damage there, so CorruptHeapException, never the
     * IllegalArgumentException that blames a caller.
     */
    long storedUsableSize(long handle) {
        try {
            return usableSize(handle);
        } catch (IllegalArgumentException e) {
            throw new CorruptHeapException(handle, "stored handle: " + e.getMessage());
        }
    }

    /**
     * Allocate a block of at least {@code size} bytes (0 is allowed); returns its handle. The
     * contents are unspecified (not zeroed). Grows the region when the heap is full.
     *
     * @throws SnapshotException beyond the region's maxSize (SNAP_E_NOSPACE) or out of disk space
     */
    public long allocate(long size) {
        long bytes = blockSize(size);
        gate.enter();
        try {
            return bytes <= PAGE ? allocateSmall(bytes) : allocateLarge(bytes);
        } finally {
            gate.leave();
        }
    }

    private long allocateSmall(long bytes) {
        int c = listOf(bytes);
        ReentrantLock l = listLocks[c];
        l.lock();
        try {
            long head = region.getLong(headAt(c));
            if (head == 0) {
                head = carveClass(c, bytes);
            }
            long word = headerWord(head);
            if ((word & ALLOCATED) != 0 || (word & ~15L) != bytes) {
                throw new CorruptHeapException(head - BLOCK_HEADER, "free list of class " + bytes
                        + " holds a block that is allocated or of another size");
            }
            long next = region.getLong(head);
            if (next != 0 && !plausible(next, top())) {
                throw new CorruptHeapException(head, "free list link " + next + " outside the heap");
            }
            region.putLong(headAt(c), next);
            writeHeader(head - BLOCK_HEADER, bytes, true);
            return head;
        } finally {
            l.unlock();
        }
    }

    /** Carve about 16 KiB of free blocks of class c at the top; returns the first (list head). */
    private long carveClass(int c, long bytes) {
        int n = (int) Math.max(1, (16 << 10) / bytes);
        long start = carve(n * bytes);
        long next = 0;
        for (int i = n - 1; i >= 0; i--) { // linked in address order
            long block = start + i * bytes;
            writeHeader(block, bytes, false);
            region.putLong(block + BLOCK_HEADER, next);
            next = block + BLOCK_HEADER;
        }
        return next;
    }

    /** Move the top up by {@code bytes}, growing the region if needed; returns the old top. */
    private long carve(long bytes) {
        topLock.lock();
        try {
            long top = top();
            long end = top + bytes;
            long size = region.size();
            if (end > size) {
                long want = Math.max(end, size + size / 2);
                want = (want + 0xFFFF) & ~0xFFFFL;
                try {
                    region.grow(want);
                } catch (SnapshotException e) {
                    region.grow((end + PAGE - 1) & -PAGE); // up to maxSize; throws beyond it
                }
            }
            region.putLong(TOP, end);
            return top;
        } finally {
            topLock.unlock();
        }
    }

    private long allocateLarge(long bytes) {
        ReentrantLock l = listLocks[LARGE];
        l.lock();
        try {
            long prev = 0;
            long cur = region.getLong(headAt(LARGE));
            long limit = top() / PAGE + 1; // more links than large blocks could fit: a cycle
            for (long steps = 0; cur != 0; steps++) {
                if (steps > limit) {
                    throw new CorruptHeapException(headAt(LARGE), "large free list does not end");
                }
                long word = headerWord(cur);
                long size = word & ~15L;
                if ((word & ALLOCATED) != 0 || size <= PAGE) {
                    throw new CorruptHeapException(cur - BLOCK_HEADER,
                            "large free list holds an allocated or small block");
                }
                long next = region.getLong(cur);
                if (next != 0 && !plausible(next, top())) {
                    throw new CorruptHeapException(cur, "free list link " + next + " outside the heap");
                }
                if (size >= bytes) {
                    long rest = size - bytes;
                    long block = cur - BLOCK_HEADER;
                    if (rest >= 2L * PAGE) { // split: the tail stays free, in cur's place
                        long tail = block + bytes;
                        writeHeader(tail, rest, false);
                        region.putLong(tail + BLOCK_HEADER, next);
                        next = tail + BLOCK_HEADER;
                    } else {
                        bytes = size;
                    }
                    region.putLong(prev == 0 ? headAt(LARGE) : prev, next);
                    writeHeader(block, bytes, true);
                    return cur;
                }
                prev = cur;
                cur = next;
            }
            long block = carve(bytes);
            writeHeader(block, bytes, true);
            return block + BLOCK_HEADER;
        } finally {
            l.unlock();
        }
    }

    /**
     * Free the allocated block {@code handle}. Freeing the root block sets the root to 0.
     *
     * @throws IllegalArgumentException if it is not an allocated block's handle (e.g. freed twice)
     */
    public void free(long handle) {
        gate.enter();
        try {
            long size = allocatedWord(handle) & ~15L;
            int list = listOf(size);
            ReentrantLock l = listLocks[list];
            l.lock();
            try {
                allocatedWord(handle); // again under the lock: a racing free of the same block
                long block = handle - BLOCK_HEADER;
                if (region.getLong(ROOT) == handle) {
                    region.putLong(ROOT, 0);
                }
                if (list == LARGE && releaseToTop(block, size)) {
                    return;
                }
                writeHeader(block, size, false);
                region.putLong(handle, region.getLong(headAt(list)));
                region.putLong(headAt(list), handle);
            } finally {
                l.unlock();
            }
        } finally {
            gate.leave();
        }
    }

    /** A freed large block that ends at the top moves the top down instead. */
    private boolean releaseToTop(long block, long size) {
        topLock.lock();
        try {
            if (block + size != top()) {
                return false;
            }
            region.putLong(block, 0); // no stale header past the top
            region.putLong(block + 8, 0);
            region.putLong(TOP, block);
            return true;
        } finally {
            topLock.unlock();
        }
    }

    /**
     * Resize the block {@code handle} for {@code newSize} bytes: the same handle if the block's
     * size class (or large size) stays the same, else a new block holding the first
     * {@code min(old, new)} bytes, the old one freed.
     */
    public long resize(long handle, long newSize) {
        long bytes = blockSize(newSize);
        gate.enter();
        try {
            long size = allocatedWord(handle) & ~15L;
            if (size == bytes) {
                return handle;
            }
            long moved = allocate(newSize);
            region.copy(handle, moved, Math.min(size, bytes) - BLOCK_HEADER);
            free(handle);
            return moved;
        } finally {
            gate.leave();
        }
    }

    /** The root block's handle, 0 if none: where a program keeps the entry to its structures. */
    public long root() {
        return region.getLong(ROOT);
    }

    /** Make {@code handle} (an allocated block, or 0 for none) the root. */
    public void setRoot(long handle) {
        gate.enter();
        try {
            if (handle != 0) {
                allocatedWord(handle);
            }
            region.putLong(ROOT, handle);
        } finally {
            gate.leave();
        }
    }

    /**
     * Make every change so far durable and atomic: the region's msync, once no heap operation is
     * in flight; concurrent calls share one msync. Stores a program makes into its blocks are
     * committed too, as any region store: commit when they are consistent.
     */
    public void commit() {
        gate.commit(region::msync);
    }

    /** Used and free bytes, blocks per class, fragmentation (walks every block header). */
    public HeapSummary summary() {
        return gate.exclusive(() -> walk(false).summary);
    }

    /**
     * Check every invariant: the header; each block's header, size and check word; blocks tiling
     * [4096, top) exactly; every free list made of free blocks of its class, ending, and holding
     * every free block exactly once; the root allocated. Returns the summary.
     *
     * @throws CorruptHeapException at the first violation
     */
    public HeapSummary verify() {
        return gate.exclusive(() -> walk(true).summary);
    }

    /** verify(), then {@code check} on its walk (a structure's leak check), with no op in flight. */
    <T> T verifyWith(java.util.function.Function<Walk, T> check) {
        return gate.exclusive(() -> check.apply(walk(true)));
    }

    /** What a walk of the blocks found. */
    static final class Walk {
        long[] starts = new long[1024]; // block offsets, ascending
        boolean[] allocated = new boolean[1024];
        int n;
        HeapSummary summary;

        void add(long block, boolean alloc) {
            if (n == starts.length) {
                starts = java.util.Arrays.copyOf(starts, n * 2);
                allocated = java.util.Arrays.copyOf(allocated, n * 2);
            }
            starts[n] = block;
            allocated[n++] = alloc;
        }

        /** Index of the block whose handle is {@code handle}, or -1. */
        int indexOf(long handle) {
            int i = java.util.Arrays.binarySearch(starts, 0, n, handle - BLOCK_HEADER);
            return i >= 0 ? i : -1;
        }
    }

    private Walk walk(boolean full) {
        checkHeader();
        long top = top();
        if (full) {
            for (long p = 32; p < HEADER_BYTES; p += 8) {
                boolean head = p >= HEADS && (p - HEADS) % 64 == 0 && (p - HEADS) / 64 <= CLASSES;
                if (!head && region.getLong(p) != 0) {
                    throw new CorruptHeapException(p, "heap header: reserved bytes not zero");
                }
            }
        }
        Walk w = new Walk();
        long[] usedBlocks = new long[CLASSES + 1], freeBlocks = new long[CLASSES + 1];
        long used = 0, free = 0, largestFree = 0;
        for (long b = HEADER_BYTES; b < top;) { // each step moves on by >= 32 bytes
            long word = region.getLong(b);
            if (region.getLong(b + 8) != check(b, word)) {
                throw new CorruptHeapException(b, "block header damaged");
            }
            long size = word & ~15L;
            if (!validSize(size) || size > top - b || (word & 14) != 0) {
                throw new CorruptHeapException(b, "block size " + size + " invalid");
            }
            boolean alloc = (word & ALLOCATED) != 0;
            int list = listOf(size);
            if (alloc) {
                usedBlocks[list]++;
                used += size;
            } else {
                freeBlocks[list]++;
                free += size;
                largestFree = Math.max(largestFree, size);
            }
            w.add(b, alloc);
            b += size;
        }
        if (full) {
            long root = root();
            if (root != 0) {
                int i = w.indexOf(root);
                if (i < 0 || !w.allocated[i]) {
                    throw new CorruptHeapException(ROOT, "root " + root + " is not an allocated block");
                }
            }
            boolean[] listed = new boolean[w.n];
            for (int list = 0; list <= CLASSES; list++) {
                long cur = region.getLong(headAt(list));
                long count = 0;
                while (cur != 0) {
                    int i = w.indexOf(cur);
                    if (i < 0 || w.allocated[i] || listOf(region.getLong(cur - BLOCK_HEADER) & ~15L) != list) {
                        throw new CorruptHeapException(cur - BLOCK_HEADER, "free list " + list
                                + " holds something other than a free block of its class");
                    }
                    if (listed[i]) {
                        throw new CorruptHeapException(cur - BLOCK_HEADER, "free list " + list
                                + " holds a block twice (a cycle?)");
                    }
                    listed[i] = true;
                    count++;
                    cur = region.getLong(cur);
                }
                if (count != freeBlocks[list]) {
                    throw new CorruptHeapException(headAt(list), "free list " + list + " holds "
                            + count + " blocks, the heap has " + freeBlocks[list] + " free ones");
                }
            }
        }
        w.summary = new HeapSummary(region.size(), top, used, free, largestFree, usedBlocks,
                freeBlocks);
        return w;
    }

    @Override
    public String toString() {
        return "PersistentHeap[" + region.path() + "]";
    }
}
