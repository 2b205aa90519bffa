// RegionSlice — a bounds-checked window onto part of a region, with offsets relative to its start.
package org.snapshot;

/**
 * {@code [start, start + size())} of a {@link PersistentRegion}: the same accessors, offsets from
 * the slice's start, bounds checked against the slice. Writes are the region's writes (committed by
 * its {@code msync()}); the slice is closed when its region is.
 */
public final class RegionSlice extends RegionMemory {
    private final PersistentRegion region;

    RegionSlice(Mapping map, long start, long length, PersistentRegion region) {
        super(map, start, length);
        this.region = region;
    }

    @Override
    public PersistentRegion region() {
        return region;
    }

    /** Offset of this slice's first byte in its region. */
    public long offsetInRegion() {
        return start;
    }

    @Override
    public String toString() {
        return "RegionSlice[" + region.path() + " @" + start + ", " + length + " bytes]";
    }
}
