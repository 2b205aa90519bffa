/* budget.h — the working copy within a memory budget: which pages of it are resident, the fault
 * handler that brings pages back, and eviction. The protocol is written at the top of budget.c.
 *
 * A region whose copy (its size rounded up to pages) fits in its budget keeps the copy of copy.h:
 * nothing here runs and nothing is counted. A larger one gets an *evictable* copy: anonymous
 * memory registered with userfaultfd, whose missing pages a handler thread fills from the data
 * file, and from which the committing thread drops pages that equal the data file.
 */
#ifndef SNAPSHOT_BUDGET_H
#define SNAPSHOT_BUDGET_H

#include <pthread.h>
#include <stdint.h>

#include "snapshot.h"

struct snap_region;

struct snap_budget {
    uint64_t limit;    /* bytes of the copy that may stay resident; UINT64_MAX: no limit */
    int evicting;      /* the copy is evictable (userfaultfd); set at open or by a grow past the
                          budget, never cleared */
    int asked;         /* the budget was asked for (the option or SNAPSHOT_BUDGET) */
    int no_evict;      /* closing: the handler no longer evicts (under r->mu) */
    int uffd, stop_fd; /* the userfaultfd and the eventfd that stops its handler; -1 if none */
    int data_fd;       /* the data file, read by the handler (pread); -1: through the back end */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;   /* fills against evictions (budget.c, B3); also held across a grow */
    uint64_t *resident;   /* bit per page of the reservation: in the copy now */
    uint64_t *evicted;    /* bit per page: was evicted once (a fill of it is a re-fault) */
    uint64_t *ref;        /* bit per page: filled since the clock hand last passed */
    size_t bits_len;      /* bytes mapped for the three bitmaps */
    uint64_t pages;       /* pages the bitmaps cover */
    uint64_t end;         /* bytes of the copy mapped evictable (a fill past it is not ours) */
    unsigned page_shift;
    uint64_t hand;        /* the clock hand: the next page eviction looks at */
    uint64_t nresident;   /* pages resident (atomic) */
    uint64_t evictions;   /* pages dropped (atomic) */
    uint64_t refaults;    /* pages filled again after an eviction (atomic) */
    uint64_t dirty_pages; /* pages of D written by records since the last checkpoint (leader) */
    uint8_t *fill_buf;    /* one page for the handler */
    uint8_t *cmp_buf;     /* one page for the evictor */
};

/* The budget a region gets when snap_options.budget is 0 (snapshot.h says how it is derived).
 * Computed once per process. */
uint64_t snap_budget_default(void);

/* The budget a region opened with snap_options.budget = asked gets in this process: SNAPSHOT_BUDGET
 * if set, else asked if not 0, else the default. */
uint64_t snap_budget_choose(uint64_t asked);

/* At open, before the copy is filled: choose the budget (SNAPSHOT_BUDGET, else `asked`, else the
 * default) and, if the copy of `size` bytes exceeds it, make the copy evictable: the bitmaps, a
 * userfaultfd and the handler thread. data_fd: the data file's descriptor for the handler's reads
 * (-1: read through the back end). 0, -errno, or SNAP_E_UNSUPPORTED (an explicit budget below the
 * size where userfaultfd cannot be used). */
int snap_budget_init(struct snap_region *r, uint64_t asked, uint64_t size, int data_fd);

/* Map [off, off+len) of the copy (page-aligned) as evictable memory: anonymous, registered with
 * the userfaultfd, every page missing until touched. For snap_copy_fill() and snap_copy_grow(). */
int snap_budget_map(struct snap_region *r, uint64_t off, uint64_t len);

/* snap_copy_grow() of an ordinary copy to new_mapped bytes, past the budget: make the copy
 * evictable from now on (the new part is then mapped with snap_budget_map()). `anon`: the copy
 * [0, old_mapped) is anonymous memory (a region created whole, and its growth), which is taken
 * over as it is; else (a copy of the file) it stays an ordinary copy, neither counted nor
 * evicted. 0 (also when nothing changes), or an error as snap_budget_init(). snap_grow() holds
 * r->mu, so no commit runs. */
int snap_budget_grow(struct snap_region *r, uint64_t old_mapped, uint64_t new_mapped, int anon);

/* Drop pages until at most the budget is resident, if the copy is evictable and over it. Caller:
 * the region's commit leader (r->leader_active), after its commit (no pending record is being
 * applied, no line staged). Never fails: a page that cannot be dropped stays. */
void snap_budget_evict(struct snap_region *r);

/* Step 4's other reason to checkpoint (commit.c): with an evictable copy, the data file's pages
 * that records dirtied since the last checkpoint stay dirty page cache until it, and a memory limit
 * (a cgroup) then spends its time writing them back in reclaim. Counts the pages of the record's
 * runs and returns 1 once they exceed an eighth of the budget (at least 1 MiB): the checkpoint's
 * fdatasync cleans them. Leader only; 0 for an ordinary copy. */
struct snap_rec_run;
int snap_budget_dirty_due(struct snap_region *r, const struct snap_rec_run *runs, uint64_t nruns);

/* Resident bytes of the copy: counted if evictable, else read from /proc/self/pagemap (0 if it
 * cannot be). */
uint64_t snap_budget_resident(struct snap_region *r);

/* Is the page at `off` missing from an evictable copy (0 for an ordinary copy)? Without mu: a
 * page may be filled meanwhile. */
int snap_budget_missing(const struct snap_region *r, uint64_t off);

/* At close: stop the handler taking the leader's role (waits for a running eviction). r->mu not
 * held. */
void snap_budget_quiesce(struct snap_region *r);

/* After the copy's memory is gone or quarantined: stop the handler, close the descriptors, unmap
 * the bitmaps. In a forked child (no handler thread there) only closes and unmaps. */
void snap_budget_destroy(struct snap_region *r, int forked);

#endif /* SNAPSHOT_BUDGET_H */
