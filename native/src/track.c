/* track.c — tracking: marking the lines a store touched in the region's dirty map (snap_track(),
 * snap_track_offset(), and snap_track_slow(), the store hook's slow path: snapshot_hook.h). */
#include "arena.h"
#include "region.h"

static void mark_bytes(struct snap_region *r, uint64_t off, uint64_t len)
{
    uint64_t first = off >> SNAP_LINE_SHIFT, last = (off + len - 1) >> SNAP_LINE_SHIFT;
    snap_dirty_mark(&r->dirty, first, last - first + 1);
}

int snap_track_offset(snap_region *r, uint64_t offset, size_t len)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    uint64_t size = snap_region_size(r);
    if (offset > size || len > size - offset)
        return SNAP_E_RANGE;
    if (len)
        mark_bytes(r, offset, len);
    return 0;
}

int snap_track(snap_region *r, const void *addr, size_t len)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    if ((uintptr_t)addr < r->base)
        return SNAP_E_RANGE;
    return snap_track_offset(r, (uintptr_t)addr - r->base, len);
}

void snap_track_slow(const void *addr, size_t len)
{
    struct snap_region *r = snap_arena_lookup((uintptr_t)addr);
    if (!r || !len)
        return;
    uint64_t off = (uintptr_t)addr - r->base, size = snap_region_size(r);
    if (off >= size)
        return;
    mark_bytes(r, off, len < size - off ? len : size - off);
}
