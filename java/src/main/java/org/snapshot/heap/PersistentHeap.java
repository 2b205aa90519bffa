// PersistentHeap — a crash-safe allocator whose every byte of metadata lives in a region.
package org.snapshot.heap;

import org.snapshot.PersistentRegion;

/**
 * A heap of blocks inside a {@link PersistentRegion}. Skeleton: the API other code compiles
 * against; the implementation follows.
 */
public final class PersistentHeap {
    private final PersistentRegion region;

    private PersistentHeap(PersistentRegion region) {
        this.region = region;
    }

    /** Open the heap in {@code region}: format an all-zero region, otherwise validate its header. */
    public static PersistentHeap open(PersistentRegion region) {
        throw new UnsupportedOperationException("not yet");
    }

    /** The region holding the heap. */
    public PersistentRegion region() {
        return region;
    }

    /** Allocate a block of at least {@code size} bytes; returns its handle (a region offset). */
    public long allocate(long size) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Free the block {@code handle}. */
    public void free(long handle) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Resize a block; returns its (possibly new) handle. */
    public long resize(long handle, long newSize) {
        throw new UnsupportedOperationException("not yet");
    }

    /** The root block's handle (0: none). */
    public long root() {
        throw new UnsupportedOperationException("not yet");
    }

    /** Make {@code handle} the root block (0: none). */
    public void setRoot(long handle) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Make every change so far durable: the region's msync. */
    public void commit() {
        region.msync();
    }
}
