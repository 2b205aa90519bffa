/* snapshot_hook.h — the store hook's inline fast path, called after every store the plugin instruments.
 *
 * All regions live in one reserved virtual range, the arena [snap_arena_lo, snap_arena_lo +
 * snap_arena_len), cut into slots (snapshot_layout.h); a region occupies consecutive slots, each of
 * which points at the region's base, size and level-0 dirty bitmap. So:
 *   - a store outside the arena costs one subtraction and one compare (snap_arena_len is 0 until the
 *     first region is opened, so nothing is ever taken before that);
 *   - a store inside one line that is already marked costs two loads and a test;
 *   - anything else (first store to a line, a store spanning lines) calls snap_track_slow().
 * This is the fast path of the marking protocol (native/src/dirty_map.h, which also says why an
 * already-set bit is enough); snap_track_slow() is its slow path.
 * Include <snapshot.h> rather than this file.
 */
#ifndef SNAPSHOT_HOOK_H
#define SNAPSHOT_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry per arena slot. Written only while the region is opened, grown or closed. */
struct snap_arena_slot {
    uintptr_t base;  /* first byte of the region that owns this slot (0: free slot) */
    uint64_t size;   /* that region's current size in bytes */
    uint64_t *dirty; /* that region's level-0 dirty bitmap (NULL: free slot) */
};

extern uintptr_t snap_arena_lo;                /* first byte of the arena */
extern uintptr_t snap_arena_len;               /* its length; 0 until the first snap_open() */
extern struct snap_arena_slot *snap_arena_slots; /* snap_arena_len >> SNAP_SLOT_SHIFT entries */

void snap_track_slow(const void *addr, size_t len); /* see snapshot.h */

/* Mark the bytes [addr, addr+len) just stored, if they are inside a region. Thread-safe. */
static inline void snap_hook_store(const void *addr, size_t len)
{
    /* Relaxed atomic loads compile to plain moves; they keep ThreadSanitizer quiet about the one
     * write of these globals when the first region opens. */
    uintptr_t arena_len = __atomic_load_n(&snap_arena_len, __ATOMIC_ACQUIRE); /* before lo */
    uintptr_t rel = (uintptr_t)addr - __atomic_load_n(&snap_arena_lo, __ATOMIC_RELAXED);
    if (__builtin_expect(rel >= arena_len, 1))
        return;
    const struct snap_arena_slot *s =
        &__atomic_load_n(&snap_arena_slots, __ATOMIC_RELAXED)[rel >> SNAP_SLOT_SHIFT];
    uint64_t *dirty = __atomic_load_n(&s->dirty, __ATOMIC_RELAXED);
    uint64_t off = (uintptr_t)addr - __atomic_load_n(&s->base, __ATOMIC_RELAXED);
    const uint64_t line_bytes = (uint64_t)1 << SNAP_LINE_SHIFT;
    if (dirty && len <= line_bytes - (off & (line_bytes - 1)) &&
        off < __atomic_load_n(&s->size, __ATOMIC_RELAXED)) {
        uint64_t line = off >> SNAP_LINE_SHIFT;
        /* Acquire (a plain move on x86): a bit set by another thread's marker orders that
         * marker's entry into the gate before this thread's later snap_msync() (dirty_map.h). */
        if (__atomic_load_n(&dirty[line >> SNAP_DIRTY_WORD_SHIFT], __ATOMIC_ACQUIRE) &
            (1ull << (line & 63)))
            return;
    }
    snap_track_slow(addr, len);
}

#ifdef __cplusplus
}
#endif

#endif /* SNAPSHOT_HOOK_H */
