/* test_transient.c — a commit that fails for want of memory or space, before anything was flushed,
 * is returned and retryable: the region stays open, the lines stay marked, and the next msync
 * commits them (snapshot.h, "Transient failure"; commit.c, invariants 8 and 9). Only media
 * failures (a failed flush, -EIO) panic, and snap_close() in the panic state returns the failure.
 *
 * Before issue 12 each of these msyncs put the region in the panic state: the next msync returned
 * SNAP_E_PANIC and the stores were lost at close, although nothing had failed on the media. And
 * snap_close() in the panic state returned 0.
 *
 *   collect:   the run list cannot grow (dirty_map.c's test seam snap_dirty_realloc): -ENOMEM;
 *   stage:     the staging buffer cannot grow — a real allocation failure, in a child process whose
 *              address space is capped with RLIMIT_AS just above what it uses: -ENOMEM;
 *   record:    the log write fails with -ENOSPC, -EDQUOT (snap_backend_inject_fault); then also a
 *              close without a retry (the failed msync's stores are discarded like any uncommitted
 *              ones: the reopen gives the state before it);
 *   log growth: growing the log for a record larger than its area fails with -ENOSPC;
 *   retry:     on the power-loss simulator, a streamed record fails part-way (some pieces, or all
 *              but its header, are pending on the media) and is retried at the same place with
 *              other bytes, whose commit barrier then fails: every crash image (the media plus any
 *              subset of the pending lines, of both attempts) recovers the state before or the
 *              retry's, never a mix, never the failed attempt's torn record;
 *   media:     -EIO writing the record still panics; snap_close() then returns -EIO.
 *
 * membarrier(2) failing after open (SNAP_E_NOMEMBARRIER, -ENOMEM) is checked in test_membarrier.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "region.h"
#include "sim.h"
#include "testkit.h"
#include "test_util.h"

/* The stage case needs a failed allocation to return NULL under the sanitizers too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

#define SIZE (64u << 10)

static char *dir;
static int cases;

static snap_options file_opts(uint32_t flags, uint64_t size, uint64_t log_capacity)
{
    return (snap_options){.flags = flags | SNAP_NO_CONCURRENT_WRITERS, .backend = SNAP_BACKEND_FILE,
                          .size = size, .max_size = 1u << 26, .log_capacity = log_capacity};
}

static void store(snap_region *r, uint64_t off, uint64_t len, uint8_t v)
{
    uint8_t *b = snap_base(r);
    memset(b + off, v, len);
    CHECK_RC(snap_track(r, b + off, len), 0);
}

/* Reopen path and compare the whole region with want. */
static void check_reopen(const char *what, const char *path, const uint8_t *want, uint64_t size)
{
    snap_options o = file_opts(0, 0, 0);
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    CHECK_RC(rc, 0);
    if (rc)
        return;
    if (snap_size(r) != size || memcmp(snap_base(r), want, size) != 0) {
        fprintf(stderr, "%s: the reopened region is not the expected state\n", what);
        test_failures++;
    }
    CHECK_RC(snap_close(r), 0);
}

/* The region is open after a transient failure: grow works (it refuses in PANIC), stats too. */
static void check_open(snap_region *r)
{
    CHECK(r->state == SNAP_STATE_OPEN);
    uint64_t size = snap_size(r);
    CHECK_RC(snap_grow(r, size), 0);
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
}

/* ---- collect ---------------------------------------------------------------------------------- */

static void *failing_realloc(void *p, size_t n)
{
    (void)p, (void)n;
    return NULL;
}

static void test_collect(void)
{
    char *path = test_path(dir, "collect");
    snap_options o = file_opts(SNAP_CREATE, SIZE, 0);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    store(r, 0, 64, 0x11);
    REQUIRE_OK(snap_msync(r)); /* the run list now has room for 64 runs */
    for (uint64_t i = 0; i < 200; i++) /* 200 runs: every other line */
        store(r, 1024 + 128 * i, 64, 0x22);
    uint8_t want[SIZE];
    memcpy(want, snap_base(r), SIZE);
    snap_dirty_realloc = failing_realloc;
    CHECK_RC(snap_msync(r), -ENOMEM);
    CHECK_RC(snap_msync(r), -ENOMEM); /* still no memory, and not SNAP_E_PANIC */
    snap_dirty_realloc = realloc;
    check_open(r);
    CHECK(test_committed_holds(path, 1024, 64, 0)); /* nothing of it written */
    CHECK_RC(snap_msync(r), 0);           /* memory is back: the marked lines commit */
    CHECK(test_committed_holds(path, 1024 + 128 * 199, 64, 0x22));
    CHECK_RC(snap_close(r), 0);
    check_reopen("collect", path, want, SIZE);
    free(path);
    cases++;
}

/* ---- stage ------------------------------------------------------------------------------------ */

#define BIG (4u << 20) /* staged whole (below the streaming threshold): a 4 MiB allocation */

static uint64_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    REQUIRE(f);
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose(f);
    REQUIRE(kb > 0);
    return kb << 10;
}

static void child_stage(const char *path)
{
    snap_options o = file_opts(SNAP_CREATE, 2 * BIG, 4 * BIG);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    store(r, 0, 64, 0x31);
    REQUIRE_OK(snap_msync(r)); /* a small stage and run list exist now */
    store(r, BIG / 2, BIG, 0x32);
    malloc_trim(0);
    struct rlimit old, cap;
    REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
    cap = old;
    /* Half the 4 MiB the stage needs: room left for what a sanitizer's runtime maps meanwhile
     * (TSan's 256 KiB trace parts; one more failed at 256 KiB once the log's prewrite added
     * traced writes before the cap). */
    cap.rlim_cur = vm_size() + BIG / 2;
    REQUIRE(setrlimit(RLIMIT_AS, &cap) == 0);
    void *(*volatile alloc)(size_t) = malloc; /* a call the compiler cannot assume succeeds */
    void *probe = alloc(BIG);
    int capped = probe == NULL;
    free(probe);
    int rc1 = capped ? snap_msync(r) : 0, rc2 = capped ? snap_msync(r) : 0;
    REQUIRE(setrlimit(RLIMIT_AS, &old) == 0);
    if (!capped) {
        printf("stage: RLIMIT_AS did not make a %u-byte allocation fail here; skipped\n", BIG);
        CHECK_RC(snap_close(r), 0);
        exit(test_failures ? 1 : 3);
    }
    CHECK_RC(rc1, -ENOMEM);
    CHECK_RC(rc2, -ENOMEM); /* not SNAP_E_PANIC */
    check_open(r);
    CHECK(test_committed_holds(path, BIG / 2, 64, 0));
    CHECK_RC(snap_msync(r), 0); /* memory is back */
    CHECK(test_committed_holds(path, BIG / 2, BIG, 0x32));
    CHECK_RC(snap_close(r), 0);
}

static void test_stage(void)
{
    char *path = test_path(dir, "stage");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        test_failures = 0;
        child_stage(path);
        fflush(NULL);
        exit(test_failures ? 1 : 0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) { /* skipped */
        free(path);
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "stage: the child failed (status 0x%x)\n", st);
        test_failures++;
    }
    uint8_t *want = calloc(1, 2 * BIG);
    REQUIRE(want);
    memset(want, 0x31, 64);
    memset(want + BIG / 2, 0x32, BIG);
    check_reopen("stage", path, want, 2 * BIG);
    free(want);
    free(path);
    cases++;
}

/* ---- record write, log growth ----------------------------------------------------------------- */

struct space_case {
    const char *name;
    int op;       /* SNAP_FAULT_WRITE or SNAP_FAULT_RESIZE */
    int err;
    int big;      /* a record larger than the 4 KiB log area: the log must grow */
    int retry;    /* 1: retry after the failure; 0: close without one */
};

static void space_case(const struct space_case *c, int idx)
{
    char name[32];
    snprintf(name, sizeof name, "space%d", idx);
    char *path = test_path(dir, name);
    snap_options o = file_opts(SNAP_CREATE, SIZE, 4096);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    store(r, 0, 64, 0x41);
    REQUIRE_OK(snap_msync(r));
    uint8_t before[SIZE], after[SIZE];
    memcpy(before, snap_base(r), SIZE);
    store(r, 8192, c->big ? 6144 : 1024, 0x42);
    memcpy(after, snap_base(r), SIZE);
    snap_backend_inject_fault(r->be, c->op, 1, c->err);
    CHECK_RC(snap_msync(r), c->err);
    CHECK_RC(snap_msync(r), c->err); /* the fault stays armed: still failing, not SNAP_E_PANIC */
    snap_backend_inject_fault(r->be, SNAP_FAULT_NONE, 0, 0);
    check_open(r);
    CHECK(test_committed_holds(path, 8192, 64, 0));
    if (c->retry) {
        CHECK_RC(snap_msync(r), 0);
        CHECK(test_committed_holds(path, 8192, c->big ? 6144 : 1024, 0x42));
        store(r, 64, 64, 0x43); /* and it goes on committing */
        CHECK_RC(snap_msync(r), 0);
        memcpy(after, snap_base(r), SIZE);
    }
    CHECK_RC(snap_close(r), 0);
    check_reopen(c->name, path, c->retry ? after : before, SIZE);
    free(path);
    cases++;
}

static void test_space(void)
{
    static const struct space_case cs[] = {
        {"record write (ENOSPC)", SNAP_FAULT_WRITE, -ENOSPC, 0, 1},
        {"record write (EDQUOT)", SNAP_FAULT_WRITE, -EDQUOT, 0, 1},
        {"record write (ENOSPC), no retry", SNAP_FAULT_WRITE, -ENOSPC, 0, 0},
        {"log growth (ENOSPC)", SNAP_FAULT_RESIZE, -ENOSPC, 1, 1},
        {"log growth (EDQUOT), no retry", SNAP_FAULT_RESIZE, -EDQUOT, 1, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        space_case(&cs[i], (int)i);
}

/* A media failure still panics, and close reports it. */
static void test_media(void)
{
    char *path = test_path(dir, "media");
    snap_options o = file_opts(SNAP_CREATE, SIZE, 0);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    store(r, 0, 64, 0x51);
    REQUIRE_OK(snap_msync(r));
    store(r, 64, 64, 0x52);
    snap_backend_inject_fault(r->be, SNAP_FAULT_WRITE, 1, -EIO);
    CHECK_RC(snap_msync(r), -EIO);
    CHECK_RC(snap_msync(r), SNAP_E_PANIC);
    CHECK_RC(snap_close(r), -EIO);
    CHECK_RC(snap_close(r), SNAP_E_CLOSED);
    free(path);
    cases++;
}

/* ---- retry at the same place, on the simulator ------------------------------------------------ */

#define SIM_SIZE (16u << 10)

static int recover_sim(struct snap_sim *img, uint8_t *out)
{
    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS};
    snap_region *r;
    int rc = snap_open_sim("region", &o, img, &r);
    if (rc)
        return rc;
    if (snap_size(r) != SIM_SIZE)
        rc = SNAP_E_SIZE;
    else
        memcpy(out, snap_base(r), SIM_SIZE);
    int crc = snap_close(r);
    return rc ? rc : crc;
}

/* Writes of a streamed record of one 1024-byte run in 128-byte pieces: run table, 8 pieces, pad,
 * header. fail_at: which of them fails (1-based). same: retry without new stores. */
static void sim_retry(const char *name, uint64_t fail_at, int same)
{
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, .size = SIM_SIZE,
                      .log_capacity = 64u << 10};
    snap_region *r;
    REQUIRE_OK(snap_open_sim("region", &o, sim, &r));
    static uint8_t s1[SIM_SIZE], sb[SIM_SIZE], got[SIM_SIZE];
    store(r, 0, 512, 0x11);
    REQUIRE_OK(snap_msync(r));
    memcpy(s1, snap_base(r), SIM_SIZE);
    store(r, 1024, 1024, 0x22);
    snap_backend_inject_fault(r->be, SNAP_FAULT_WRITE, fail_at, -ENOSPC);
    CHECK_RC(snap_msync(r), -ENOSPC);
    snap_backend_inject_fault(r->be, SNAP_FAULT_NONE, 0, 0);
    CHECK(r->state == SNAP_STATE_OPEN);
    if (!same) { /* other bytes, and a run more: a record of another layout, same place */
        store(r, 1024, 100, 0x33);
        store(r, 4096, 64, 0x44);
    }
    memcpy(sb, snap_base(r), SIM_SIZE);
    snap_sim_fail_barrier(sim, snap_sim_barriers(sim), -EIO); /* the retry's commit barrier */
    CHECK_RC(snap_msync(r), -EIO);
    CHECK_RC(snap_close(r), -EIO);
    size_t pending = snap_sim_pending(sim);
    uint8_t *keep = calloc(pending + 1, 1);
    REQUIRE(keep);
    struct test_rng rng;
    test_rng_seed(&rng, fail_at * 2 + (uint64_t)same);
    for (int t = 0; t < 200; t++) {
        for (size_t i = 0; i < pending; i++)
            keep[i] = t == 0 ? 0 : t == 1 ? 1 : t < 40 ? (i < pending * (size_t)(t - 2) / 38)
                                                       : (uint8_t)(test_rng_next(&rng) & 1);
        struct snap_sim *img = snap_sim_crash_image(sim, keep);
        REQUIRE(img);
        int rc = recover_sim(img, got);
        snap_sim_free(img);
        int is_old = !rc && memcmp(got, s1, SIM_SIZE) == 0;
        int is_new = !rc && memcmp(got, sb, SIM_SIZE) == 0;
        int ok = t == 0 ? is_old : t == 1 ? is_new : is_old || is_new;
        if (!ok) {
            fprintf(stderr, "%s: crash image %d of %zu pending units recovered rc %d (%s), %s\n",
                    name, t, pending, rc, snap_strerror(rc),
                    is_old ? "the state before" : is_new ? "the retry's state" : "neither state");
            test_failures++;
        }
    }
    free(keep);
    snap_sim_fail_barrier(sim, 0, 0);
    CHECK_RC(recover_sim(sim, got), 0); /* no power cut: the retry's record is in the cache */
    CHECK(memcmp(got, sb, SIM_SIZE) == 0);
    snap_sim_free(sim);
    cases++;
}

static void test_sim_retry(void)
{
    size_t stream_min = snap_commit_stream_min, piece = snap_commit_piece;
    int defer = snap_commit_defer_apply;
    snap_commit_stream_min = 256;
    snap_commit_piece = 128;
    snap_commit_defer_apply = 0; /* no pending apply ahead of the record's writes */
    sim_retry("sim: second piece fails", 3, 0);
    sim_retry("sim: header fails (whole body pending)", 11, 0);
    sim_retry("sim: header fails, same state retried", 11, 1);
    snap_commit_stream_min = stream_min;
    snap_commit_piece = piece;
    snap_commit_defer_apply = defer;
}

int main(void)
{
    dir = test_tmpdir("transient", "disk");
    test_stage(); /* first: a small heap in the child */
    test_collect();
    test_space();
    test_media();
    test_sim_retry();
    if (!test_failures)
        test_rmdir(dir);
    free(dir);
    return test_done("test_transient", cases);
}
