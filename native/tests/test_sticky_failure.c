/* test_sticky_failure.c — a failing media write or flush puts the region in the panic state, and
 * reopening recovers exactly the committed states that the failure point allows.
 *
 * snapshot.h: if writing or flushing the media fails during a commit, that snap_msync() returns the
 * error, every later snap_msync()/snap_grow() returns SNAP_E_PANIC, snap_close() closes the handle
 * and returns that error (issue 12: it returned 0, though it had not checkpointed), and reopening
 * recovers from the log.
 *
 * On the power-loss simulator (snap_sim_fail_barrier) the media after the failure is known exactly,
 * so every crash image is checked: failing the commit barrier of msync k leaves record k pending —
 * the media alone recovers state k-1, with every pending line state k, and any subset one of the
 * two; failing either barrier of the checkpoint that msync k runs first (a full log) leaves no
 * record k at all — state k-1 from every subset; failing a barrier of close's checkpoint after msync
 * k returned 0 — state k from every subset. The simulator defers the apply: failing the deferred
 * apply write, in the next msync or in close, loses nothing (state k).
 *
 * On the file back end (snap_backend_inject_fault on r->be): a failing commit barrier or apply
 * write leaves the record in the file (the kernel has it: state k on reopen), a failing record write
 * or checkpoint barrier leaves none (state k-1). A failing resize while growing the region is
 * returned by snap_grow() and is not sticky (region.c: only commits set PANIC); a failing resize of
 * the log inside a commit is, with -EIO. For want of space (-ENOSPC, -EDQUOT) before the commit
 * barrier a commit is not sticky since issue 12 (commit.c, invariant 8): test_transient.c; this
 * file's "log growth resize" case used -ENOSPC before and uses -EIO now. A failing barrier is
 * sticky whatever its error (the ENOSPC case below).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "region.h"
#include "sim.h"
#include "testkit.h"
#include "test_util.h"

#define SIZE (16u << 10)
#define WRITE_LEN 1024u /* one run per msync: each record is snap_rec_size(1, 1024) = 1152 bytes */
#define MAX_EPOCHS 8

static int cases;
static const char *DATA = "region";

/* Epoch j's stores: WRITE_LEN bytes at a line-aligned offset of its own, one run; or, with big,
 * 6 KiB (a record larger than a 4 KiB log area: the log must grow). */
static uint64_t epoch_write(uint8_t *b, int j, int big, snap_region *r)
{
    uint64_t len = big ? 6144 : WRITE_LEN;
    uint64_t off = big ? 8192 : (uint64_t)(j % 8) * 2048;
    for (uint64_t i = 0; i < len; i++)
        b[off + i] = (uint8_t)(j * 29 + i * 3 + 1);
    if (r)
        CHECK_RC(snap_track(r, b + off, len), 0);
    return len;
}

/* After a failed commit: sticky. Then close (which reports the failure) leaves a closed handle. */
static void check_panic_then_close(snap_region *r, int *close_rc)
{
    CHECK_RC(snap_msync(r), SNAP_E_PANIC);
    CHECK_RC(snap_msync(r), SNAP_E_PANIC); /* and again: nothing un-sticks it */
    CHECK_RC(snap_grow(r, SIZE + 4096), SNAP_E_PANIC);
    CHECK(snap_size(r) == SIZE);
    uint8_t *b = snap_base(r);
    b[0] ^= 0xff; /* stores and tracking still work on the DRAM copy; they just cannot commit */
    CHECK_RC(snap_track(r, b, 1), 0);
    CHECK_RC(snap_msync(r), SNAP_E_PANIC);
    int rc = snap_close(r);
    CHECK(rc < 0);
    if (close_rc)
        *close_rc = rc;
    CHECK_RC(snap_msync(r), SNAP_E_CLOSED);
    CHECK_RC(snap_close(r), SNAP_E_CLOSED);
    CHECK(snap_base(r) == NULL);
}

/* ---- Simulator -------------------------------------------------------------------------------- */

struct barrier_log {
    uint64_t n;
    char file[64][32]; /* file flushed by barrier i (first 64) */
};

static void note_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    struct barrier_log *bl = arg;
    (void)sim;
    if (bl->n < 64)
        snprintf(bl->file[bl->n], sizeof bl->file[0], "%s", file);
    bl->n++;
}

static int recover_sim(struct snap_sim *img, uint8_t *out)
{
    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS};
    snap_region *r;
    int rc = snap_open_sim(DATA, &o, img, &r);
    if (rc)
        return rc;
    if (snap_size(r) != SIZE)
        rc = SNAP_E_SIZE;
    else
        memcpy(out, snap_base(r), SIZE);
    int crc = snap_close(r);
    return rc ? rc : crc;
}

/* Every crash image of `sim` (none, all, and random subsets of the pending units) must recover to
 * one of the allowed states; with allow_new, keeping nothing must give `old` and keeping everything
 * `new_` (the record is exactly what is pending). */
static void check_images(struct snap_sim *sim, const uint8_t *old, const uint8_t *new_, int want_all,
                         struct test_rng *rng, const char *what)
{
    size_t pending = snap_sim_pending(sim);
    uint8_t *keep = calloc(pending + 1, 1);
    uint8_t got[SIZE];
    REQUIRE(keep);
    for (int t = 0; t < 34; t++) {
        for (size_t i = 0; i < pending; i++)
            keep[i] = t == 0 ? 0 : t == 1 ? 1 : (uint8_t)(test_rng_next(rng) & 1);
        struct snap_sim *img = snap_sim_crash_image(sim, keep);
        REQUIRE(img);
        int rc = recover_sim(img, got);
        snap_sim_free(img);
        int is_old = !rc && memcmp(got, old, SIZE) == 0;
        int is_new = !rc && new_ && memcmp(got, new_, SIZE) == 0;
        /* want_all: 0 = old from every subset; 1 = old from none, new from all */
        int ok = want_all == 0 ? is_old : t == 0 ? is_old : t == 1 ? is_new : is_old || is_new;
        if (!ok) {
            fprintf(stderr, "%s: crash image %d (of %zu pending units) recovered rc %d (%s), "
                            "%s\n", what, t, pending, rc, snap_strerror(rc),
                    is_old ? "the older state" : is_new ? "the newer state" : "neither state");
            test_failures++;
        }
    }
    free(keep);
}

/* Fail the barrier `which` barriers after the start of msync number `fail_at` (1-based; epochs
 * before it succeed), or of the close after it if fail_at is 0 past `epochs`. */
struct sim_case {
    const char *name;
    int fail_epoch;        /* the msync that fails (or, with in_close, the last one that succeeds) */
    int in_close;          /* fail a barrier of snap_close()'s checkpoint instead */
    unsigned barrier;      /* which barrier of that call: 0 = first */
    const char *flushes;   /* the file that barrier flushes: checks we fail the one we mean */
    int need_checkpoint;   /* the failing msync must start with a checkpoint (full log) */
    int record_pending;    /* 1: record k is pending after the failure (state k-1 or k) */
};

static void sim_case(const struct sim_case *c)
{
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    struct barrier_log bl = {0};
    snap_sim_on_barrier(sim, note_barrier, &bl);
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, .size = SIZE,
                      .log_capacity = 4096};
    snap_region *r;
    REQUIRE_OK(snap_open_sim(DATA, &o, sim, &r));
    uint8_t *b = snap_base(r);
    static uint8_t state[MAX_EPOCHS + 1][SIZE];
    memcpy(state[0], b, SIZE);
    int k = c->fail_epoch;
    for (int j = 1; j < k + c->in_close; j++) {
        epoch_write(b, j, 0, r);
        REQUIRE_OK(snap_msync(r));
        memcpy(state[j], b, SIZE);
    }
    uint64_t first = snap_sim_barriers(sim) + c->barrier;
    int rc;
    struct test_rng rng;
    test_rng_seed(&rng, (uint64_t)k * 1000 + c->barrier);
    if (!c->in_close) {
        uint64_t len = epoch_write(b, k, 0, r);
        memcpy(state[k], b, SIZE);
        int full = r->log_off + snap_rec_size(1, len) > r->log.area_size;
        REQUIRE(full == c->need_checkpoint); /* the case sets up what it means to test */
        snap_sim_fail_barrier(sim, first, -EIO);
        CHECK_RC(snap_msync(r), -EIO);
        check_panic_then_close(r, &rc);
        CHECK_RC(rc, -EIO); /* close in PANIC writes nothing, and reports the failure */
    } else {
        snap_sim_fail_barrier(sim, first, -EIO);
        rc = snap_close(r);
        CHECK_RC(rc, -EIO);
        CHECK_RC(snap_msync(r), SNAP_E_CLOSED);
        CHECK(snap_base(r) == NULL);
    }
    if (first < 64 && strcmp(bl.file[first], c->flushes) != 0) {
        fprintf(stderr, "%s: the failed barrier flushed %s, not %s\n", c->name, bl.file[first],
                c->flushes);
        test_failures++;
    }
    CHECK(bl.n > first); /* the failing barrier was reached */
    snap_sim_on_barrier(sim, NULL, NULL);
    /* The media and every subset of what was pending. */
    if (c->in_close)
        check_images(sim, state[k], NULL, 0, &rng, c->name);
    else
        check_images(sim, state[k - 1], c->record_pending ? state[k] : NULL, c->record_pending,
                     &rng, c->name);
    /* Reopening the simulator itself (no power cut: the cache holds everything written): the
     * failed msync's record is there whenever it was written. */
    snap_sim_fail_barrier(sim, 0, 0);
    uint8_t got[SIZE];
    CHECK_RC(recover_sim(sim, got), 0);
    const uint8_t *want = c->in_close || c->record_pending ? state[k] : state[k - 1];
    if (memcmp(got, want, SIZE) != 0) {
        fprintf(stderr, "%s: reopening after the failure did not give the expected state\n",
                c->name);
        test_failures++;
    }
    snap_sim_free(sim);
    cases++;
}

/* The simulator defers the apply (commit.c, step 6): msync 1's record is applied once the mark
 * for it is durable (written with msync 2's record), by msync 3 or by close. A failing apply write
 * fails that call (PANIC for msync 3) and loses nothing: the records are durable in the log, so
 * reopening gives state 2. */
static void test_deferred_apply_fails(int at_close)
{
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, .size = SIZE,
                      .log_capacity = 4096};
    snap_region *r;
    REQUIRE_OK(snap_open_sim(DATA, &o, sim, &r));
    uint8_t *b = snap_base(r);
    uint8_t one[SIZE], got[SIZE];
    epoch_write(b, 1, 0, r);
    REQUIRE_OK(snap_msync(r));
    epoch_write(b, 2, 0, r);
    REQUIRE_OK(snap_msync(r));
    memcpy(one, b, SIZE);
    CHECK(r->npend == 2 && r->pend[0].epoch == 1 && r->mark == 1);
    snap_backend_inject_fault(r->be, SNAP_FAULT_WRITE, 1, -EIO); /* record 1's apply comes first */
    if (at_close) {
        CHECK_RC(snap_close(r), -EIO);
    } else {
        epoch_write(b, 3, 0, r);
        CHECK_RC(snap_msync(r), -EIO);
        check_panic_then_close(r, NULL);
    }
    struct snap_sim *img = snap_sim_crash_image(sim, NULL);
    REQUIRE(img);
    CHECK_RC(recover_sim(img, got), 0);
    if (memcmp(got, one, SIZE) != 0) {
        fprintf(stderr, "sim: deferred apply failing at %s: reopening did not give msync 2's state\n",
                at_close ? "close" : "msync 3");
        test_failures++;
    }
    snap_sim_free(img);
    snap_sim_free(sim);
    cases++;
}

static void test_sim(void)
{
    /* msync 2: no checkpoint (one record of 1152 bytes in a 4 KiB area); its only barrier is the
     * commit. msync 4: the area holds three records, so a checkpoint runs first: barrier(log) for
     * the mark of record 3 (pending), barrier(data), barrier(log) for the header, then the commit
     * barrier. Close after msync 2: checkpoint, the same first three. */
    static const struct sim_case cs[] = {
        {"sim: commit barrier", 2, 0, 0, "region.snaplog", 0, 1},
        {"sim: first commit", 1, 0, 0, "region.snaplog", 0, 1},
        {"sim: checkpoint mark barrier", 4, 0, 0, "region.snaplog", 1, 0},
        {"sim: checkpoint data barrier", 4, 0, 1, "region", 1, 0},
        {"sim: checkpoint header barrier", 4, 0, 2, "region.snaplog", 1, 0},
        {"sim: commit barrier after checkpoint", 4, 0, 3, "region.snaplog", 1, 1},
        {"sim: close's mark barrier", 2, 1, 0, "region.snaplog", 0, 0},
        {"sim: close's data barrier", 2, 1, 1, "region", 0, 0},
        {"sim: close's header barrier", 2, 1, 2, "region.snaplog", 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        sim_case(&cs[i]);
    test_deferred_apply_fails(0);
    test_deferred_apply_fails(1);
}

/* ---- File back end ---------------------------------------------------------------------------- */

struct file_case {
    const char *name;
    int op;              /* SNAP_FAULT_* */
    uint64_t after;      /* fail the after-th call of that kind within the failing msync */
    int err;
    int prior;           /* successful msyncs before the failing one */
    int big;             /* the failing msync commits a record larger than the log area */
    int need_checkpoint;
    int recovers_new;    /* reopening must give the failed msync's state (its record is there) */
};

static void file_case(const char *dir, const struct file_case *c, int idx)
{
    char name[32];
    snprintf(name, sizeof name, "file%d", idx);
    char *path = test_path(dir, name);
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
                      .backend = SNAP_BACKEND_FILE, .size = SIZE, .log_capacity = 4096};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    uint8_t old[SIZE], new_[SIZE], got[SIZE];
    for (int j = 1; j <= c->prior; j++) {
        epoch_write(b, j, 0, r);
        REQUIRE_OK(snap_msync(r));
    }
    memcpy(old, b, SIZE);
    uint64_t len = epoch_write(b, c->prior + 1, c->big, r);
    memcpy(new_, b, SIZE);
    int full = r->log_off + snap_rec_size(1, len) > r->log.area_size;
    REQUIRE(full == c->need_checkpoint);
    snap_stats s0, s1;
    REQUIRE_OK(snap_stats_get(r, &s0));
    snap_backend_inject_fault(r->be, c->op, c->after, c->err);
    CHECK_RC(snap_msync(r), c->err);
    REQUIRE_OK(snap_stats_get(r, &s1));
    CHECK(s1.msyncs == s0.msyncs); /* a failed msync is not counted as one that returned 0 */
    int close_rc;
    check_panic_then_close(r, &close_rc);
    CHECK_RC(close_rc, c->err); /* the failure that caused the panic */
    /* Reopen (a new back end: no fault armed). */
    o.flags = SNAP_NO_CONCURRENT_WRITERS;
    o.size = 0;
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        CHECK(snap_size(r) == SIZE);
        memcpy(got, snap_base(r), SIZE);
        const uint8_t *want = c->recovers_new ? new_ : old;
        if (memcmp(got, want, SIZE) != 0) {
            fprintf(stderr, "%s: reopening gave %s, wanted the %s state\n", c->name,
                    memcmp(got, c->recovers_new ? old : new_, SIZE) == 0 ? "the other state"
                                                                        : "neither state",
                    c->recovers_new ? "failed msync's" : "previous msync's");
            test_failures++;
        }
        /* And the region works again. */
        epoch_write(snap_base(r), 7, 0, r);
        memcpy(got, snap_base(r), SIZE);
        CHECK_RC(snap_msync(r), 0);
        CHECK_RC(snap_close(r), 0);
        CHECK_RC(snap_open(path, &o, &r), 0);
        if (r) {
            CHECK(memcmp(snap_base(r), got, SIZE) == 0);
            CHECK_RC(snap_close(r), 0);
        }
    }
    free(path);
    cases++;
}

/* A failing resize while growing: snap_grow() returns it; the region is not in PANIC. */
static void test_grow_resize_fails(const char *dir)
{
    char *path = test_path(dir, "grow");
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
                      .backend = SNAP_BACKEND_FILE, .size = SIZE, .max_size = 16 * SIZE};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    epoch_write(b, 1, 0, r);
    snap_backend_inject_fault(r->be, SNAP_FAULT_RESIZE, 1, -ENOSPC);
    CHECK_RC(snap_grow(r, 4 * SIZE), -ENOSPC);
    CHECK(snap_size(r) == SIZE);
    CHECK_RC(snap_grow(r, 2 * SIZE + 1), -ENOSPC); /* the fault stays armed: still failing */
    CHECK(snap_size(r) == SIZE);
    CHECK_RC(snap_msync(r), 0); /* not sticky: commits go on */
    uint8_t want[4 * SIZE];
    memset(want, 0, sizeof want);
    memcpy(want, b, SIZE);
    snap_backend_inject_fault(r->be, SNAP_FAULT_NONE, 0, 0);
    CHECK_RC(snap_grow(r, 4 * SIZE), 0);
    CHECK(snap_size(r) == 4 * SIZE);
    b[3 * SIZE + 5] = 0x42, want[3 * SIZE + 5] = 0x42;
    CHECK_RC(snap_track(r, b + 3 * SIZE + 5, 1), 0);
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_close(r), 0);
    o.flags = 0;
    o.size = 0;
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        CHECK(snap_size(r) == 4 * SIZE);
        CHECK(snap_size(r) == 4 * SIZE && memcmp(snap_base(r), want, 4 * SIZE) == 0);
        CHECK_RC(snap_close(r), 0);
    }
    free(path);
    cases++;
}

static void test_file(void)
{
    char *dir = test_tmpdir("sticky", "disk");
    /* prior = 1: the failing msync's record fits after the first (no checkpoint): the record
     * write, the mark write for record 1, one barrier (the commit point), then record 1's apply
     * writes. prior = 3: the area is full, so a checkpoint runs first: the mark write for record
     * 3 and barrier(log), record 3's apply, barrier(data), header write, barrier(log), then the
     * record. */
    static const struct file_case cs[] = {
        {"file: commit barrier (EIO)", SNAP_FAULT_BARRIER, 1, -EIO, 1, 0, 0, 1},
        {"file: commit barrier (ENOSPC)", SNAP_FAULT_BARRIER, 1, -ENOSPC, 1, 0, 0, 1},
        {"file: record write", SNAP_FAULT_WRITE, 1, -EIO, 1, 0, 0, 0},
        {"file: mark write", SNAP_FAULT_WRITE, 2, -EIO, 1, 0, 0, 1},
        {"file: apply write", SNAP_FAULT_WRITE, 3, -EIO, 1, 0, 0, 1},
        {"file: checkpoint mark write", SNAP_FAULT_WRITE, 1, -EIO, 3, 0, 1, 0},
        {"file: checkpoint mark barrier", SNAP_FAULT_BARRIER, 1, -EIO, 3, 0, 1, 0},
        {"file: checkpoint apply write", SNAP_FAULT_WRITE, 2, -EIO, 3, 0, 1, 0},
        {"file: checkpoint data barrier", SNAP_FAULT_BARRIER, 2, -EIO, 3, 0, 1, 0},
        {"file: checkpoint header write", SNAP_FAULT_WRITE, 3, -EIO, 3, 0, 1, 0},
        {"file: checkpoint header barrier", SNAP_FAULT_BARRIER, 3, -EIO, 3, 0, 1, 0},
        {"file: commit barrier after checkpoint", SNAP_FAULT_BARRIER, 4, -EIO, 3, 0, 1, 1},
        {"file: log growth resize", SNAP_FAULT_RESIZE, 1, -EIO, 1, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        file_case(dir, &cs[i], (int)i);
    test_grow_resize_fails(dir);
    if (!test_failures)
        test_rmdir(dir);
    free(dir);
}

int main(void)
{
    test_sim();
    test_file();
    return test_done("test_sticky_failure", cases);
}
