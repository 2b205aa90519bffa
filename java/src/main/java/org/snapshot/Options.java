// Options — how to open a region: back end, growth reservation, log capacity, permissions, promises.
package org.snapshot;

/**
 * Options for {@link PersistentRegion#open(java.nio.file.Path, Options)} and
 * {@link PersistentRegion#create(java.nio.file.Path, long, Options)}; immutable, each setter returns
 * a copy. {@code Options.defaults()}: {@link Backend#AUTO}, reservation = size rounded up to 1 GiB,
 * 64 MiB of log between checkpoints, mode 0644, concurrent writers allowed, pages faulted in lazily,
 * 4 KiB pages.
 */
public final class Options {
    final Backend backend;
    final long maxSize;
    final long logCapacity;
    final int mode;
    final boolean exclusive;
    final boolean noConcurrentWriters;
    final boolean populate;
    final boolean hugepages;
    final long budget;

    private Options(Backend backend, long maxSize, long logCapacity, int mode, boolean exclusive,
            boolean noConcurrentWriters, boolean populate, boolean hugepages, long budget) {
        this.backend = backend;
        this.maxSize = maxSize;
        this.logCapacity = logCapacity;
        this.mode = mode;
        this.exclusive = exclusive;
        this.noConcurrentWriters = noConcurrentWriters;
        this.populate = populate;
        this.hugepages = hugepages;
        this.budget = budget;
    }

    private static final Options DEFAULTS = new Options(Backend.AUTO, 0, 0, 0, false, false, false,
            false, 0);

    public static Options defaults() {
        return DEFAULTS;
    }

    /** The back end (default {@link Backend#AUTO}). */
    public Options backend(Backend b) {
        if (b == null) {
            throw new NullPointerException("backend");
        }
        return new Options(b, maxSize, logCapacity, mode, exclusive, noConcurrentWriters, populate,
                hugepages, budget);
    }

    /** Address space reserved for the region (0: its size rounded up to 1 GiB). */
    public Options maxSize(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("maxSize < 0: " + bytes);
        }
        return new Options(backend, bytes, logCapacity, mode, exclusive, noConcurrentWriters, populate,
                hugepages, budget);
    }

    /**
     * Bytes of log between checkpoints, for a new log (0: 64 MiB; on PM, whose log is preallocated,
     * twice the region's size, at least 64 KiB and at most 64 MiB). At most 2^40: more is refused
     * with a {@link SnapshotException} (SNAP_E_INVAL) when the region is opened.
     */
    public Options logCapacity(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("logCapacity < 0: " + bytes);
        }
        return new Options(backend, maxSize, bytes, mode, exclusive, noConcurrentWriters, populate,
                hugepages, budget);
    }

    /** Permissions of a created data file, e.g. {@code 0600} (0: 0644). The log copies them. */
    public Options mode(int mode) {
        if ((mode & ~07777) != 0) {
            throw new IllegalArgumentException("mode: " + Integer.toOctalString(mode));
        }
        return new Options(backend, maxSize, logCapacity, mode, exclusive, noConcurrentWriters, populate,
                hugepages, budget);
    }

    /** With create(): fail if the data file exists. */
    public Options exclusive(boolean on) {
        return new Options(backend, maxSize, logCapacity, mode, on, noConcurrentWriters, populate,
                hugepages, budget);
    }

    /**
     * Promise that no store into the region runs concurrently with msync() (one writer thread, or
     * writers that finish before msync under a lock): msync then skips its process-wide memory
     * barrier. Breaking the promise can lose racing stores (snapshot.h, SNAP_NO_CONCURRENT_WRITERS).
     * It is also the way to open a region where membarrier(2) is unavailable (e.g. denied by a
     * seccomp filter): without it the open throws {@link MembarrierUnavailableException}.
     */
    public Options noConcurrentWriters(boolean on) {
        return new Options(backend, maxSize, logCapacity, mode, exclusive, on, populate,
                hugepages, budget);
    }

    /**
     * Fault in every page of the region's DRAM copy for writing when it is opened, instead of at
     * the first access to each page: the core does it (SNAP_POPULATE in snapshot.h), before the
     * region is handed out. By default the copy is a private mapping of the data file, so without
     * this the first read and the first write of each page fault separately (the write copies the
     * page); with {@link #hugepages(boolean)} the core fills the copy at open anyway,
     * and this adds only the holes. Open then takes about a copy of the file longer and the whole
     * size becomes resident; the first pass of stores gets cheaper (a 1.2 GB YCSB table reopened:
     * first updates 4.3-5.8 us instead of 6.5; benchmarks/java-notes.md). Default false.
     * Changes no semantics: the bytes never change, nothing is marked, nothing is committed. A
     * hint: where the kernel cannot populate in one call (MADV_POPULATE_WRITE, Linux 5.14), the
     * core touches the pages one by one; where it cannot at all (out of memory), pages fault as
     * usual.
     */
    public Options populate(boolean on) {
        return new Options(backend, maxSize, logCapacity, mode, exclusive, noConcurrentWriters, on,
                hugepages, budget);
    }

    /**
     * Put the region's DRAM copy (and the dirty bitmap of a region up to 16 GiB) on transparent huge
     * pages: the core (SNAP_HUGEPAGES in snapshot.h) then reads the file's data into anonymous memory
     * advised MADV_HUGEPAGE at open, unless it exceeds half of physical memory. Fewer TLB misses and
     * page faults for stores all over a large region; in exchange the data is read at open and stays
     * resident until close, a first store into an unwritten part makes 2 MiB resident, and on some
     * virtual machines fresh huge pages cost host faults (docs/ARCHITECTURE.md, "Huge pages": measure
     * before turning it on). Default false. SNAPSHOT_HUGEPAGES=1 or =0 in the environment overrides
     * it either way. Advice only: without THP the copy keeps 4 KiB pages.
     */
    public Options hugepages(boolean on) {
        return new Options(backend, maxSize, logCapacity, mode, exclusive, noConcurrentWriters, populate,
                on, budget);
    }

    /** {@link #budget(long)} for no limit: the copy is never evicted. */
    public static final long BUDGET_NONE = -1L;

    /**
     * Bytes of the region's DRAM copy that may stay resident (snapshot.h, "Budget"). A region whose
     * size exceeds it gets an evictable copy: pages come in on first access, read from the data file,
     * and {@link PersistentRegion#msync()} gives back committed pages when more than the budget is
     * resident, so a region larger than memory works. 0 (the default): a quarter of the smaller of
     * physical memory and the cgroup's memory limit; {@link #BUDGET_NONE}: no limit. The environment
     * variable SNAPSHOT_BUDGET overrides it. Needs userfaultfd (root, CAP_SYS_PTRACE,
     * vm.unprivileged_userfaultfd=1 or /dev/userfaultfd): an explicit budget below the size fails the
     * open with {@link UnsupportedBackendException} without it.
     */
    public Options budget(long bytes) {
        if (bytes < 0 && bytes != BUDGET_NONE) {
            throw new IllegalArgumentException("budget < 0: " + bytes);
        }
        return new Options(backend, maxSize, logCapacity, mode, exclusive, noConcurrentWriters, populate,
                hugepages, bytes);
    }

    @Override
    public String toString() {
        return "Options[backend=" + backend + ", maxSize=" + maxSize + ", logCapacity=" + logCapacity
                + ", mode=0" + Integer.toOctalString(mode) + ", exclusive=" + exclusive
                + ", noConcurrentWriters=" + noConcurrentWriters + ", populate=" + populate
                + ", hugepages=" + hugepages + ", budget=" + budget + "]";
    }
}
