/* stats.c — snap_stats_get(): the counters commit.c and recovery keep in the handle, read without
 * the lock. */
#include "region.h"

int snap_stats_get(const snap_region *r, snap_stats *out)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    if (!out)
        return SNAP_E_INVAL;
#define LOAD(x) __atomic_load_n(&r->x, __ATOMIC_RELAXED)
    *out = (snap_stats){
        .size = snap_region_size(r),
        .epoch = LOAD(next_epoch) - 1,
        .msyncs = LOAD(st_msyncs),
        .commits = LOAD(st_commits),
        .lines_committed = LOAD(st_lines),
        .bytes_committed = LOAD(st_bytes),
        .log_bytes = LOAD(st_log_bytes),
        .checkpoints = LOAD(st_checkpoints),
        .commit_ns = LOAD(st_commit_ns),
        .recovered_records = r->st_recovered,
        .backend = r->be->kind,
        .budget = r->budget.limit,
        .resident_bytes = snap_budget_resident((struct snap_region *)r),
        .evictions = LOAD(budget.evictions),
        .refaults = LOAD(budget.refaults),
        .evictable = r->budget.evicting,
    };
#undef LOAD
    return 0;
}
