/* foreign.c — entry points for other languages (snapshot_foreign.h): flat open, layout for marking
 * from Java, stats as an array, and the quarantined close that a concurrent Java store cannot crash. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy.h"
#include "region.h"
#include "snapshot_foreign.h"

int snap_foreign_open(const char *path, uint32_t flags, int backend, uint64_t size, uint64_t max_size,
                      uint64_t log_capacity, uint32_t mode, uint64_t budget, snap_region **out)
{
    if (backend < SNAP_BACKEND_AUTO || backend > SNAP_BACKEND_EMULATED_PMEM) /* not the simulator */
        return out ? (*out = NULL, SNAP_E_INVAL) : SNAP_E_INVAL;
    snap_options o = {
        .flags = flags,
        .backend = (enum snap_backend_kind)backend,
        .size = size,
        .max_size = max_size,
        .log_capacity = log_capacity,
        .mode = (mode_t)mode,
        .budget = budget,
    };
    return snap_open(path, &o, out);
}

int snap_foreign_layout(const snap_region *r, int64_t *out, size_t n)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    if (!out || n < SNAP_FOREIGN_L_COUNT)
        return SNAP_E_INVAL;
    memset(out, 0, n * sizeof *out);
    out[SNAP_FOREIGN_L_ABI] = SNAP_FOREIGN_ABI;
    out[SNAP_FOREIGN_L_BASE] = (int64_t)r->base;
    out[SNAP_FOREIGN_L_SIZE] = (int64_t)snap_region_size(r);
    out[SNAP_FOREIGN_L_RESERVE] = (int64_t)r->reserve;
    out[SNAP_FOREIGN_L_LINE_SHIFT] = SNAP_LINE_SHIFT;
    out[SNAP_FOREIGN_L_LEVELS] = (int64_t)r->dirty.levels;
    for (unsigned l = 0; l < r->dirty.levels && l < SNAP_DIRTY_MAX_LEVELS; l++) {
        out[SNAP_FOREIGN_L_LEVEL0 + 2 * l] = (int64_t)(uintptr_t)r->dirty.level[l];
        out[SNAP_FOREIGN_L_LEVEL0 + 2 * l + 1] = (int64_t)r->dirty.words[l];
    }
    out[SNAP_FOREIGN_L_GATE] = (int64_t)(uintptr_t)r->dirty.gate;
    return 0;
}

int snap_foreign_stats(const snap_region *r, int64_t *out, size_t n)
{
    if (!out || n < SNAP_FOREIGN_STATS_COUNT)
        return SNAP_E_INVAL;
    snap_stats s;
    int rc = snap_stats_get(r, &s);
    if (rc)
        return rc;
    const uint64_t v[SNAP_FOREIGN_STATS_COUNT] = {
        s.size, s.epoch, s.msyncs, s.commits, s.lines_committed, s.bytes_committed, s.log_bytes,
        s.checkpoints, s.commit_ns, s.recovered_records, (uint64_t)s.backend, s.budget,
        s.resident_bytes, s.evictions, s.refaults, (uint64_t)s.evictable,
    };
    for (size_t i = 0; i < SNAP_FOREIGN_STATS_COUNT; i++)
        out[i] = (int64_t)v[i];
    return 0;
}

/* A quarantined handle: closed, but its bitmap still mapped (snap_close() leaves dirty.mem NULL). */
static int quarantined(const struct snap_region *r)
{
    return r && r->magic == SNAP_REGION_MAGIC &&
           __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == SNAP_STATE_CLOSED && r->dirty.mem;
}

int snap_foreign_close(snap_region *r)
{
    int rc = snap_region_check(r);
    /* In a forked child: the child's copy is released (SNAP_E_FORKED), as by snap_close(). */
    return rc && rc != SNAP_E_FORKED ? rc : snap_region_close(r, snap_copy_quarantine);
}

void snap_foreign_release(snap_region *r)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* a second release does nothing */
    pthread_mutex_lock(&mu);
    int release = quarantined(r);
    if (release)
        snap_copy_release(r); /* dirty.mem = NULL: no longer quarantined */
    pthread_mutex_unlock(&mu);
    if (release)
        snap_region_bury(r);
}
