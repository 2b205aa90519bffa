// RegionStats — a region's counters (snapshot.h, struct snap_stats).
package org.snapshot;

/**
 * A snapshot of a region's counters, read without a lock: figures may be a few commits apart.
 *
 * @param size             current size in bytes
 * @param epoch            epoch of the last committed record (0: none yet)
 * @param msyncs           msync() calls that succeeded
 * @param commits          records committed (fewer than msyncs: group commit, empty msyncs)
 * @param linesCommitted   64-byte lines written to the log
 * @param bytesCommitted   payload bytes written to the log
 * @param logBytes         bytes written to the log, headers included
 * @param checkpoints      times the log was emptied after flushing the data file
 * @param commitNanos      wall time spent in msync, in nanoseconds
 * @param recoveredRecords records replayed when the region was opened
 * @param backend          the back end in use (AUTO resolved; EMULATED_PMEM shows as PMEM)
 * @param budget           the DRAM copy's budget in bytes ({@link Options#BUDGET_NONE}: none)
 * @param residentBytes    bytes of the copy privately resident now (counted if evictable, else
 *                         read from the page table, which costs a scan)
 * @param evictions        pages of the copy given back since the open
 * @param refaults         evicted pages brought back by an access
 * @param evictable        whether the copy exceeds its budget and pages leave it
 */
public record RegionStats(long size, long epoch, long msyncs, long commits, long linesCommitted,
        long bytesCommitted, long logBytes, long checkpoints, long commitNanos,
        long recoveredRecords, Backend backend, long budget, long residentBytes, long evictions,
        long refaults, boolean evictable) {

    static RegionStats of(long[] v) {
        return new RegionStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                Backend.ofNative(v[10]), v[11], v[12], v[13], v[14], v[15] != 0);
    }
}
