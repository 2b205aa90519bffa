/* copy.h — the region's DRAM working copy: reserved in the arena, filled from the data file or
 * mapped as zeros, populated, on huge pages if asked for, grown, quarantined and released.
 *
 * The copy is what the program stores into: [r->base, r->base + r->reserve) of the arena, of which
 * the first r->mapped bytes (the size rounded up to pages) are private, writable memory holding the
 * data file's committed bytes, and the rest is PROT_NONE. Stores to it never reach the media; the
 * commit (commit.c) copies the dirty lines out. How the bytes get there (a copy-on-write mapping of
 * the file, anonymous memory read from it, fresh zeros) is this file's business alone: region.c
 * calls the region-level functions, the back ends the fill helpers, and nothing else maps it.
 *
 * Huge pages. Stores to random places of a large region miss the TLB on nearly every 4 KiB page
 * (dear under nested paging); with 2 MiB pages the copy of a 1 GB region needs 512 entries, not
 * 262144, and its first touch takes 512 times fewer faults. Where THP runs in "madvise" mode only
 * MADV_HUGEPAGE gets them, and a MAP_PRIVATE mapping of a file gets none for its copied pages, so
 * the copy must then be anonymous memory filled from the file (snap_copy_fill_file()).
 *
 * Off unless asked for (SNAP_HUGEPAGES, or SNAPSHOT_HUGEPAGES=1 in the environment at snap_open()),
 * because what they cost depends on the machine: a fault in untouched memory allocates and zeroes
 * 2 MiB, so a sparse region written here and there becomes resident in 2 MiB pieces; THP's
 * "defrag" setting may make such a fault compact memory first; and a virtual machine whose balloon
 * reports free 2 MiB blocks to the host (virtio free page reporting) takes host faults on every
 * fresh huge page. On this project's VM the last made the load phase of a 1 GB store slower than
 * the TLB saved (see docs/ARCHITECTURE.md, "Huge pages").
 */
#ifndef SNAPSHOT_COPY_H
#define SNAPSHOT_COPY_H

#include <stddef.h>
#include <stdint.h>

struct snap_region;

/* ---- The region's copy (region.c, foreign.c) ----------------------------------------------------- */

/* The open flags with the environment's overrides applied: SNAPSHOT_HUGEPAGES=1 sets
 * SNAP_HUGEPAGES, =0 clears it; any other value (or none) leaves the flag as given. Read once, at
 * open: the region's copy and bitmap follow r->flags from then on. */
uint32_t snap_copy_flags(uint32_t flags);

/* Reserve r->reserve bytes of the arena for the copy (r->base): address space only, nothing
 * mapped. Errors as snap_arena_alloc(). */
int snap_copy_reserve(struct snap_region *r);

/* Map [0, size rounded up to pages) of the copy (r->mapped) with the data file's bytes, from the
 * back end, or as fresh zeros if `zeros` (the file is known to hold only zeros: a new region), and
 * populate it with SNAP_POPULATE. On failure the range stays reserved. */
int snap_copy_fill(struct snap_region *r, uint64_t size, int zeros);

/* Extend the mapped copy to new_size (rounded up to pages) with zeros (the file's new bytes),
 * populated with SNAP_POPULATE, before the caller publishes the new size. Commit lock held. */
int snap_copy_grow(struct snap_region *r, uint64_t new_size);

/* Give the copy's slots back to the arena (PROT_NONE again) and unmap the bitmaps. */
void snap_copy_release(struct snap_region *r);

/* The quarantined close of snapshot_foreign.h: the hook stops seeing the region, and the copy and
 * the bitmaps become zero scratch memory that a late store may write harmlessly; the slots stay
 * the region's until snap_copy_release(). */
void snap_copy_quarantine(struct snap_region *r);

/* ---- Filling a range, for the back ends' map_private (backend.h) ---------------------------------
 *
 * addr, off and len page-aligned and inside the arena; on failure the range is left reserved
 * (PROT_NONE), never unmapped. `huge`: SNAP_HUGEPAGES in the region's flags. */

/* Make [addr, addr+len) a private copy of fd's bytes [off, off+len). By default a MAP_PRIVATE
 * mapping of the file, filled lazily by the kernel; on a file system whose faults allocate holes
 * even to read them (tmpfs: see space.h), the holes are mapped as anonymous memory instead, so that
 * no store into the copy can die of SIGBUS when the file system is full (past 1024 data extents the
 * rest's holes are allocated instead; -ENOSPC if they cannot be). With `huge`, anonymous memory with
 * MADV_HUGEPAGE filled with pread from the file's data extents only, so holes cost neither time nor
 * memory; but the mapping of the file again if the data to read exceeds snap_memory_budget().
 * SNAP_E_INVAL if misaligned; off + len must not pass the end of the file's last page
 * (SNAP_E_RANGE). */
int snap_copy_fill_file(int fd, void *addr, uint64_t off, size_t len, int huge);

/* The argument checks of map_private, for a data file of file_size bytes: 0, SNAP_E_INVAL or
 * SNAP_E_RANGE (never for len 0). */
int snap_copy_check_range(void *addr, uint64_t off, size_t len, uint64_t file_size);

/* Map [addr, addr+len) as fresh, private, zero memory, with huge pages if `huge` (and it fits in
 * snap_memory_budget()). On failure: -errno, and the range is reserved again. */
int snap_copy_map_zeros(void *addr, size_t len, int huge);

/* ---- Huge pages, also for the dirty bitmap (dirty_map.c) ----------------------------------------- */

#define SNAP_HUGE_PAGE ((uint64_t)2 << 20) /* the x86-64 / arm64 (4 KiB granule) PMD size */

/* Memory the copy may take eagerly: half of physical memory. */
uint64_t snap_memory_budget(void);

/* madvise(MADV_HUGEPAGE) on [addr, addr+len) if `huge` and len <= limit (the most the caller
 * accepts becoming resident). Advice only: a kernel without THP, or a failure, leaves 4 KiB pages.
 * Returns 1 if advised. */
int snap_hugepage_advise(void *addr, size_t len, uint64_t limit, int huge);

#endif /* SNAPSHOT_COPY_H */
