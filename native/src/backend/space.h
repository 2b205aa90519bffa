/* space.h — room on the file system for stores made through mappings.
 *
 * A store into a shared mapping of a file lands in a block the file system must have: if the
 * page is a hole, the page fault allocates one, and on a full file system (or over quota) the
 * fault cannot fail with an error, only with SIGBUS. The same holds on tmpfs for any fault on a
 * hole, even a read through a private mapping (shmem allocates the page to read it). So the back
 * ends that store through mappings (file.c into the data file, pmem.c into both files) reserve
 * the blocks first, with fallocate(2), where the failure is an error: snap_space_reserve() before
 * every such store, and the commit protocol calls it (the back end's reserve op) before its
 * commit point, so that a full file system fails the msync while nothing is committed
 * (commit.c, step 4b).
 *
 * What it costs. The file's blocks are tracked in 64 KiB granules, one bit each (2 KiB of memory
 * per GiB of file), allocated on first use. A granule is known allocated once this handle has
 * fallocated it, or when the whole file had no hole at the first reservation (one lseek), or
 * when the back end extended the file with preallocation (snap_backend_fd_resize). So a region
 * created by snap_open() (preallocated) costs nothing more; an adopted file with holes costs one
 * fallocate(2) at the first store into each granule — a no-op where blocks are already there —
 * and allocates a whole granule (at most 64 KiB of a hole more than the store needs) on disk, or
 * in memory on tmpfs. Nothing is allocated at open: a sparse multi-GiB file stays sparse except
 * where it is written.
 *
 * Limits. fallocate reserves space for the first write of a block. File systems that overwrite
 * out of place (btrfs, bcachefs, ZFS, ...) need new space for every overwrite, which fallocate
 * does not reserve, so a store through a mapping there can still fault when the file system is
 * full: the file back end writes the data file with pwrite(2) instead on any file system not
 * known to overwrite in place (snap_space_stores_ok). Where fallocate is unsupported
 * (EOPNOTSUPP) nothing can be reserved and stores allocate as they fault. */
#ifndef SNAPSHOT_SPACE_H
#define SNAPSHOT_SPACE_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_SPACE_GRANULE_SHIFT 16 /* 64 KiB */

struct snap_space {
    uint64_t *bits;  /* one per granule: 1 = known allocated. NULL until the first reservation */
    uint64_t nbits;  /* granules the bitmap covers */
    int checked;     /* the first reservation looked whether the file has any hole */
    int unsupported; /* fallocate is not supported here: nothing can be reserved */
};

/* Make sure stores into [off, off+len) of fd (a file of `size` bytes, off + len <= size) cannot
 * fault for want of space: fallocate whatever granules of it are not known allocated. 0, or
 * -ENOSPC, -EDQUOT, -EIO, ... (-ENOMEM for the bitmap); nothing is written to the file's bytes.
 * Not thread-safe (a back end is used by one thread at a time). */
int snap_space_reserve_slow(struct snap_space *s, int fd, uint64_t size, uint64_t off, uint64_t len);

static inline int snap_space_reserve(struct snap_space *s, int fd, uint64_t size, uint64_t off,
                                     uint64_t len)
{
    if (len == 0 || s->unsupported)
        return 0;
    uint64_t g = off >> SNAP_SPACE_GRANULE_SHIFT;
    if (s->bits && g == (off + len - 1) >> SNAP_SPACE_GRANULE_SHIFT && g < s->nbits &&
        (s->bits[g / 64] >> (g % 64) & 1))
        return 0; /* the common case: one granule, already known */
    return snap_space_reserve_slow(s, fd, size, off, len);
}

/* The file was resized from old_size to new_size; `allocated`: its new bytes were preallocated
 * (fallocate succeeded). Granules past the smaller size are forgotten, except the new ones that
 * were allocated whole. */
void snap_space_resized(struct snap_space *s, uint64_t old_size, uint64_t new_size, int allocated);

void snap_space_free(struct snap_space *s);

/* What the file system holding fd is known to do (fstatfs(2) f_type; unknown file systems get
 * the safe answer, 0):
 *   snap_space_reads_ok: a fault that reads a hole through a private mapping allocates nothing
 *     (ext2/3/4, XFS, btrfs: the page cache holds zeros). Not tmpfs, whose fault allocates the
 *     page, so that a first store into a hole of the DRAM copy could die of SIGBUS.
 *   snap_space_stores_ok: a store into a block that fallocate(2) allocated needs no new space
 *     (ext2/3/4, XFS, tmpfs: they overwrite in place). */
int snap_space_reads_ok(int fd);
int snap_space_stores_ok(int fd);

#endif /* SNAPSHOT_SPACE_H */
