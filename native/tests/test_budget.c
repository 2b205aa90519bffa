/* test_budget.c — a region larger than its budget (snapshot.h, "Budget"; native/src/budget.c).
 *
 *   - model: random 64-byte writes and reads over a region 32x its budget, an msync after each
 *     few, on a file on disk and on emulated PM (/dev/shm, SNAP_BACKEND_EMULATED_PMEM). Every
 *     read of the copy equals the model (a page brought back holds its committed bytes), the
 *     resident bytes stay within the budget after each msync, the written bytes are durable when
 *     msync returns (test_committed_read), pages were evicted and re-faulted, and a reopen with no
 *     budget holds the model byte for byte. Then the region grows and the new part is written,
 *     evicted and checked the same way;
 *   - race: writer threads store increasing values into words on pages that the committing thread
 *     keeps evicting, mark them only after a pause (a store whose line still looks clean), and
 *     read each back; the main thread commits and checks at each msync's return that the values
 *     acknowledged before it are durable. Any lost store fails. With SNAPSHOT_BUDGET_NAIVE=1 the
 *     library releases pages whose lines look clean without write-protecting and comparing them
 *     (the test kit's snap_budget_naive) and the test passes only if it sees a store lost: the
 *     race it guards against is real (ctest runs both). The race runs at least its msyncs and 1000
 *     evictions (the naive one until a store is lost), at most 60 s;
 *   - growth: a region opened within its budget and grown past it becomes evictable, whether it
 *     was created whole (its copy is taken over as it is) or reopened (its copy of the file
 *     stays, the new part is evictable); the model holds as above;
 *   - a page that cannot be read back (the simulator's reads failing): an access to it raises
 *     SIGBUS (UFFDIO_POISON), and later commits and evictions do not touch it, in a child;
 *   - options: an explicit budget at or above the size keeps the ordinary copy; SNAP_BUDGET_NONE
 *     too; the default budget is set and within physical memory.
 * Sizes from the environment: SNAPSHOT_BUDGET_OPS (model operations per medium, default 3000),
 * SNAPSHOT_BUDGET_RACE_MSYNCS (default 400).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "region.h"
#include "sim.h"
#include "test_util.h"
#include "testkit.h"

#define BUDGET (256u << 10)
#define SIZE (8u << 20) /* 32 budgets */
#define SLACK (64u << 10) /* pages of pending records may stay beyond the budget */

static int cases;

static snap_options opts_for(const char *kind, uint64_t size, uint64_t budget)
{
    return (snap_options){.flags = SNAP_CREATE, .size = size, .max_size = 4 * size,
                          .budget = budget,
                          .backend = strcmp(kind, "shm") == 0 ? SNAP_BACKEND_EMULATED_PMEM
                                                               : SNAP_BACKEND_FILE};
}

static snap_stats stats_of(snap_region *r)
{
    snap_stats s;
    memset(&s, 0, sizeof s);
    CHECK_RC(snap_stats_get(r, &s), 0);
    return s;
}

/* Random writes and reads in [lo, hi) of the region, against the model m. */
static void churn(snap_region *r, const char *path, uint8_t *m, uint64_t lo, uint64_t hi, long ops,
                  struct test_rng *g)
{
    uint8_t *base = snap_base(r);
    int bad_reads = 0, bad_durable = 0, over = 0;
    for (long i = 0; i < ops; i++) {
        uint64_t off = lo + (test_rng_below(g, (hi - lo) / 64) * 64);
        if (test_rng_below(g, 3) == 0) { /* a read: a page brought back holds its bytes */
            bad_reads += memcmp(base + off, m + off, 64) != 0;
            continue;
        }
        for (int k = 0; k < 64; k++)
            m[off + k] = (uint8_t)test_rng_next(g);
        memcpy(base + off, m + off, 64);
        snap_track(r, base + off, 64);
        if (test_rng_below(g, 4) != 0)
            continue;
        REQUIRE_OK(snap_msync(r));
        snap_stats s = stats_of(r);
        over += s.resident_bytes > BUDGET + SLACK;
        if (test_rng_below(g, 16) == 0) { /* durable at return, from the files alone */
            uint8_t got[64];
            REQUIRE_OK(test_committed_read(path, off, got, 64));
            bad_durable += memcmp(got, m + off, 64) != 0;
        }
    }
    CHECK(bad_reads == 0);
    CHECK(bad_durable == 0);
    CHECK(over == 0);
    if (bad_reads || bad_durable || over)
        fprintf(stderr, "churn: %d bad reads, %d not durable at return, %d msyncs over budget\n",
                bad_reads, bad_durable, over);
}

static void case_model(const char *kind)
{
    char *dir = test_tmpdir("budget", kind), *path = test_path(dir, "data");
    long ops = test_env_long("SNAPSHOT_BUDGET_OPS", 3000);
    struct test_rng g;
    test_rng_seed(&g, 7);
    uint8_t *m = calloc(1, 2 * SIZE);
    REQUIRE(m);
    snap_options o = opts_for(kind, SIZE, BUDGET);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    snap_stats s = stats_of(r);
    CHECK(s.evictable == 1);
    CHECK(s.budget == BUDGET);
    churn(r, path, m, 0, SIZE, ops, &g);
    s = stats_of(r);
    CHECK(s.evictions > 0);
    CHECK(s.refaults > 0);
    printf("  %s: %llu evictions, %llu re-faults, %llu KiB resident of %u KiB budget\n", kind,
           (unsigned long long)s.evictions, (unsigned long long)s.refaults,
           (unsigned long long)(s.resident_bytes >> 10), BUDGET >> 10);

    /* Growth: the new part is evictable too. */
    REQUIRE_OK(snap_grow(r, 2 * SIZE));
    churn(r, path, m, SIZE - 4096, 2 * SIZE, ops / 2, &g);
    REQUIRE_OK(snap_msync(r));
    REQUIRE_OK(snap_close(r));

    snap_options plain = {.budget = SNAP_BUDGET_NONE};
    REQUIRE_OK(snap_open(path, &plain, &r));
    CHECK(snap_size(r) == 2 * SIZE);
    CHECK(memcmp(snap_base(r), m, 2 * SIZE) == 0);
    CHECK(stats_of(r).evictable == 0);
    REQUIRE_OK(snap_close(r));
    free(m);
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

/* A region opened within its budget and grown past it: created whole (its anonymous copy is taken
 * over) and reopened (its copy of the file stays; the new part is evictable). */
static void case_grow_past(const char *kind)
{
    char *dir = test_tmpdir("budget-grow", kind);
    for (int reopened = 0; reopened < 2; reopened++) {
        char *path = test_path(dir, reopened ? "reopened" : "created");
        struct test_rng g;
        test_rng_seed(&g, 13 + (uint64_t)reopened);
        uint8_t *m = calloc(1, SIZE);
        REQUIRE(m);
        snap_options o = opts_for(kind, BUDGET / 2, BUDGET);
        o.max_size = SIZE;
        snap_region *r;
        REQUIRE_OK(snap_open(path, &o, &r));
        churn(r, path, m, 0, BUDGET / 2, 200, &g); /* the copy fits: every page stays */
        REQUIRE_OK(snap_msync(r));
        if (reopened) { /* its copy is now the file's: a copy-on-write mapping */
            REQUIRE_OK(snap_close(r));
            o.size = 0;
            REQUIRE_OK(snap_open(path, &o, &r));
        }
        CHECK(stats_of(r).evictable == 0);
        REQUIRE_OK(snap_grow(r, SIZE));
        CHECK(stats_of(r).evictable == 1);
        churn(r, path, m, 0, SIZE, test_env_long("SNAPSHOT_BUDGET_OPS", 3000), &g);
        REQUIRE_OK(snap_msync(r));
        snap_stats s = stats_of(r);
        CHECK(s.evictions > 0);
        printf("  grown past the budget (%s, %s): %llu evictions, %llu re-faults, %llu KiB "
               "resident\n", kind, reopened ? "reopened" : "created", (unsigned long long)s.evictions,
               (unsigned long long)s.refaults, (unsigned long long)(s.resident_bytes >> 10));
        REQUIRE_OK(snap_close(r));
        snap_options plain = {.budget = SNAP_BUDGET_NONE};
        REQUIRE_OK(snap_open(path, &plain, &r));
        CHECK(snap_size(r) == SIZE);
        CHECK(memcmp(snap_base(r), m, SIZE) == 0);
        REQUIRE_OK(snap_close(r));
        free(m);
        free(path);
    }
    test_rmdir(dir);
    free(dir);
    cases++;
}

/* ---- The race ----------------------------------------------------------------------------------- */

#define WRITERS 2
#define SLOTS 64 /* words per writer, each on a page of its own */

struct race {
    snap_region *r;
    uint8_t *base;
    int stop;
    uint64_t acked[WRITERS][SLOTS]; /* the last value stored, marked and read back */
    long lost[WRITERS];
    long stores[WRITERS];
};

static uint64_t slot_off(int w, int k)
{
    return ((uint64_t)(k * WRITERS + w) << 12) + 8 * (uint64_t)w;
}

static void *writer(void *arg)
{
    struct race *x = ((void **)arg)[0];
    int w = (int)(intptr_t)((void **)arg)[1];
    struct test_rng g;
    test_rng_seed(&g, 100 + (uint64_t)w);
    uint64_t next[SLOTS] = {0};
    while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
        int k = (int)test_rng_below(&g, SLOTS);
        volatile uint64_t *p = (volatile uint64_t *)(x->base + slot_off(w, k));
        uint64_t v = ++next[k];
        *p = v;
        /* The store is in the copy, its line not yet marked: the window a release must close. */
        for (volatile unsigned spin = (unsigned)test_rng_below(&g, 4000); spin; spin--)
            ;
        snap_track(x->r, (void *)p, 8);
        if (*p != v) {
            __atomic_fetch_add(&x->lost[w], 1, __ATOMIC_RELAXED);
            next[k] = *p; /* go on from what the copy holds */
        }
        x->stores[w]++;
        __atomic_store_n(&x->acked[w][k], v, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void case_race(const char *kind, int naive)
{
    char *dir = test_tmpdir("budget-race", kind), *path = test_path(dir, "data");
    long msyncs = test_env_long("SNAPSHOT_BUDGET_RACE_MSYNCS", 400);
    snap_budget_naive = naive;
    /* 1 MiB, a budget of 16 pages: the writers' 128 pages keep it over, so every msync evicts. */
    snap_options o = opts_for(kind, 1u << 20, 16u << 12);
    struct race x = {0};
    REQUIRE_OK(snap_open(path, &o, &x.r));
    x.base = snap_base(x.r);
    pthread_t t[WRITERS];
    void *args[WRITERS][2];
    for (int w = 0; w < WRITERS; w++) {
        args[w][0] = &x;
        args[w][1] = (void *)(intptr_t)w;
        REQUIRE(pthread_create(&t[w], NULL, writer, args[w]) == 0);
    }
    long not_durable = 0;
    struct test_rng g;
    test_rng_seed(&g, 9);
    /* At least `msyncs` commits and 1000 evictions (writers may start late on a loaded machine);
     * the naive release runs until it loses a store. At most 60 s either way. */
    time_t t0 = time(NULL);
    for (long i = 0; time(NULL) - t0 < 60; i++) {
        long lost_now = 0;
        for (int w = 0; w < WRITERS; w++)
            lost_now += __atomic_load_n(&x.lost[w], __ATOMIC_RELAXED);
        if (naive ? lost_now + not_durable > 0
                  : i >= msyncs && stats_of(x.r).evictions >= 1000)
            break;
        int w = (int)test_rng_below(&g, WRITERS), k = (int)test_rng_below(&g, SLOTS);
        uint64_t want = __atomic_load_n(&x.acked[w][k], __ATOMIC_ACQUIRE);
        REQUIRE_OK(snap_msync(x.r));
        uint64_t got;
        REQUIRE_OK(test_committed_read(path, slot_off(w, k), &got, 8));
        not_durable += got < want; /* later values may have come in too, never older ones */
    }
    __atomic_store_n(&x.stop, 1, __ATOMIC_RELEASE);
    for (int w = 0; w < WRITERS; w++)
        pthread_join(t[w], NULL);
    snap_stats s = stats_of(x.r);
    REQUIRE_OK(snap_close(x.r));
    snap_budget_naive = 0;
    long lost = 0, stores = 0;
    for (int w = 0; w < WRITERS; w++) {
        lost += x.lost[w];
        stores += x.stores[w];
    }
    printf("  race %s%s: %ld stores, %ld lost, %ld not durable at return, %llu evictions, "
           "%llu re-faults\n", kind, naive ? " (naive release)" : "", stores, lost, not_durable,
           (unsigned long long)s.evictions, (unsigned long long)s.refaults);
    CHECK(s.evictions > 0);
    if (naive) {
        CHECK(lost + not_durable > 0); /* the naive release must be caught */
    } else {
        CHECK(lost == 0);
        CHECK(not_durable == 0);
    }
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

/* ---- A page that cannot be read back ----------------------------------------------------------- */

/* In a child (an evictable copy is not inherited): a simulator region whose data file's reads fail
 * for a moment (the test kit's fault injection). An access to an evicted page then raises SIGBUS
 * (the page is poisoned, as a mapped file's unreadable page would be), never reads other bytes;
 * and the commits and evictions after it go on without touching the poisoned page (before
 * fb0abfb the clock took it for resident and its comparison died of SIGBUS too). */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_count;

static void on_bus(int sig)
{
    (void)sig;
    bus_count++;
    siglongjmp(bus_jmp, 1);
}

static void case_unreadable(void)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct snap_sim *sim = snap_sim_new();
        snap_options o = {.flags = SNAP_CREATE, .size = 1u << 20, .budget = 16u << 12};
        snap_region *r;
        if (!sim || snap_open_sim("data", &o, sim, &r))
            _exit(2);
        uint8_t *base = snap_base(r);
        for (uint64_t off = 0; off < (1u << 20); off += 4096) { /* every page, so most go */
            base[off] = 7;
            snap_track(r, base + off, 1);
            if (off % (64u << 12) == 0 && snap_msync(r))
                _exit(2);
        }
        snap_stats s;
        if (snap_msync(r) || snap_stats_get(r, &s) || s.evictions == 0)
            _exit(3);
        struct snap_backend *be = ((struct snap_region *)r)->be;
        pthread_mutex_t *fills = &((struct snap_region *)r)->budget.mu; /* the handler reads under it */
        signal(SIGBUS, on_bus);
        if (sigsetjmp(bus_jmp, 1) == 0) {
            pthread_mutex_lock(fills); /* fault injection is not thread-safe (backend.h) */
            snap_backend_inject_fault(be, SNAP_FAULT_READ, 1, -EIO);
            pthread_mutex_unlock(fills);
            volatile uint8_t v = base[0]; /* evicted first by the clock: its fill cannot read */
            _exit(v == 7 ? 4 : 5);       /* reached only if the page was not poisoned */
        }
        pthread_mutex_lock(fills);
        snap_backend_inject_fault(be, SNAP_FAULT_NONE, 0, 0);
        pthread_mutex_unlock(fills);
        if (bus_count != 1)
            _exit(6);
        for (int round = 0; round < 4; round++) /* commits and evictions go on */
            for (uint64_t off = 4096; off < (1u << 20); off += 4096) {
                base[off] = (uint8_t)(8 + round);
                snap_track(r, base + off, 1);
                if (off % (32u << 12) == 0 && (sigsetjmp(bus_jmp, 1) != 0 || snap_msync(r)))
                    _exit(7); /* SIGBUS in an msync: it read the poisoned page */
            }
        _exit(0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    printf("  unreadable page: SIGBUS at the access, then commits went on: child %s %d\n",
           WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cases++;
}

/* ---- Options ------------------------------------------------------------------------------------ */

static void case_options(void)
{
    char *dir = test_tmpdir("budget-opts", "disk"), *path = test_path(dir, "data");
    snap_region *r;
    snap_options o = opts_for("disk", 1u << 20, 1u << 20); /* exactly the size: fits */
    REQUIRE_OK(snap_open(path, &o, &r));
    snap_stats s = stats_of(r);
    CHECK(s.evictable == 0);
    CHECK(s.budget == 1u << 20);
    memset(snap_base(r), 1, 8192);
    snap_track(r, snap_base(r), 8192);
    REQUIRE_OK(snap_msync(r));
    s = stats_of(r);
    CHECK(s.resident_bytes >= 8192 && s.resident_bytes <= (1u << 20)); /* from the page table */
    REQUIRE_OK(snap_close(r));
    o = (snap_options){.budget = SNAP_BUDGET_NONE};
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK(stats_of(r).evictable == 0);
    CHECK(stats_of(r).budget == SNAP_BUDGET_NONE);
    REQUIRE_OK(snap_close(r));
    REQUIRE_OK(snap_open(path, NULL, &r));
    s = stats_of(r);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    CHECK(s.budget > 0 && s.budget <= (uint64_t)pages * (uint64_t)page / 4);
    REQUIRE_OK(snap_close(r));
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

int main(void)
{
    if (getenv("SNAPSHOT_BUDGET")) {
        fprintf(stderr, "test_budget sets its own budgets: unset SNAPSHOT_BUDGET\n");
        return 1;
    }
    const char *naive = getenv("SNAPSHOT_BUDGET_NAIVE");
    if (naive && strcmp(naive, "1") == 0) {
        case_race("disk", 1);
        return test_done("test_budget (naive release)", cases);
    }
    case_options();
    case_unreadable();
    case_model("disk");
    case_model("shm");
    case_grow_past("disk");
    case_grow_past("shm");
    case_race("disk", 0);
    case_race("shm", 0);
    return test_done("test_budget", cases);
}
