/* arena.h — the reserved virtual range that holds every region's DRAM copy.
 *
 * At the first snap_open() the arena reserves SNAPSHOT_ARENA_SIZE bytes (default 1 TiB; PROT_NONE,
 * MAP_NORESERVE: address space only) and publishes it in snap_arena_lo / snap_arena_len, which the
 * inline store hook (snapshot_hook.h) compares against. The arena is cut into 1 GiB slots; a region
 * takes consecutive slots for its whole reservation (max_size), and each slot records the region's
 * base, size and dirty bitmap, so address -> region is one shift and one index. The arena is never
 * unmapped (a stale pointer into it stays harmless: PROT_NONE faults, it never aliases other data).
 */
#ifndef SNAPSHOT_ARENA_H
#define SNAPSHOT_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

struct snap_region;

/* Reserve `reserve` bytes (rounded up to slots) for region r and return their base in *base.
 * The slots are published with dirty = NULL (the hook ignores them) until snap_arena_publish().
 * Errors: SNAP_E_NOSPACE (no run of free slots large enough), -ENOMEM (arena reservation failed),
 * SNAP_E_INVAL (reserve 0). Thread-safe. */
int snap_arena_alloc(struct snap_region *r, uint64_t reserve, uintptr_t *base);

/* Make the hook see region r: every slot of [base, base+reserve) gets base, size, dirty. */
void snap_arena_publish(uintptr_t base, uint64_t reserve, uint64_t size, uint64_t *dirty);

/* Update the size seen by the hook (after snap_grow()). */
void snap_arena_set_size(uintptr_t base, uint64_t reserve, uint64_t size);

/* Unpublish and release the slots: the range returns to PROT_NONE. Thread-safe. */
void snap_arena_free(uintptr_t base, uint64_t reserve);

/* The region owning addr, or NULL. Lock-free. */
struct snap_region *snap_arena_lookup(uintptr_t addr);

/* Held across fork() by process.c's pthread_atfork() handlers, so that a child never inherits the
 * arena's lock held by a thread it does not have. */
void snap_arena_fork_lock(void);
void snap_arena_fork_unlock(void);

/* Bytes reserved for a region of `reserve` bytes (rounded up to whole slots). */
uint64_t snap_arena_round(uint64_t reserve);

#endif /* SNAPSHOT_ARENA_H */
