/* test_concurrency.c — the thread-safety promises of snapshot.h, under load.
 *
 * (a) Racing stores. Four writer threads increment 8-byte counters — each thread its own, most in
 *     lines of their own, some in lines shared with another thread (different words) — with a plain
 *     store followed by snap_hook_store(), as plugin-instrumented code does, while a committer
 *     thread calls snap_msync() without pause. The work runs in rounds; at the end of each round
 *     the writers stop, the main thread calls snap_msync() (every store happened before it) and
 *     reads the data file through its own descriptor: every counter must hold its latest value (a
 *     store lost by a racing commit would leave an older one). At the end: close, reopen, compare.
 * (b) Group commit. Four threads each store their own counter and call snap_msync(); when it
 *     returns, the thread reads its counter from the data file (the file back end applies before
 *     msync returns) and it must be the value just stored. Barriers are shared: commits <= msyncs,
 *     and strictly fewer on a disk where a barrier costs time.
 * (c) snap_grow() concurrent with snap_msync() and with stores below the old size: writers keep
 *     incrementing counters in the first 64 KiB, a committer msyncs, a grower thread grows the
 *     region step by step to 4 MiB and stores markers into each new part. At the end: close,
 *     reopen: the final size, every counter, every marker, zeros elsewhere.
 *
 * Environment: SNAPSHOT_CONC_ROUNDS (default 60), SNAPSHOT_CONC_ROUND_US (how long writers store
 * in a round, default 10000), SNAPSHOT_CONC_MSYNCS (per thread in (b), default
 * 300). Meant to run under ThreadSanitizer too (-DSNAPSHOT_SANITIZE=thread).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define NT 4

static int cases;

/* CHECK from any thread. */
#define TCHECK(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            __atomic_fetch_add(&test_failures, 1, __ATOMIC_RELAXED);                               \
        }                                                                                          \
    } while (0)

/* The instrumented store: a plain 8-byte store, then the hook. */
static inline void store_counter(uint8_t *base, uint64_t off, uint64_t v)
{
    uint64_t *p = (uint64_t *)(base + off);
    *p = v;
    snap_hook_store(p, sizeof *p);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The oracle reads the log's chain at every check: a small log keeps it short (and checkpoints
 * often, which races the oracle's reads with the header's rewrites too). */
#define LOG_CAPACITY (256u << 10)

/* The region's committed bytes (test_committed_read: the data file lags the last record). */
static uint8_t *read_committed(const char *path, uint64_t size)
{
    uint8_t *b = malloc(size);
    REQUIRE(b);
    REQUIRE_OK(test_committed_read(path, 0, b, size));
    return b;
}

/* Compare an image with the expected one; report the first few differences. */
static int compare(const char *what, const uint8_t *got, const uint8_t *want, uint64_t size)
{
    int bad = 0;
    for (uint64_t off = 0; off + 8 <= size; off += 8) {
        uint64_t g, w;
        memcpy(&g, got + off, 8);
        memcpy(&w, want + off, 8);
        if (g != w && bad++ < 5)
            fprintf(stderr, "%s: word at %llu is %llu, want %llu\n", what,
                    (unsigned long long)off, (unsigned long long)g, (unsigned long long)w);
    }
    if (bad) {
        fprintf(stderr, "%s: %d words differ\n", what, bad);
        test_failures++;
    }
    return bad;
}

/* ---- (a) Racing stores ------------------------------------------------------------------------ */

#define A_SIZE (256u << 10)

struct writer {
    int t;
    uint8_t *base;
    uint64_t *offs, *vals;
    size_t n;
    long rounds;
    uint64_t round_us;
    pthread_barrier_t *done, *go;
};

struct committer {
    snap_region *r;
    int stop;
    uint64_t msyncs;
};

static void *committer_main(void *arg)
{
    struct committer *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        int rc = snap_msync(c->r);
        TCHECK(rc == 0);
        if (rc)
            break;
        c->msyncs++;
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct test_rng rng;
    test_rng_seed(&rng, 77 + (uint64_t)w->t);
    for (long round = 0; round < w->rounds; round++) {
        /* Store for a while (long enough for the scheduler to run the committer in between),
         * then a random number more, so that rounds end at any point of a commit. */
        uint64_t end = now_us() + w->round_us;
        while (now_us() < end)
            for (int k = 0; k < 256; k++) {
                size_t c = (size_t)test_rng_below(&rng, w->n);
                store_counter(w->base, w->offs[c], ++w->vals[c]);
            }
        for (uint64_t k = test_rng_below(&rng, 4096); k > 0; k--) {
            size_t c = (size_t)test_rng_below(&rng, w->n);
            store_counter(w->base, w->offs[c], ++w->vals[c]);
        }
        pthread_barrier_wait(w->done); /* the main thread checks */
        pthread_barrier_wait(w->go);
    }
    return NULL;
}

static void expected_image(uint8_t *img, uint64_t size, struct writer *w, int nw)
{
    memset(img, 0, size);
    for (int t = 0; t < nw; t++)
        for (size_t i = 0; i < w[t].n; i++)
            memcpy(img + w[t].offs[i], &w[t].vals[i], 8);
}

static void test_racing_stores(long rounds, uint64_t round_us)
{
    char *dir = test_tmpdir("concurrency", "shm"); /* the file back end on tmpfs: cheap barriers,
                                                      so the committer commits all the time */
    char *path = test_path(dir, "counters");
    snap_options o = {.flags = SNAP_CREATE, .backend = SNAP_BACKEND_FILE, .size = A_SIZE,
                      .log_capacity = LOG_CAPACITY};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *base = snap_base(r);

    /* Layout: line L with L % 5 < 4 belongs to thread L % 5 (one word in it); line L with
     * L % 5 == 4 is shared by two threads, words 1 and 6. */
    struct writer w[NT];
    pthread_barrier_t done, go;
    pthread_barrier_init(&done, NULL, NT + 1);
    pthread_barrier_init(&go, NULL, NT + 1);
    uint64_t nlines = A_SIZE / 64;
    for (int t = 0; t < NT; t++) {
        w[t] = (struct writer){.t = t, .base = base, .rounds = rounds, .round_us = round_us,
                              .done = &done, .go = &go};
        w[t].offs = calloc(nlines, sizeof(uint64_t));
        w[t].vals = calloc(nlines, sizeof(uint64_t));
        REQUIRE(w[t].offs && w[t].vals);
    }
    for (uint64_t L = 0; L < nlines; L++) {
        if (L % 5 < 4) {
            struct writer *x = &w[L % 5];
            x->offs[x->n++] = L * 64 + (L * 7 % 8) * 8;
        } else {
            struct writer *x = &w[(L / 5) % NT], *y = &w[(L / 5 + 1) % NT];
            x->offs[x->n++] = L * 64 + 8;
            y->offs[y->n++] = L * 64 + 48;
        }
    }
    struct committer c = {.r = r};
    pthread_t ct, wt[NT];
    REQUIRE(pthread_create(&ct, NULL, committer_main, &c) == 0);
    for (int t = 0; t < NT; t++)
        REQUIRE(pthread_create(&wt[t], NULL, writer_main, &w[t]) == 0);
    uint8_t *want = malloc(A_SIZE);
    REQUIRE(want);
    int bad_rounds = 0;
    for (long round = 0; round < rounds; round++) {
        pthread_barrier_wait(&done);
        CHECK_RC(snap_msync(r), 0);
        expected_image(want, A_SIZE, w, NT);
        uint8_t *got = read_committed(path, A_SIZE);
        char what[64];
        snprintf(what, sizeof what, "racing stores, round %ld", round);
        if (bad_rounds < 3)
            bad_rounds += compare(what, got, want, A_SIZE) != 0;
        free(got);
        pthread_barrier_wait(&go);
    }
    for (int t = 0; t < NT; t++)
        pthread_join(wt[t], NULL);
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(ct, NULL);
    CHECK_RC(snap_msync(r), 0);
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
    CHECK_RC(snap_close(r), 0);
    o.flags = 0;
    REQUIRE_OK(snap_open(path, &o, &r));
    expected_image(want, A_SIZE, w, NT);
    compare("racing stores, after reopening", snap_base(r), want, A_SIZE);
    CHECK_RC(snap_close(r), 0);
    uint64_t stores = 0;
    for (int t = 0; t < NT; t++)
        for (size_t i = 0; i < w[t].n; i++)
            stores += w[t].vals[i];
    printf("racing stores: %ld rounds, %llu stores, %llu msyncs by the committer, %llu commits\n",
           rounds, (unsigned long long)stores, (unsigned long long)c.msyncs,
           (unsigned long long)st.commits);
    CHECK(c.msyncs > 0);
    for (int t = 0; t < NT; t++)
        free(w[t].offs), free(w[t].vals);
    pthread_barrier_destroy(&done);
    pthread_barrier_destroy(&go);
    free(want);
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

/* ---- (b) Group commit ------------------------------------------------------------------------- */

struct group_thread {
    int t;
    snap_region *r;
    uint8_t *base;
    const char *path;
    long n;
};

static uint64_t group_off(int t)
{
    return (uint64_t)t * 4096 + 64 * (uint64_t)t + 8;
}

static void *group_main(void *arg)
{
    struct group_thread *g = arg;
    uint64_t off = group_off(g->t);
    int bad = 0;
    for (long i = 1; i <= g->n; i++) {
        store_counter(g->base, off, (uint64_t)i);
        /* Some stores of no one else's business, so records differ in size. */
        store_counter(g->base, off + 1024 + (uint64_t)(i % 16) * 64, (uint64_t)i);
        int rc = snap_msync(g->r);
        TCHECK(rc == 0);
        uint64_t v = 0;
        TCHECK(test_committed_read(g->path, off, &v, 8) == 0);
        if (v != (uint64_t)i && bad++ < 3) {
            fprintf(stderr, "group commit: thread %d's msync returned, but the committed state holds "
                            "%llu, not %ld\n", g->t, (unsigned long long)v, i);
            __atomic_fetch_add(&test_failures, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_group_commit(long per_thread)
{
    char *dir = test_tmpdir("concurrency", "disk");
    char *path = test_path(dir, "group");
    snap_options o = {.flags = SNAP_CREATE, .backend = SNAP_BACKEND_FILE, .size = 64u << 10,
                      .log_capacity = LOG_CAPACITY};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    struct group_thread g[NT];
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
        g[t] = (struct group_thread){.t = t, .r = r, .base = snap_base(r), .path = path,
                                    .n = per_thread};
        REQUIRE(pthread_create(&th[t], NULL, group_main, &g[t]) == 0);
    }
    for (int t = 0; t < NT; t++)
        pthread_join(th[t], NULL);
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
    printf("group commit: %d threads, %llu msyncs, %llu commits (%.2f msyncs per barrier), "
           "%.1f us per msync\n", NT, (unsigned long long)st.msyncs,
           (unsigned long long)st.commits, st.commits ? (double)st.msyncs / (double)st.commits : 0,
           st.msyncs ? (double)st.commit_ns / 1e3 / (double)st.msyncs : 0);
    CHECK(st.msyncs == (uint64_t)(NT * per_thread));
    CHECK(st.commits <= st.msyncs);
    CHECK(st.commits < st.msyncs); /* callers that arrived during a commit shared the next one */
    CHECK_RC(snap_close(r), 0);
    o.flags = 0;
    REQUIRE_OK(snap_open(path, &o, &r));
    for (int t = 0; t < NT; t++) {
        uint64_t v;
        memcpy(&v, (uint8_t *)snap_base(r) + group_off(t), 8);
        CHECK(v == (uint64_t)per_thread);
    }
    CHECK_RC(snap_close(r), 0);
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

/* ---- (c) Growth under load -------------------------------------------------------------------- */

#define C_SIZE (64u << 10)
#define C_FINAL ((4u << 20) + 100)
#define C_STEPS 40

struct grow_writer {
    uint8_t *base;
    int t;
    int *stop;
    uint64_t vals[C_SIZE / 64 / 2];
};

static void *grow_writer_main(void *arg)
{
    struct grow_writer *w = arg;
    struct test_rng rng;
    test_rng_seed(&rng, 99 + (uint64_t)w->t);
    size_t n = sizeof w->vals / sizeof w->vals[0];
    while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
        for (int k = 0; k < 1000; k++) {
            size_t c = (size_t)test_rng_below(&rng, n);
            /* counter c of thread t: line 2c + t, word c % 8 (below the original size) */
            store_counter(w->base, (2 * c + (size_t)w->t) * 64 + (c % 8) * 8, ++w->vals[c]);
        }
    }
    return NULL;
}

struct grower {
    snap_region *r;
    uint64_t sizes[C_STEPS + 1];
};

static uint64_t marker(uint64_t size)
{
    return size * 0x9e3779b97f4a7c15ull | 1;
}

static void *grower_main(void *arg)
{
    struct grower *g = arg;
    uint8_t *base = snap_base(g->r);
    for (int s = 1; s <= C_STEPS; s++) {
        uint64_t old = g->sizes[s - 1], size = g->sizes[s];
        int rc = snap_grow(g->r, size);
        TCHECK(rc == 0);
        if (rc)
            return NULL;
        TCHECK(snap_size(g->r) == size);
        TCHECK(snap_base(g->r) == base); /* the base never moves */
        /* The new part reads as zero; mark its first and last words. */
        uint64_t first = (old + 7) & ~7ull, last = (size - 8) & ~7ull;
        uint64_t z1, z2;
        memcpy(&z1, base + first, 8);
        memcpy(&z2, base + last, 8);
        TCHECK(z1 == 0 && z2 == 0);
        store_counter(base, first, marker(size));
        store_counter(base, last, marker(size) + 1);
        if (s % 8 == 0)
            TCHECK(snap_msync(g->r) == 0);
    }
    return NULL;
}

static void test_grow_under_load(void)
{
    char *dir = test_tmpdir("concurrency", "shm");
    char *path = test_path(dir, "grow");
    snap_options o = {.flags = SNAP_CREATE, .backend = SNAP_BACKEND_FILE, .size = C_SIZE,
                      .max_size = 8u << 20};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    int stop = 0;
    static struct grow_writer w[2];
    struct committer c = {.r = r};
    struct grower g = {.r = r};
    g.sizes[0] = C_SIZE;
    for (int s = 1; s <= C_STEPS; s++) /* uneven steps, the last one C_FINAL */
        g.sizes[s] = s == C_STEPS ? C_FINAL
                                  : C_SIZE + (C_FINAL - C_SIZE) / C_STEPS * (uint64_t)s + 8 * (uint64_t)s + 3;
    pthread_t wt[2], ct, gt;
    for (int t = 0; t < 2; t++) {
        w[t] = (struct grow_writer){.base = snap_base(r), .t = t, .stop = &stop};
        REQUIRE(pthread_create(&wt[t], NULL, grow_writer_main, &w[t]) == 0);
    }
    REQUIRE(pthread_create(&ct, NULL, committer_main, &c) == 0);
    REQUIRE(pthread_create(&gt, NULL, grower_main, &g) == 0);
    pthread_join(gt, NULL);
    usleep(20000); /* a little more racing at the final size */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < 2; t++)
        pthread_join(wt[t], NULL);
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(ct, NULL);
    CHECK_RC(snap_msync(r), 0);
    CHECK(snap_size(r) == C_FINAL);
    CHECK_RC(snap_close(r), 0);

    uint8_t *want = calloc(1, C_FINAL);
    REQUIRE(want);
    for (int s = 1; s <= C_STEPS; s++) {
        uint64_t old = g.sizes[s - 1], size = g.sizes[s];
        uint64_t first = (old + 7) & ~7ull, last = (size - 8) & ~7ull, m = marker(size), m1 = m + 1;
        memcpy(want + first, &m, 8);
        memcpy(want + last, &m1, 8);
    }
    for (int t = 0; t < 2; t++)
        for (size_t c2 = 0; c2 < sizeof w[t].vals / sizeof w[t].vals[0]; c2++)
            memcpy(want + (2 * c2 + (size_t)t) * 64 + (c2 % 8) * 8, &w[t].vals[c2], 8);
    o.flags = 0;
    o.size = 0;
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK(snap_size(r) == C_FINAL);
    if (snap_size(r) == C_FINAL)
        compare("growth under load, after reopening", snap_base(r), want, C_FINAL - 4);
    CHECK(memcmp((uint8_t *)snap_base(r) + C_FINAL - 4, want + C_FINAL - 4, 4) == 0);
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
    CHECK_RC(snap_close(r), 0);
    printf("growth under load: %d steps to %u bytes, %llu msyncs by the committer\n", C_STEPS,
           (unsigned)C_FINAL, (unsigned long long)c.msyncs);
    free(want);
    test_rmdir(dir);
    free(path);
    free(dir);
    cases++;
}

int main(void)
{
    long rounds = test_env_long("SNAPSHOT_CONC_ROUNDS", 60);
    uint64_t round_us = (uint64_t)test_env_long("SNAPSHOT_CONC_ROUND_US", 10000);
    long per_thread = test_env_long("SNAPSHOT_CONC_MSYNCS", 300);
    test_racing_stores(rounds, round_us);
    test_group_commit(per_thread);
    test_grow_under_load();
    return test_done("test_concurrency", cases);
}
