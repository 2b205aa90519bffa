/* commit.c — snap_msync(): the commit protocol, group commit and checkpoints.
 *
 * THE PROTOCOL
 *
 * A region is a DRAM copy of the data file D. Stores go to DRAM and mark 64-byte lines dirty. The
 * sidecar log L (layout in redo_log.h) holds redo records; each msync that has something to commit
 * appends one record and issues ONE barrier, which is its commit point:
 *
 *   msync k:  1. take the dirty lines: wait for the markers in flight, then swap each dirty-map
 *                word to zero (dirty_map.h, "the marking protocol")
 *             2. membarrier (unless SNAP_NO_CONCURRENT_WRITERS; see "Racing stores" below)
 *             3. copy those lines from DRAM into a staging record {header, runs, data, CRC-32C};
 *                the record carries epoch k and the region's size
 *             4. if the record does not fit after the last one: checkpoint (below)
 *            4b. reserve room: the file system blocks of the record's span in L and of its
 *                runs in D (backend.h, reserve; space.h; on files L's holes are filled ahead
 *                with zeros, so that a commit's barrier seldom has metadata to commit), and,
 *                if step 4 must grow the log, its new size, before step 4 writes anything. A
 *                full file system fails here, with nothing of the record written: the lines go
 *                back to the dirty map and the region stays OPEN (not PANIC: no write failed),
 *                so the msync returns -ENOSPC and a later one commits the same stores once there
 *                is room. Without it the failure would come after the commit point, from step
 *                6, where a store into a hole of D through a mapping dies of SIGBUS
 *             5. write the record to L at the end of the chain, and the apply mark k-1 (below)
 *                if record k-1 is pending;  barrier(L)                     <-- COMMIT POINT
 *             6. apply: write a record's runs to D (no barrier; made durable by the next
 *                checkpoint, and until then recoverable from L), from the stage buffer it was
 *                committed from, once the mark covers it. A record k is *pending* from its
 *                barrier until then. Files apply record k-1 right after step 5 of msync k, so D
 *                lags one record; PM and the simulator apply it at the start of msync k+1,
 *                before staging (so before that msync's barrier, which drains its stores). A
 *                checkpoint applies every pending record before its barrier(D). A streamed
 *                record (over stream_min) cannot wait in a buffer: its msync makes the mark k
 *                durable with a barrier of its own and applies it at once, read back from L.
 *
 *   apply mark: "records of this log up to epoch m may be in D; none after". Written to the
 *               log's header page (redo_log.h), alternately to two slots, so a torn write leaves
 *               the previous mark. It costs no barrier of its own: record k-1 is durable before
 *               msync k writes its mark, so a crash may lose the mark but never makes it false.
 *
 *   checkpoint: (grow L if the record needs a larger area;) make the mark of the last pending
 *               record durable (mark; barrier(L)) and apply the pending records; barrier(D);
 *               write the other header slot with base_epoch = next epoch, the committed data size
 *               and the area size; barrier(L). The log is now empty: the next record goes to area
 *               offset 0. Run when the log is full, at close, and at the end of recovery.
 *
 *   recovery (recovery.c): read the current header; walk the chain (records from area offset 0,
 *               epochs base_epoch, base_epoch+1, ... each valid by CRC); if it ends below the
 *               mark, or before a later record of this log, stop with SNAP_E_CORRUPT (invariant
 *               4); else replay the chain in order onto D; set D's size to the last record's
 *               size; barrier(D); checkpoint. An empty chain needs no header, unless a torn
 *               record of epoch base_epoch sits at area offset 0: then a header with
 *               base_epoch + 1; barrier(L) (invariant 9).
 *
 * Why the mark: a record whose bytes reached D and are then damaged in L (a bit flip) looks like
 * a torn tail; replaying the shorter chain over D would set some of its lines back and open a mix
 * of two states. With the mark, D never holds a record that recovery could take for torn: damage
 * to any record but the last is reported, and damage to the last one (not in D yet) recovers the
 * state before it. That last case cannot be told from a tear without a second barrier per msync.
 *
 * Why the later point on PM: there the apply is non-temporal stores to random lines of D. Applied
 * right after the barrier, they made the msync's return wait for them (the next locked
 * instruction drains them) and for a page walk per line; later, they drain under the next
 * commit's barrier, and pmem.c prefetches their pages meanwhile (0.2 us of 0.7 for a one-line
 * msync, measured on emulated PM). On files the apply is a copy into the page cache, cheap next to
 * fdatasync.
 *
 * On persistent memory a write is pmem_memcpy_nodrain and a barrier pmem_drain; on files a write is
 * pwrite (log) or a store into a shared mapping (data) and a barrier fdatasync. In the common case
 * an msync costs one barrier on one file: the device's flush is the floor.
 *
 * INVARIANTS (cited by number in the code and in docs/ARCHITECTURE.md)
 *
 *   (1) A record is written only past the end of the chain, or at area offset 0 right after a
 *       checkpoint: a record of the current chain is never overwritten.
 *   (2) A byte reaches D only after the record carrying it is durable in L and so is a mark at or
 *       above its epoch (step 6). So D holds, line by line, either the last checkpointed state or
 *       the bytes of a committed record no later than the durable mark; records reach D in epoch
 *       order (pending records are applied oldest first), so a line never goes back to older
 *       bytes.
 *   (3) The header moves base_epoch forward (dropping records) only after barrier(D) has made every
 *       dropped record's apply durable: the checkpoint applies a pending record before barrier(D).
 *       (Recovery's header that only skips a torn record's epoch drops none: invariant 9.)
 *   (4) Record k+1 is written only after barrier(L) for record k returned. Hence at most one record
 *       — the last — can be torn, and a damaged record followed by a valid successor is corruption,
 *       not a crash (redo_log.c reports SNAP_E_CORRUPT and recovery changes nothing). So is a
 *       chain that ends below the durable mark m: record m was durable when its mark was written.
 *       A chain ending at or above m replays over a D that holds no record after it (2).
 *   (5) The committed state is D's checkpointed state plus the chain replayed in epoch order.
 *       Replaying is idempotent (each record sets bytes to fixed values), so a crash during
 *       recovery is repaired by recovering again.
 *   (6) A line's dirty bit is cleared before its bytes are copied, and the copy is taken from a
 *       stable staging buffer, so a store racing with the commit is either in this record or
 *       marked again for the next one; the record's CRC covers exactly the bytes applied (a
 *       pending record is applied from the stage, which nothing writes until it is applied).
 *   (7) D is never shorter than the size in the current header. Growth extends D at once; the new
 *       size commits with the next record; recovery cuts D back to the committed size.
 *   (8) After a failed write or barrier nothing more is written: the region is in PANIC. A pending
 *       record's apply that fails fails the msync (or the close) that runs it; its record stays
 *       in L. A failed reservation (step 4b) or a failure before the commit point that is not the
 *       media's is not such a failure: no memory (the run list, the stage, membarrier's -ENOMEM,
 *       mapping the log on PM), membarrier denied, or no space (-ENOSPC, -EDQUOT) growing L or
 *       reserving room (step 4b) or writing the record in step 5. Then the lines go back to the
 *       dirty map, the region stays OPEN and the next msync retries: no barrier failed, so the
 *       kernel dropped nothing, and nothing of the attempt is in the chain (L's growth lies past
 *       the area the durable header names; a record written in part is absent or torn past the
 *       chain's end). The retry writes at the same place (9). A failed barrier, -EIO or any other
 *       write error still means PANIC. Step 4b makes the apply's writes unable to fail for want
 *       of space on file systems that overwrite in place; if an apply fails anyway (-EIO, or
 *       -ENOSPC where overwrites need new space), the msync returns the error after its record
 *       committed: the region is in PANIC, and the next open replays the record (5), so the
 *       caller sees what a crash during the call would give — this state or the previous one,
 *       here this one.
 *   (9) A record is never written at the place (area offset, epoch) of an earlier record whose
 *       first line may be on the media. Otherwise a retry whose lines partly reach the media could
 *       complete an older torn record, and recovery would replay an msync that never returned
 *       after a recovery had already given the state before it. Proof: a log with base_epoch b
 *       puts epoch b at offset 0 and larger epochs past it, and base_epoch never goes back. A
 *       crash can leave on the media first lines of the chain's records (their epochs fall below
 *       the base_epoch recovery writes) and of one torn record after them (4), at (o, e). If the
 *       chain is not empty, o > 0 and recovery writes base_epoch e, which goes to offset 0 only.
 *       If it is empty, (o, e) = (0, b): recovery sees that first line (magic, log_id, epoch b:
 *       snap_log_chain.torn_tail) and writes base_epoch b + 1. Only the first line matters: it
 *       holds the header CRC, which covers the whole header and so the body CRC; a record whose
 *       first line is the latest write's validates only as that write's record (bar a CRC-32C
 *       collision between two bodies), so lines of an attempt whose first line was lost can
 *       complete it only with bytes equal to its own.
 *       The one exception is the retry after a failure of (8), at the same place as the failed
 *       attempt A (unless its step 4 checkpoints first: then at offset 0, a place of its own),
 *       whose first line may be on the media (written back by the kernel): no recovery
 *       ran in between, so nobody was shown the state without A; A's lines were given back, so
 *       the retry B carries each of them with the same or later bytes, and the application went on
 *       from A's state, not from the one before it. A crash during B leaves at that place a mix
 *       that validates as A (its first line is A's and so are the others), as B, or not at all:
 *       recovery gives A's state, B's or the one before, each a state the region went through in
 *       order. A's msync returned an error, and snapshot.h says such a call may have committed.
 *       A recovery after that crash is an ordinary one, above.
 *
 * Crash analysis. Crash before step 5's barrier returns: record k is absent or torn, so the chain
 * ends at k-1 and D holds only bytes of records <= k-1 (2), the mark at most k-1: recovery yields
 * state k-1, and no later record can complete record k (9). Crash after: record k is valid;
 * recovery replays it: state k. Crash inside a checkpoint: before the header is durable, the old
 * header's chain is intact (1) and replayed; after, D was durable first (3).
 * Whether record k's apply had happened, partly or not at all, does not matter while k is in the
 * chain: replay rewrites every byte it carries (5).
 *
 * Which stores an msync includes. A store S is *tracked* once its marking (the hook, snap_track(),
 * a Java accessor) has returned; marking runs after the store. Claim: if S was tracked before an
 * event that happens-before caller C's registration in snap_msync() (C's own program order, or a
 * lock, join or release/acquire pair that the storing thread entered after tracking S), C's call
 * returns 0 only once a record holding S's bytes (or later bytes of the same line) is durable.
 * Proof: C returns 0 once `covered` reaches its registration, i.e. once a leader L that read
 * `requested` after C registered (both under r->mu, before L's step 1) has committed. By the claim
 * in dirty_map.h, S's line is taken by L's step 1 or by an earlier collection E, which swapped the
 * bit after S's marking saw it set or set it. If the marking set it, its atomic OR (a full fence)
 * made S visible first; if it saw it set, step 2 did ("Racing stores"). So the copy of step 3
 * holds S's bytes or later ones, in L's record, durable at L's step 5, or in E's, durable before
 * L's (invariant 4). A store not yet tracked when the call begins — such as a publishing store
 * itself, which another thread may acquire before its hook runs — is racing: committed by this
 * call or the next (invariant 6).
 *
 * Racing stores. The store hook tests an already-set dirty bit with a plain load. A CPU may perform
 * that load before its preceding store is visible to other cores (x86 store buffer), so a writer can
 * see "already marked" while the committing thread has just cleared the bit and is about to read the
 * line's old bytes: the store would be lost, not even committed next time. Step 2's
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) forces a full barrier on every thread of the process:
 * after it, either the writer's load saw the cleared bit (and it marks again), or its store is
 * visible to step 3. It costs a system call (about 0.1 us when no other thread runs, more with
 * running threads); SNAP_NO_CONCURRENT_WRITERS skips it when no store can race with msync.
 * There is no sound fallback on the committing side alone (its own fence does not order the
 * writers' store-then-load), so the first snap_open() without that flag checks, once per process,
 * that membarrier works: QUERY, then register and issue PRIVATE_EXPEDITED, or else GLOBAL (much
 * slower) if QUERY lists it. If neither works (a kernel without membarrier, a seccomp filter
 * denying it) snap_open() fails with SNAP_E_NOMEMBARRIER before touching any file. Step 2 checks
 * the call every time: if it fails anyway (a filter installed after the open, -ENOMEM), the msync
 * gives the lines back to the dirty map and fails instead of copying them unfenced.
 *
 * REGION STATES
 *
 *      snap_open() ──> OPEN ──(write/barrier fails: commit_once)──> PANIC
 *                       │  ^                                          │
*                       │  └── snap_msync() (also failing for want    │
 *                       │      of memory or space, (8)), snap_grow()  │
 *                       └──────────── snap_close() ──> CLOSED <───────┘
 *                                      (in PANIC: returns panic_err)
 *
 * GROUP COMMIT. Callers register under r->mu (requested++). One caller at a time is the leader: it
 * notes how many calls are registered, commits without the lock, then marks those calls covered.
 * Every registered caller's stores happened before its registration, which happened before the
 * leader took the dirty lines, so they are in the leader's record. Callers that arrive during a
 * commit wait, and the next leader covers them all with one barrier. Gathering (gather()): when the
 * last commit waited for a device and several callers were active around it, the new leader first
 * waits, briefly and with a time limit, for that many callers to register, so that they share its
 * barrier instead of taking turns (docs/ARCHITECTURE.md, "Group commit"). It changes when the lines
 * are taken, not how.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "racy.h"
#include "region.h"
#include "testkit.h"

static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static int membarrier_cmd; /* 0: unusable (see "Racing stores") */

/* Once per process. QUERY's mask says what the kernel supports; the chosen command is then issued
 * once, because a seccomp filter may answer QUERY and deny the commands (or deny everything with
 * EPERM or ENOSYS). The registration and this result are inherited across fork(). */
static void membarrier_setup(void)
{
    long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (mask <= 0)
        return; /* no membarrier: an old kernel, or denied */
    if ((mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        membarrier_cmd = MEMBARRIER_CMD_PRIVATE_EXPEDITED;
    else if ((mask & MEMBARRIER_CMD_GLOBAL) && /* slow (waits for an RCU grace period), but sound */
             syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
        membarrier_cmd = MEMBARRIER_CMD_GLOBAL;
}

/* Whether a region with these flags can be opened: without SNAP_NO_CONCURRENT_WRITERS, msync needs
 * membarrier. With the flag membarrier is never called (a filter may kill the process for it). */
static int membarrier_ready(uint32_t flags)
{
    if (flags & SNAP_NO_CONCURRENT_WRITERS)
        return 0;
    pthread_once(&membarrier_once, membarrier_setup);
    return membarrier_cmd ? 0 : SNAP_E_NOMEMBARRIER;
}

/* Step 2. It cannot fail after setup's probe succeeded, short of a seccomp filter installed since
 * or the kernel's -ENOMEM: then the lines must not be copied unfenced (the caller gives them
 * back). */
static int heavy_barrier(void)
{
    long rc;
    do
        rc = syscall(__NR_membarrier, membarrier_cmd, 0, 0);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    return rc < 0 && errno == ENOMEM ? -ENOMEM : SNAP_E_NOMEMBARRIER;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int snap_commit_init(struct snap_region *r)
{
    int rc = membarrier_ready(r->flags); /* snap_open() calls this before touching any file */
    if (rc)
        return rc;
    rc = pthread_mutex_init(&r->mu, NULL);
    if (rc)
        return -rc;
    rc = pthread_cond_init(&r->cv, NULL);
    if (rc) {
        pthread_mutex_destroy(&r->mu);
        return -rc;
    }
    pthread_condattr_t ca;
    rc = pthread_condattr_init(&ca);
    if (!rc) {
        rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits: now_ns()'s clock */
        if (!rc)
            rc = pthread_cond_init(&r->gather_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        return -rc;
    }
    return 0;
}

void snap_commit_free_scratch(struct snap_region *r)
{
    for (int i = 0; i < 2; i++) {
        free(r->buf[i]);
        r->buf[i] = NULL;
        r->buf_cap[i] = 0;
    }
    r->npend = 0;
    free(r->runs);
    r->runs = NULL;
}

void snap_commit_destroy(struct snap_region *r)
{
    pthread_cond_destroy(&r->gather_cv);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    snap_commit_free_scratch(r);
}

void snap_assert_region_state(const struct snap_region *r)
{
#ifndef NDEBUG
    if (r->log_off > r->log.area_size || r->log_off % SNAP_REC_ALIGN ||
        r->next_epoch < r->log.base_epoch || (r->log_off == 0) != (r->next_epoch == r->log.base_epoch) ||
        r->committed_size < r->log.data_size || r->committed_size > snap_region_size(r) ||
        (r->npend && (r->log_off == 0 || r->pend[r->npend - 1].epoch != r->next_epoch - 1)) ||
        snap_region_size(r) > r->reserve) {
        fprintf(stderr, "snapshot: region state violates commit.c invariants (1)(5)(7): off %llu "
                        "area %llu epoch %llu base %llu committed %llu size %llu\n",
                (unsigned long long)r->log_off, (unsigned long long)r->log.area_size,
                (unsigned long long)r->next_epoch, (unsigned long long)r->log.base_epoch,
                (unsigned long long)r->committed_size, (unsigned long long)snap_region_size(r));
        abort(); /* debug builds only: a broken invariant is a bug in this file, not bad input */
    }
#else
    (void)r;
#endif
}

/* Make the apply mark `epoch` durable on its own (one barrier(L)), unless it already is. Only a
 * checkpoint, the verification oracle and a streamed record need this; an msync's mark shares the
 * record's barrier (step 5). */
static int mark_now(struct snap_region *r, uint64_t epoch)
{
    if (r->mark >= epoch)
        return 0;
    int rc = snap_log_mark_write(r->be, r->log.log_id, epoch);
    if (!rc)
        rc = snap_be_barrier(r->be, SNAP_LOG);
    if (!rc)
        r->mark = epoch;
    return rc;
}

/* Step 6: apply the pending records up to epoch `upto`, oldest first, from their buffers (the
 * bytes the CRC covered, never the live DRAM copy: invariant 6). Each must be under the durable
 * mark (invariant 2); with `force` the mark is made durable first if it is not. */
static int apply_upto(struct snap_region *r, uint64_t upto, int force)
{
    while (r->npend && r->pend[0].epoch <= upto) {
        int rc = 0;
        if (r->pend[0].epoch > r->mark) {
            if (!force)
                return 0;
            rc = mark_now(r, r->pend[r->npend - 1].epoch < upto ? r->pend[r->npend - 1].epoch : upto);
            if (rc)
                return rc;
        }
        rc = snap_rec_apply(r->be, (const struct snap_rec_header *)r->buf[r->pend[0].buf]);
        if (rc)
            return rc;
        r->pend[0] = r->pend[1];
        r->npend--;
    }
    return 0;
}

/* Every committed record to the data file: before a checkpoint's barrier(D) and before
 * verifying. */
static int apply_all(struct snap_region *r)
{
    return apply_upto(r, UINT64_MAX, 1);
}

/* The record area that a record of `need` bytes asks for: the current one if large enough, else
 * twice it (at least `need`), rounded up to 1 MiB. */
static uint64_t area_for(const struct snap_region *r, uint64_t need)
{
    uint64_t area = r->log.area_size;
    if (need <= area)
        return area;
    area = area * 2 > need ? area * 2 : need;
    return (area + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
}

/* Make the log file long enough for an area of area_for(need) bytes. Only the checkpoint's
 * header makes the area that large; a log file longer than its header says is harmless (nothing
 * reads past area_size), so it grows first, before anything is written, where a failure
 * (-ENOSPC: PM preallocates) is retryable (invariant 8), not a panic. */
static int grow_log(struct snap_region *r, uint64_t need)
{
    uint64_t want = SNAP_LOG_AREA_OFF + area_for(r, need), have;
    int rc = snap_be_size(r->be, SNAP_LOG, &have);
    return rc || have >= want ? rc : snap_be_resize(r->be, SNAP_LOG, want);
}

/* Failures before the commit point that leave nothing a retry could not overwrite, and that are
 * not the media's: want of memory or of space (invariant 8). */
static int retryable(int rc)
{
    return rc == -ENOMEM || rc == -ENOSPC || rc == -EDQUOT;
}

int snap_log_reset(struct snap_backend *be, struct snap_log_header *h, int data_barrier)
{
    int rc = data_barrier ? snap_be_barrier(be, SNAP_DATA) : 0; /* invariant 3 */
    if (!rc)
        rc = snap_log_header_write(be, h);
    return rc ? rc : snap_be_barrier(be, SNAP_LOG);
}

/* Checkpoint, and make the record area at least min_area bytes. *retry (if not NULL) is set when it
 * failed growing the log for want of space, before writing anything (invariant 8). */
static int checkpoint_sized(struct snap_region *r, uint64_t min_area, int *retry)
{
    struct snap_log_header h = r->log;
    int rc;
    if (min_area > h.area_size) {
        /* First: the file grows past the area the current header names, so recovery reads none of
         * the new bytes until the header below is durable. */
        rc = grow_log(r, min_area);
        if (rc) {
            if (retry)
                *retry = retryable(rc);
            return rc;
        }
        h.area_size = area_for(r, min_area);
    }
    rc = apply_all(r);
    if (rc)
        return rc;
    h.seq++;
    h.base_epoch = r->next_epoch;
    h.data_size = r->committed_size;
    rc = snap_log_reset(r->be, &h, 1);
    if (rc)
        return rc;
    r->log = h;
    r->log_off = 0;
    r->budget.dirty_pages = 0;
    __atomic_store_n(&r->st_checkpoints, r->st_checkpoints + 1, __ATOMIC_RELAXED); /* leader only */
    return 0;
}

int snap_checkpoint(struct snap_region *r)
{
    return checkpoint_sized(r, 0, NULL);
}

#define COPY_PIECE (32u << 10) /* stays in L1/L2 between the copy and the CRC */

/* Records up to snap_commit_stream_min bytes are staged whole and written with one write; larger
 * ones are streamed to the log piece by piece (snap_commit_piece bytes: copy, CRC and write while the
 * piece is in cache) and applied back from the log, so a large commit makes two passes over memory
 * instead of four. Both are test-kit knobs (testkit.h: constants in release), so that the crash
 * tests can drive small records down the streaming path. */

/* Where step 6 applies a record k, once the mark k is durable (written with record k+1): -1 by
 * back end, 0 right after record k+1's barrier, 1 before record k+2's barrier (the crash tests
 * drive both ways through the simulator). The later point suits PM, where the apply's
 * non-temporal stores would otherwise make the msync's return wait for them (the next locked
 * instruction drains them): they drain under the next barrier instead. The simulator stands for
 * PM. On files the apply is a copy into the page cache, cheap next to fdatasync, and the earlier
 * point keeps the data file one msync behind, not two. The tests choose with the test-kit knob
 * snap_commit_defer_apply (testkit.h); in release it is -1. */
static int defer_apply(const struct snap_region *r)
{
    if (snap_commit_defer_apply >= 0)
        return snap_commit_defer_apply;
    return r->be->kind != SNAP_BACKEND_FILE;
}

/* The stage buffer that no pending record holds (at most one is pending when a record is
 * staged), grown to `need` bytes: its index, or -ENOMEM. */
static int stage_buffer(struct snap_region *r, size_t need)
{
    int i = r->npend ? 1 - r->pend[0].buf : 0;
    if (need > r->buf_cap[i]) {
        uint8_t *b = realloc(r->buf[i], need);
        if (!b)
            return -ENOMEM;
        r->buf[i] = b;
        r->buf_cap[i] = need;
    }
    return i;
}

/* Statistics are written by the leader only: plain stores, because a locked add right after the
 * non-temporal copies would wait for them to reach the media. */
static void stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* A record being committed: its runs sit in the stage after the header; `data` is the whole
 * payload, or one piece when the record is streamed. */
struct record {
    uint8_t *stage; /* header, runs, then the data or one piece of it */
    struct snap_rec_run *runs;
    uint64_t nruns, payload, lines;
    uint64_t head;  /* header + run table */
    uint64_t total; /* bytes in the log */
    uint64_t at;    /* log offset of the record */
    uint8_t *data;
    size_t piece;
    int stream;
};

/* Step 3 (and, streaming, step 5's writes): copy each piece from DRAM, take its CRC while it is in
 * cache, write it to the log at once when streaming; then the header, last. */
static int write_record(struct snap_region *r, struct record *rec, uint64_t size)
{
    static const uint8_t zeros[SNAP_REC_ALIGN];
    const uint64_t pad = rec->total - rec->head - rec->payload;
    uint32_t crc = snap_crc32c(0, rec->runs, rec->nruns * sizeof *rec->runs);
    int rc = 0;
    if (rec->stream)
        rc = snap_be_write(r->be, SNAP_LOG, rec->at + sizeof(struct snap_rec_header), rec->runs,
                           rec->nruns * sizeof *rec->runs);
    for (uint64_t i = 0, pos = 0; i < rec->nruns && !rc; i++) {
        for (uint64_t done = 0; done < rec->runs[i].len && !rc;) {
            uint64_t n = rec->runs[i].len - done < rec->piece ? rec->runs[i].len - done : rec->piece;
            uint8_t *dst = rec->stream ? rec->data : rec->data + pos;
            snap_racy_copy(dst, (const uint8_t *)r->base + rec->runs[i].off + done, n);
            crc = snap_crc32c(crc, dst, n);
            if (rec->stream)
                rc = snap_be_write(r->be, SNAP_LOG, rec->at + rec->head + pos, dst, n);
            pos += n;
            done += n;
        }
    }
    if (rc)
        return rc;
    snap_rec_header_fill(rec->stage, r->log_off, r->log.log_id, r->next_epoch, size, rec->nruns,
                         rec->payload, crc);
    if (!rec->stream) {
        memset(rec->data + rec->payload, 0, pad);
        return snap_be_write(r->be, SNAP_LOG, rec->at, rec->stage, rec->total);
    }
    rc = snap_be_write(r->be, SNAP_LOG, rec->at + rec->head + rec->payload, zeros, pad);
    return rc ? rc : snap_be_write(r->be, SNAP_LOG, rec->at, rec->stage, sizeof(struct snap_rec_header));
}

/* Let the back end prepare the oldest pending record's writes while the caller runs (pmem.c: the
 * page walks of the data file's lines), so that the deferred apply does not wait for them. */
static void prefetch_pending(struct snap_region *r)
{
    const struct snap_rec_header *h = (const struct snap_rec_header *)r->buf[r->pend[0].buf];
    const struct snap_rec_run *runs = snap_rec_runs(h);
    for (uint64_t i = 0; i < h->nruns && i < 16; i++)
        snap_be_prefetch(r->be, SNAP_DATA, runs[i].off, runs[i].len);
}

/* Step 6 for a streamed record, at once: read each piece back from the log into the stage and
 * write it to the data file (the stage holds only one piece, so it cannot wait). */
static int apply_streamed(struct snap_region *r, const struct record *rec)
{
    int rc = 0;
    for (uint64_t i = 0, pos = 0; i < rec->nruns && !rc; i++) {
        for (uint64_t done = 0; done < rec->runs[i].len && !rc;) {
            uint64_t n = rec->runs[i].len - done < rec->piece ? rec->runs[i].len - done : rec->piece;
            rc = snap_be_read(r->be, SNAP_LOG, rec->at + rec->head + pos, rec->data, n);
            if (!rc)
                rc = snap_be_write(r->be, SNAP_DATA, rec->runs[i].off + done, rec->data, n);
            pos += n;
            done += n;
        }
    }
    return rc;
}

/* Step 4b: room for the record's span in L and for its runs in D, before anything of it is
 * written (invariant 8). */
static int reserve_record(struct snap_region *r, const struct record *rec)
{
    int rc = snap_be_reserve(r->be, SNAP_LOG, rec->at, rec->total);
    for (uint64_t i = 0; i < rec->nruns && !rc; i++)
        rc = snap_be_reserve(r->be, SNAP_DATA, rec->runs[i].off, rec->runs[i].len);
    return rc;
}

/* The verification oracle compares the data file with DRAM, so the pending records go first. */
static int verify_now(struct snap_region *r)
{
    int rc = apply_all(r);
    return rc ? rc : snap_verify_region(r);
}

/* Mark the lines taken in step 1 dirty again: a failed attempt loses none of them. */
static void give_back(struct snap_region *r, long nline_runs)
{
    for (long i = 0; i < nline_runs; i++)
        snap_dirty_mark(&r->dirty, r->runs[i].first, r->runs[i].count);
}

/* Steps 1-6 of the protocol. Leader only (r->leader_active), without r->mu. On failure *retry
 * says whether the region stays open (invariant 8): the failure came before the commit point, was
 * not the media's, and the lines are marked again. */
static int commit_once(struct snap_region *r, int *retry)
{
    *retry = 0;
    snap_assert_region_state(r);
    uint64_t size = snap_region_size(r);
    long nline_runs = snap_dirty_collect(&r->dirty, &r->runs, &r->runs_cap); /* step 1 */
    if (nline_runs < 0) {
        *retry = 1; /* -ENOMEM growing the run list: the collection marked every line again */
        return (int)nline_runs;
    }
    if (nline_runs == 0 && size == r->committed_size) /* nothing to commit; still check */
        return r->verify ? verify_now(r) : 0;
    if (nline_runs > 0 && !(r->flags & SNAP_NO_CONCURRENT_WRITERS)) {
        int brc = heavy_barrier(); /* step 2 */
        if (brc) {
            give_back(r, nline_runs); /* nothing is lost, nothing was written */
            *retry = 1;
            return brc;
        }
    }

    /* Line runs become byte runs, clipped to the region's size. */
    struct record rec = {0};
    for (long i = 0; i < nline_runs; i++) {
        uint64_t off = r->runs[i].first << SNAP_LINE_SHIFT;
        if (off >= size)
            break; /* runs are ascending */
        uint64_t len = r->runs[i].count << SNAP_LINE_SHIFT;
        rec.payload += len < size - off ? len : size - off;
        rec.lines += r->runs[i].count;
        rec.nruns++;
    }
    rec.head = sizeof(struct snap_rec_header) + rec.nruns * sizeof(struct snap_rec_run);
    rec.total = snap_rec_size(rec.nruns, rec.payload);
    rec.stream = rec.total > snap_commit_stream_min;
    rec.piece = rec.stream ? snap_commit_piece : COPY_PIECE;
    /* Step 6 at the later point: records under the durable mark leave their buffers now, and
     * their non-temporal stores drain under this record's barrier instead of stalling the last
     * msync's return. A buffer must be free to stage into: at most one record stays pending. */
    int rc = defer_apply(r) ? apply_upto(r, r->mark, 0) : 0;
    if (!rc && r->npend == 2)
        rc = apply_upto(r, r->pend[0].epoch, 1); /* not reached: the mark covers the older one */
    if (rc)
        return rc; /* a write to D or L: the media's (PANIC) */
    int sb = stage_buffer(r, rec.stream ? rec.head + snap_commit_piece : rec.total);
    if (sb < 0) {
        give_back(r, nline_runs);
        *retry = 1;
        return sb;
    }
    rec.stage = r->buf[sb];
    rec.runs = (struct snap_rec_run *)(rec.stage + sizeof(struct snap_rec_header));
    rec.data = rec.stage + rec.head;
    for (uint64_t i = 0; i < rec.nruns; i++) {
        uint64_t off = r->runs[i].first << SNAP_LINE_SHIFT;
        uint64_t len = r->runs[i].count << SNAP_LINE_SHIFT;
        rec.runs[i] = (struct snap_rec_run){off, len < size - off ? len : size - off};
    }

    if (r->log_off + rec.total > r->log.area_size || snap_budget_dirty_due(r, rec.runs, rec.nruns)) {
        /* step 4 (and, for an evictable copy, when D holds much unflushed: budget.h) */
        rc = checkpoint_sized(r, rec.total, retry);
        if (rc) {
            if (*retry)
                give_back(r, nline_runs);
            return rc;
        }
    }
    rec.at = SNAP_LOG_AREA_OFF + r->log_off;
    rc = reserve_record(r, &rec); /* step 4b: a failure writes nothing */
    if (rc) {
        give_back(r, nline_runs);
        *retry = 1;
        return rc;
    }
    rc = write_record(r, &rec, size);
    /* The mark for the pending record shares this barrier: it is true already (that record is
     * durable), and the record may reach D only once it is durable too (invariant 2). */
    uint64_t mark = r->npend ? r->pend[r->npend - 1].epoch : 0;
    if (!rc && mark > r->mark)
        rc = snap_log_mark_write(r->be, r->log.log_id, mark);
    if (rc && retryable(rc)) {
        /* No space for the record (or memory to map the log): it is torn or absent past the end
         * of the chain, where the retry writes at the same place (invariants 8, 9). A mark
         * written meanwhile is true and harmless. */
        give_back(r, nline_runs);
        *retry = 1;
        return rc;
    }
    if (!rc)
        rc = snap_be_barrier(r->be, SNAP_LOG); /* step 5: the commit point */
    if (rc)
        return rc;
    if (mark > r->mark)
        r->mark = mark;
    uint64_t epoch = r->next_epoch++;
    r->log_off += rec.total;
    r->committed_size = size;

    if (rec.stream) {
        /* The stage holds one piece, so this record cannot wait: the records before it go first,
         * then its own mark, with a barrier of its own (rare: records over stream_min). */
        rc = apply_all(r);
        if (!rc)
            rc = mark_now(r, epoch);
        if (!rc)
            rc = apply_streamed(r, &rec);
    } else {
        r->pend[r->npend++] = (struct snap_pending){.epoch = epoch, .buf = sb};
        if (!defer_apply(r))
            rc = apply_upto(r, r->mark, 0); /* the record before this one */
        else
            prefetch_pending(r);
    }
    stat_add(&r->st_commits, 1);
    stat_add(&r->st_lines, rec.lines);
    stat_add(&r->st_bytes, rec.payload);
    stat_add(&r->st_log_bytes, rec.total);
    snap_assert_region_state(r);
    if (!rc && r->verify)
        rc = verify_now(r);
    return rc;
}

/* Gathering (see GROUP COMMIT): a new leader whose last commit waited for a device, and around
 * which other callers were active, waits a little for them to register before it takes the dirty
 * lines, so that one barrier covers them all. Called with r->mu held, as the leader. Returns 1 if
 * it waited. */
#define GATHER_MIN_COMMIT_NS 20000u /* below this a commit is not waiting for a device */
#define GATHER_MAX_NS 200000u
static int gather(struct snap_region *r)
{
    /* With SNAP_NO_CONCURRENT_WRITERS nobody stores while a commit runs, so no caller can get
     * ready to join during one: waiting would only add latency. */
    if (r->group_hint < 2 || r->last_commit_ns < GATHER_MIN_COMMIT_NS ||
        (r->flags & SNAP_NO_CONCURRENT_WRITERS))
        return 0;
    uint64_t wait = r->last_commit_ns / 4 < GATHER_MAX_NS ? r->last_commit_ns / 4 : GATHER_MAX_NS;
    uint64_t until = now_ns() + wait;
    struct timespec dl = {.tv_sec = (time_t)(until / 1000000000u), .tv_nsec = (long)(until % 1000000000u)};
    r->gathering = 1;
    while (r->requested - r->covered < r->group_hint)
        if (pthread_cond_timedwait(&r->gather_cv, &r->mu, &dl) != 0)
            break; /* ETIMEDOUT: commit what is there */
    r->gathering = 0;
    return 1;
}

int snap_msync(snap_region *r)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&r->mu);
    if (r->state != SNAP_STATE_OPEN) {
        rc = r->state == SNAP_STATE_PANIC ? SNAP_E_PANIC : SNAP_E_CLOSED;
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    uint64_t mine = ++r->requested;
    if (r->gathering)
        pthread_cond_signal(&r->gather_cv);
    uint64_t t1 = 0;
    int waited = 0;
    for (;;) {
        if (r->covered >= mine)
            break;
        if (r->state == SNAP_STATE_PANIC) {
            rc = SNAP_E_PANIC;
            break;
        }
        if (r->leader_active) {
            pthread_cond_wait(&r->cv, &r->mu);
            waited = 1;
            continue;
        }
        r->leader_active = 1;
        waited |= gather(r);
        uint64_t before = r->covered, upto = r->requested;
        pthread_mutex_unlock(&r->mu);
        uint64_t c0 = waited ? now_ns() : t0; /* the commit's own time, without the waits */
        int retry;
        rc = commit_once(r, &retry);
        if (rc == 0)
            snap_budget_evict(r); /* still the leader: over budget, give pages back */
        t1 = now_ns();
        pthread_mutex_lock(&r->mu);
        r->leader_active = 0;
        r->last_commit_ns = t1 - c0;
        r->group_hint = (upto - before) + (r->requested - upto); /* covered + arrived meanwhile */
        if (rc == 0 || rc == SNAP_E_VERIFY) {
            r->covered = upto;
        } else if (!retry) {
            r->panic_err = rc; /* invariant 8: sticky */
            __atomic_store_n(&r->state, SNAP_STATE_PANIC, __ATOMIC_RELEASE);
        }
        /* else nothing of the attempt is in the chain and its lines are marked again: the region
         * stays OPEN, and each caller it would have covered, woken below, leads a commit of its
         * own (invariant 8). */
        pthread_cond_broadcast(&r->cv);
        break;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc == 0)
        __atomic_fetch_add(&r->st_msyncs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->st_commit_ns, (t1 ? t1 : now_ns()) - t0, __ATOMIC_RELAXED);
    return rc;
}
