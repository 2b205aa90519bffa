// PersistentRegion — a file's bytes in memory, written with ordinary accessors and made durable
// atomically by msync().
package org.snapshot;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A region: a DRAM working copy of a data file, written with the accessors of
 * {@link RegionMemory} and committed with {@link #msync()}. After a crash at any instant, reopening
 * the file yields exactly the state of the last {@code msync()} that returned (or of the one in
 * flight, if its log record had committed) — never a mix of two. Writes not followed by a successful
 * {@code msync()} are discarded by a crash and by {@link #close()}.
 *
 * <pre>{@code
 * try (PersistentRegion r = PersistentRegion.create(Path.of("accounts.db"), 1 << 20)) {
 *     r.putLong(0, r.getLong(0) - 10);
 *     r.putLong(8, r.getLong(8) + 10);
 *     r.msync();                       // both or neither, after any crash
 * }
 * }</pre>
 *
 * <p>Files: the data file holds only the user's bytes; the log lives beside it in
 * {@code FILE.snaplog}; the data file is locked while open ({@link RegionLockedException} for a
 * second opener, in this process or another).
 *
 * <p>Threads: accessors may run on any number of threads, concurrently with each other and with
 * {@code msync()}, which several threads may call at once (group commit). {@code close()} waits for
 * running {@code msync()} and {@code stats()} calls; accessors racing with it either throw
 * {@link RegionClosedException} or write into discarded memory — the JVM never crashes.
 */
public final class PersistentRegion extends RegionMemory implements AutoCloseable {
    private final Path path;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    private PersistentRegion(Path path, Mapping map) {
        super(map, 0, map.size);
        this.path = path;
    }

    /** Open an existing region (size from the file; recovery runs if a crash left records). */
    public static PersistentRegion open(Path path) {
        return open(path, Options.defaults());
    }

    /** Open an existing region with options; its size is the committed size. */
    public static PersistentRegion open(Path path, Options options) {
        return openRegion(path, 0, 0, options);
    }

    /**
     * Open the region at {@code path}, creating the data file with {@code size} bytes (zeros) if it
     * does not exist. An existing region must have exactly that committed size
     * ({@link SizeMismatchException} otherwise).
     */
    public static PersistentRegion create(Path path, long size) {
        return create(path, size, Options.defaults());
    }

    /** {@link #create(Path, long)} with options ({@link Options#exclusive(boolean)}: fail if it exists). */
    public static PersistentRegion create(Path path, long size, Options options) {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be > 0: " + size);
        }
        int flags = SnapshotNative.CREATE | (options.exclusive ? SnapshotNative.EXCL : 0);
        return openRegion(path, flags, size, options);
    }

    private static PersistentRegion openRegion(Path path, int flags, long size, Options o) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(o, "options");
        String p = path.toString();
        if (o.noConcurrentWriters) {
            flags |= SnapshotNative.NO_CONCURRENT_WRITERS;
        }
        if (o.populate) {
            flags |= SnapshotNative.POPULATE;
        }
        if (o.hugepages) {
            flags |= SnapshotNative.HUGEPAGES;
        }
        if (size > Mapping.MAX_RESERVE || o.maxSize > Mapping.MAX_RESERVE) {
            throw new IllegalArgumentException("regions opened from Java are limited to "
                    + (Mapping.MAX_RESERVE >> 30) + " GiB");
        }
        SnapshotNative.Region h = new SnapshotNative.Region();
        int rc = SnapshotNative.snap_foreign_open(p, flags, o.backend.nativeValue, size, o.maxSize,
                o.logCapacity, o.mode, o.budget, h);
        // Closed regions keep their address range until the GC proves no accessor can touch it
        // (Mapping): if the arena is full of them, let the GC run and retry, as NIO does for
        // direct memory.
        for (int attempt = 0; rc == Errors.E_NOSPACE && attempt < 10; attempt++) {
            System.gc();
            try {
                Thread.sleep(1L << attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            rc = SnapshotNative.snap_foreign_open(p, flags, o.backend.nativeValue, size, o.maxSize,
                    o.logCapacity, o.mode, o.budget, h);
        }
        if (rc != 0) {
            throw Errors.of(size > 0 ? "create" : "open", p, rc);
        }
        long[] layout = new long[SnapshotNative.L_COUNT];
        rc = SnapshotNative.snap_foreign_layout(h, layout, layout.length);
        if (rc == 0 && layout[SnapshotNative.L_RESERVE] > Mapping.MAX_RESERVE) {
            rc = Errors.E_NOSPACE;
        }
        if (rc != 0) {
            SnapshotNative.snap_foreign_close(h);
            SnapshotNative.snap_foreign_release(h);
            throw Errors.of("open", p, rc);
        }
        return new PersistentRegion(path, new Mapping(h, layout));
    }

    @Override
    public PersistentRegion region() {
        return this;
    }

    /** The data file. */
    public Path path() {
        return path;
    }

    /**
     * Make every write so far durable, atomically (see {@link RegionMemory} for racing writes).
     *
     * @throws RegionPanicException after an earlier media failure (close and reopen)
     * @throws SnapshotException    ENOSPC or EDQUOT (no room for this commit), or ENOMEM, before
     *                              anything was flushed: nothing was committed, the writes stay
     *                              pending and the region usable; a later {@code msync()} commits
     *                              them. Another code (EIO, a failed flush ...): the media failed
     *                              now; the region is then in the panic state
     * @throws RegionClosedException after close()
     */
    public void msync() {
        Lock l = lock.readLock();
        l.lock();
        try {
            Mapping m = map;
            if (m.closed) {
                throw closed();
            }
            int rc = SnapshotNative.snap_msync(m.handle);
            Reference.reachabilityFence(m); // else the cleaner could close it under the call
            if (rc != 0) {
                throw Errors.of("msync", path.toString(), rc);
            }
        } finally {
            l.unlock();
        }
    }

    /**
     * Grow the region to {@code newSize} bytes, at most the {@link Options#maxSize(long)} it was
     * opened with (by default its size at open rounded up to 1 GiB). The new bytes read as zero;
     * {@link #address()} does not move (the range up to maxSize was reserved at open). The data
     * file is extended now; the new size becomes durable atomically with the next {@link #msync()}
     * (a crash before it reopens the region at the old size, with the old contents). Safe with
     * accessors and {@code msync()} running on other threads: an accessor sees the new size once
     * it is ordered after this call (as by a lock or a volatile), and before that at worst throws
     * {@link IndexOutOfBoundsException}. A smaller or equal size changes nothing. Slices keep their
     * bounds. Reopen a grown region with {@link #open(Path)} (or {@code create} with the new size).
     *
     * @throws SnapshotException   SNAP_E_NOSPACE beyond maxSize; {@code -ENOSPC} if the file system
     *                             has no room (the region keeps its size and stays usable);
     *                             {@link RegionPanicException} after an earlier media failure
     * @throws RegionClosedException after close()
     */
    public void grow(long newSize) {
        Lock l = lock.readLock(); // close() must not run under snap_grow
        l.lock();
        try {
            Mapping m = map;
            if (m.closed) {
                throw closed();
            }
            synchronized (this) { // concurrent grows publish their sizes in order
                if (newSize <= length) {
                    return;
                }
                int rc = newSize > m.reserve ? Errors.E_NOSPACE
                        : SnapshotNative.snap_grow(m.handle, newSize);
                Reference.reachabilityFence(m);
                if (rc == Errors.E_NOSPACE) {
                    throw new SnapshotException(rc, "grow " + path + " to " + newSize
                            + " bytes: beyond the region's maxSize (SNAP_E_NOSPACE). Open it "
                            + "with a larger Options.maxSize to let it grow further.");
                }
                if (rc != 0) {
                    throw Errors.of("grow", path.toString(), rc);
                }
                length = newSize; // after snap_grow mapped it (RegionMemory.length),
                size = newSize;   // then published for accesses beyond a stale length
            }
        } finally {
            l.unlock();
        }
    }

    /** The region's counters. */
    public RegionStats stats() {
        Lock l = lock.readLock();
        l.lock();
        try {
            Mapping m = map;
            if (m.closed) {
                throw closed();
            }
            long[] v = new long[SnapshotNative.STATS_COUNT];
            int rc = SnapshotNative.snap_foreign_stats(m.handle, v, v.length);
            Reference.reachabilityFence(m);
            if (rc != 0) {
                throw Errors.of("stats", path.toString(), rc);
            }
            return RegionStats.of(v);
        } finally {
            l.unlock();
        }
    }

    /**
     * The native {@code snap_region *}, for native code that tracks its own stores with
     * {@code snap_track(handle, addr, len)} or commits with {@code snap_msync(handle)} (load
     * {@link #nativeLibrary()} to reach the same libsnapshot). Valid while the region is open; do
     * not close it natively.
     */
    public long handle() {
        Mapping m = map;
        if (m.closed) {
            throw closed();
        }
        return m.handle.address();
    }

    /**
     * Path of the libsnapshot shared library this binding loaded (extracted from the jar). Native
     * code must call this instance — e.g. JNA's {@code NativeLibrary.getInstance(path)} — since a
     * second copy of the library would have its own arena and not see these regions. A library
     * linked with {@code -lsnapshot} and loaded after the first region was opened resolves to it
     * by its soname, libsnapshot.so.0.
     */
    public static String nativeLibrary() {
        return SnapshotNative.LIBRARY_PATH;
    }

    /**
     * Close the region: uncommitted writes are discarded, committed records are applied and flushed,
     * the lock is released. Waits for running {@code msync()} and {@code stats()} calls. Idempotent.
     * The address range stays reserved (holding scratch memory, so a racing accessor cannot crash)
     * until the garbage collector finds this region and its slices unreachable.
     *
     * @throws SnapshotException if the final flush failed (nothing is lost: the next open replays
     *                           the log), or with the failure that put the region in the panic
     *                           state; the region is closed anyway
     */
    @Override
    public void close() {
        Lock l = lock.writeLock();
        l.lock();
        try {
            Mapping m = map;
            if (m.closed) {
                return;
            }
            m.closed = true;
            int rc;
            synchronized (m.lifetime) {
                rc = SnapshotNative.snap_foreign_close(m.handle);
                m.lifetime.nativeClosed = true;
            }
            Reference.reachabilityFence(m);
            if (rc != 0 && rc != Errors.E_CLOSED) {
                throw Errors.of("close", path.toString(), rc);
            }
        } finally {
            l.unlock();
        }
    }

    @Override
    public String toString() {
        return "PersistentRegion[" + path + ", " + length + " bytes" + (isOpen() ? "" : ", closed")
                + "]";
    }
}
