// Backend — where a region's data lives, and so how msync makes it durable.
package org.snapshot;

/** The back end of a region (snapshot.h, enum snap_backend_kind; SnapshotNative checks the numbers). */
public enum Backend {
    /** Persistent memory if libpmem says the mapped file is PM, else {@link #FILE}. */
    AUTO(0),
    /** An ordinary file: one write to the log and one fdatasync per msync. */
    FILE(1),
    /** Byte-addressable persistent memory through libpmem; fails with
     *  {@link UnsupportedBackendException} on a file that is not PM. */
    PMEM(2),
    /**
     * {@link #PMEM}'s code on a file that is not persistent memory (emulated PM, e.g. on /dev/shm,
     * as the benchmarks and crash tests use it), for this region only: durable only as far as the
     * file's page cache is. Stats report it as {@link #PMEM}.
     */
    EMULATED_PMEM(3);

    final int nativeValue;

    Backend(int nativeValue) {
        this.nativeValue = nativeValue;
    }

    static Backend ofNative(long value) {
        for (Backend b : values()) {
            if (b.nativeValue == value) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown back end " + value);
    }
}
