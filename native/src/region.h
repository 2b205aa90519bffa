/* region.h — the region handle, shared by region.c (its life: open, grow, close), copy.c (the DRAM
 * copy), track.c, stats.c, commit.c, recovery.c, verify.c and foreign.c. */
#ifndef SNAPSHOT_REGION_H
#define SNAPSHOT_REGION_H

#include <pthread.h>
#include <stdint.h>

#include "backend.h"
#include "budget.h"
#include "dirty_map.h"
#include "process.h"
#include "redo_log.h"
#include "snapshot.h"

#define SNAP_REGION_MAGIC 0x6e6f696765527053ull /* "SpRegion" */

/* The region's states (see the diagram in commit.c). */
enum snap_region_state { SNAP_STATE_OPEN = 0, SNAP_STATE_PANIC, SNAP_STATE_CLOSED };

struct snap_region {
    uint64_t magic;
    uint64_t gen;   /* snap_process_gen at open: calls from another (a forked child) fail */
    int state;      /* enum snap_region_state; read without the lock with __atomic_load_n */
    int panic_err;  /* the failure that caused SNAP_STATE_PANIC */
    uint32_t flags; /* snap_options.flags */
    int verify;     /* SNAPSHOT_VERIFY=1: compare DRAM with the media after every commit */

    struct snap_backend *be;
    int lock_fd; /* data file descriptor holding the flock; -1 for the simulator. Its open file
                    description is used for nothing else (no mapping refers to it), so closing
                    it releases the lock */
    struct snap_lock_link lock_link; /* lock_fd, listed while open */

    uintptr_t base;   /* DRAM copy, inside the arena */
    uint64_t reserve;  /* arena bytes reserved (max_size rounded to slots) */
    uint64_t max_size; /* snap_grow() limit: max_size asked for, or the reserve if none */
    uint64_t size;    /* current size; atomic; changed only by snap_grow() under mu */
    uint64_t mapped;  /* bytes of the DRAM copy mapped (size rounded up to pages) */
    int copy_anon;    /* the copy is all anonymous memory (created whole, grown): copy.c */
    struct snap_dirty_map dirty;
    struct snap_budget budget; /* the copy's memory budget and eviction (budget.h) */

    /* Commit state, protected by mu (group commit, see commit.c). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t requested;   /* msync calls registered */
    uint64_t covered;     /* calls whose stores a finished commit has made durable */
    int leader_active;    /* a commit is in progress outside the lock */
    pthread_cond_t gather_cv;  /* a gathering leader waits here for the callers it expects */
    int gathering;             /* the leader is waiting for more callers before it commits */
    uint64_t group_hint;       /* callers active around the last commit (commit.c, "gathering") */
    uint64_t last_commit_ns;   /* how long the last commit took */
    struct snap_log_header log; /* current log header */
    uint64_t log_off;           /* area offset where the next record goes */
    uint64_t next_epoch;
    uint64_t committed_size;    /* data size in the last committed record (or the header) */

    /* Leader-only scratch, reused across commits. Records are staged in one of two buffers; a
     * committed record stays in its buffer until applied to the data file (commit.c, step 6).
     * pend[] lists those records, oldest first; mark is the highest apply mark durable in the log
     * (redo_log.h; 0: none since the open). */
    uint8_t *buf[2];
    size_t buf_cap[2];
    struct snap_pending {
        uint64_t epoch;
        int buf; /* index into buf[] */
    } pend[2];
    int npend;
    uint64_t mark;
    struct snap_line_run *runs;
    size_t runs_cap;

    /* Statistics (atomics). */
    uint64_t st_msyncs, st_commits, st_lines, st_bytes, st_log_bytes, st_checkpoints, st_commit_ns;
    uint64_t st_recovered;
};

/* Validate a handle for a call: SNAP_E_INVAL if NULL or not a region, SNAP_E_CLOSED if closed,
 * SNAP_E_FORKED in a process other than the one that opened it (no system call). */
static inline int snap_region_check(const struct snap_region *r)
{
    if (!r || r->magic != SNAP_REGION_MAGIC)
        return SNAP_E_INVAL;
    if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == SNAP_STATE_CLOSED)
        return SNAP_E_CLOSED;
    if (__builtin_expect(r->gen != __atomic_load_n(&snap_process_gen, __ATOMIC_RELAXED), 0))
        return SNAP_E_FORKED;
    return 0;
}

/* Close a checked, open handle: checkpoint (unless in PANIC), mark it closed, let dispose_memory
 * deal with the DRAM copy and the bitmaps, then close the files and the commit state. Returns the
 * checkpoint's result, or in PANIC the error that caused it; the handle is closed either way. In a
 * forked child (snap_region_check() said SNAP_E_FORKED) it writes nothing, releases the child's
 * copy only and returns SNAP_E_FORKED. snap_close() passes
 * snap_copy_release; snap_foreign_close() quarantines the memory instead (snap_copy_quarantine). */
int snap_region_close(struct snap_region *r, void (*dispose_memory)(struct snap_region *r));

/* Keep a closed handle's memory for the last 1024 closes, so a use after close reads a closed
 * handle rather than freed memory; frees the oldest. */
void snap_region_bury(struct snap_region *r);

/* commit.c */
int snap_commit_init(struct snap_region *r);
void snap_commit_destroy(struct snap_region *r);
void snap_commit_free_scratch(struct snap_region *r); /* the stage buffers and the run list */
/* Flush the data file and empty the log (header with base_epoch = next_epoch). Lock held or no
 * concurrency. */
int snap_checkpoint(struct snap_region *r);
/* The checkpoint's last steps, which recovery shares: barrier(D) if data_barrier (what was applied
 * becomes durable: invariant 3), then the header h (its fields set by the caller, seq already
 * advanced) into its slot, barrier(L). From then on the records it drops are gone. */
int snap_log_reset(struct snap_backend *be, struct snap_log_header *h, int data_barrier);
/* Debug builds: assert the invariants of commit.c that can be checked from the handle. */
void snap_assert_region_state(const struct snap_region *r);

/* recovery.c */
struct snap_recovery {
    struct snap_log_header log; /* header after recovery */
    uint64_t size;              /* committed data size */
    uint64_t replayed;          /* records applied */
};
/* Bring the data file to the last committed state and empty the log; create the log if there is
 * none. `new_size` is the size of a data file that has no log yet (its current size). */
int snap_recovery_run(struct snap_backend *be, uint64_t log_capacity, struct snap_recovery *out);

/* verify.c: compare the DRAM copy with the data file; 0 or SNAP_E_VERIFY (reported on stderr). */
int snap_verify_region(struct snap_region *r);

/* Current size, without the lock. */
static inline uint64_t snap_region_size(const struct snap_region *r)
{
    return __atomic_load_n(&r->size, __ATOMIC_ACQUIRE);
}

#endif /* SNAPSHOT_REGION_H */
