// HeapSummary — what a walk of a PersistentHeap's blocks found: bytes used and free, blocks per class.
package org.snapshot.heap;

/**
 * A heap's occupancy, from {@link PersistentHeap#summary()} or {@link PersistentHeap#verify()}.
 * Bytes count whole blocks (their 16-byte headers included).
 */
public final class HeapSummary {
    private final long regionSize, top, usedBytes, freeBytes, largestFree;
    private final long[] usedBlocks, freeBlocks;

    HeapSummary(long regionSize, long top, long usedBytes, long freeBytes, long largestFree,
            long[] usedBlocks, long[] freeBlocks) {
        this.regionSize = regionSize;
        this.top = top;
        this.usedBytes = usedBytes;
        this.freeBytes = freeBytes;
        this.largestFree = largestFree;
        this.usedBlocks = usedBlocks.clone();
        this.freeBlocks = freeBlocks.clone();
    }

    /** The region's size. */
    public long regionSize() {
        return regionSize;
    }

    /** End of the carved part of the heap: blocks lie in [4096, top). */
    public long top() {
        return top;
    }

    /** Bytes in allocated blocks. */
    public long usedBytes() {
        return usedBytes;
    }

    /** Bytes in free blocks below the top (not counting the never-carved rest of the region). */
    public long freeBytes() {
        return freeBytes;
    }

    /** Bytes between the top and the region's end, available to any class. */
    public long untouchedBytes() {
        return regionSize - top;
    }

    /** Size of the largest free block (header included), 0 if none. */
    public long largestFreeBlock() {
        return largestFree;
    }

    /** Allocated blocks in size class {@code c} (c == classes(): large blocks). */
    public long usedBlocks(int c) {
        return usedBlocks[c];
    }

    /** Free blocks in size class {@code c} (c == classes(): large blocks). */
    public long freeBlocks(int c) {
        return freeBlocks[c];
    }

    /** Number of small size classes. */
    public static int classes() {
        return PersistentHeap.CLASSES;
    }

    /** Block size of small class {@code c}, header included. */
    public static int classSize(int c) {
        return PersistentHeap.CLASS_SIZES[c];
    }

    /** Allocated blocks in all classes. */
    public long allocatedBlocks() {
        long n = 0;
        for (long u : usedBlocks) {
            n += u;
        }
        return n;
    }

    /**
     * Fragmentation: the share of the carved heap [4096, top) held by free blocks, which only
     * their own class (or, for large blocks, a request that fits) can reuse; 0 when none.
     */
    public double fragmentation() {
        long carved = top - PersistentHeap.HEADER_BYTES;
        return carved == 0 ? 0 : (double) freeBytes / carved;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append(String.format("heap: region %d bytes, top %d, used %d bytes in %d blocks, free %d "
                + "bytes below top (fragmentation %.1f%%, largest free block %d), %d untouched%n",
                regionSize, top, usedBytes, allocatedBlocks(), freeBytes, 100 * fragmentation(),
                largestFree, untouchedBytes()));
        b.append(String.format("  %-10s %12s %12s%n", "class", "used blocks", "free blocks"));
        for (int c = 0; c <= PersistentHeap.CLASSES; c++) {
            if (usedBlocks[c] + freeBlocks[c] == 0) {
                continue;
            }
            String name = c < PersistentHeap.CLASSES ? Integer.toString(classSize(c)) : "large";
            b.append(String.format("  %-10s %12d %12d%n", name, usedBlocks[c], freeBlocks[c]));
        }
        return b.toString();
    }
}
