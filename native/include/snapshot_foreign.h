/* snapshot_foreign.h — entry points for callers in other languages (the Java binding, JNA users).
 *
 * The Java binding writes a region from Java: it needs the DRAM copy's address and the dirty map's
 * addresses (to mark lines itself, see snapshot_layout.h), flat arguments instead of structs, and a
 * close that cannot crash a thread still touching the region. Plain C programs use snapshot.h alone.
 *
 * Quarantined close. snap_close() returns the region's address range to PROT_NONE (a late store
 * faults) and unmaps its bitmap. A managed runtime cannot always prove that no thread is between its
 * "is it open?" check and its store, so snap_foreign_close() instead replaces the DRAM copy and the
 * bitmaps with zero-filled anonymous scratch memory (MAP_FIXED, atomically for other threads) and
 * keeps that address range reserved for the closed region: a late store lands in scratch memory and
 * is discarded; it can neither fault nor reach another region. snap_foreign_release() later returns
 * the range to the arena, once the caller knows nothing can touch it (the Java binding does so when
 * the garbage collector finds the region's buffers unreachable).
 */
#ifndef SNAPSHOT_FOREIGN_H
#define SNAPSHOT_FOREIGN_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when an index below or a function's meaning changes; the Java binding checks it. */
#define SNAP_FOREIGN_ABI 4

/* snap_open() with flat arguments (see snap_options for each). backend: enum snap_backend_kind.
 * mode 0: 0644. Errors: as snap_open(). */
int snap_foreign_open(const char *path, uint32_t flags, int backend, uint64_t size, uint64_t max_size,
                      uint64_t log_capacity, uint32_t mode, uint64_t budget, snap_region **out);

/* Indices into the array filled by snap_foreign_layout(): a region's addresses, in the layout of
 * snapshot_layout.h. Level l of the dirty map (l < out[SNAP_FOREIGN_L_LEVELS]) starts at address
 * out[SNAP_FOREIGN_L_LEVEL0 + 2*l] and holds out[SNAP_FOREIGN_L_LEVEL0 + 2*l + 1] words;
 * out[SNAP_FOREIGN_L_GATE] is the address of the marking gate. A marker in another language follows
 * the marking protocol of native/src/dirty_map.h. */
enum snap_foreign_layout_index {
    SNAP_FOREIGN_L_ABI = 0,     /* SNAP_FOREIGN_ABI */
    SNAP_FOREIGN_L_BASE,        /* snap_base() */
    SNAP_FOREIGN_L_SIZE,        /* snap_size() */
    SNAP_FOREIGN_L_RESERVE,     /* bytes of address space reserved from base (>= size) */
    SNAP_FOREIGN_L_LINE_SHIFT,  /* SNAP_LINE_SHIFT */
    SNAP_FOREIGN_L_LEVELS,      /* levels of the dirty map, 1 .. SNAP_DIRTY_MAX_LEVELS */
    SNAP_FOREIGN_L_LEVEL0,      /* first (address, words) pair */
    SNAP_FOREIGN_L_GATE = SNAP_FOREIGN_L_LEVEL0 + 2 * SNAP_DIRTY_MAX_LEVELS, /* the marking gate */
    SNAP_FOREIGN_L_COUNT
};

/* Fill out[0 .. n) (n >= SNAP_FOREIGN_L_COUNT) with the region's layout. The addresses stay valid
 * until snap_foreign_release() (after snap_foreign_close()) or snap_close().
 * Errors: SNAP_E_INVAL (NULL, n too small), SNAP_E_CLOSED. */
int snap_foreign_layout(const snap_region *r, int64_t *out, size_t n);

/* snap_stats_get() as an array: size, epoch, msyncs, commits, lines_committed, bytes_committed,
 * log_bytes, checkpoints, commit_ns, recovered_records, backend, budget, resident_bytes,
 * evictions, refaults, evictable, in that order (n >= 16). Errors: SNAP_E_INVAL, SNAP_E_CLOSED. */
#define SNAP_FOREIGN_STATS_COUNT 16
int snap_foreign_stats(const snap_region *r, int64_t *out, size_t n);

/* Close like snap_close() (same result, same files, lock released, uncommitted stores discarded),
 * but quarantine the memory (see the top of this file) instead of unmapping it. Not thread-safe
 * with snap_msync(), snap_grow() or snap_stats_get() on the same region; stores racing with it are
 * harmless. Errors: as snap_close(). */
int snap_foreign_close(snap_region *r);

/* Return a region closed by snap_foreign_close() to the arena: its range becomes PROT_NONE and
 * reusable, its bitmap is unmapped, and the handle is freed later (like snap_close()'s). Only when
 * no thread can touch the range any more. Does nothing for other handles or a second time. */
void snap_foreign_release(snap_region *r);

#ifdef __cplusplus
}
#endif

#endif /* SNAPSHOT_FOREIGN_H */
