/* test_dirty_map.c — marking and collecting lines: runs, levels, huge sparse maps, concurrent markers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dirty_map.h"
#include "test_util.h"
#include "testkit.h"


/* Runs must be ascending, non-empty and coalesced (never adjacent). */
static int runs_well_formed(const struct snap_line_run *r, long n, uint64_t nlines)
{
    for (long i = 0; i < n; i++) {
        if (r[i].count == 0 || r[i].first + r[i].count > nlines)
            return 0;
        if (i && r[i - 1].first + r[i - 1].count >= r[i].first)
            return 0;
    }
    return 1;
}

static void test_levels(void)
{
    static const struct {
        uint64_t nlines;
        unsigned levels;
        uint64_t words[5];
    } cases[] = {
        {1, 1, {1}},
        {64, 1, {1}},
        {65, 2, {2, 1}},
        {4096, 2, {64, 1}},
        {4097, 3, {65, 2, 1}},
        {1ull << 30, 5, {1ull << 24, 1ull << 18, 1ull << 12, 64, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct snap_dirty_map m;
        REQUIRE_OK(snap_dirty_init(&m, cases[i].nlines, 0));
        CHECK(m.levels == cases[i].levels);
        CHECK(m.nlines == cases[i].nlines);
        for (unsigned l = 0; l < m.levels && l < 5; l++)
            CHECK(m.words[l] == cases[i].words[l]);
        snap_dirty_destroy(&m);
        CHECK(m.mem == NULL);
        /* A destroyed map is inert: nothing marked, nothing returned, no crash. */
        struct snap_line_run *none = NULL;
        size_t ncap = 0;
        snap_dirty_mark(&m, 0, 10);
        snap_dirty_clear(&m);
        CHECK(!snap_dirty_test(&m, 0) && snap_dirty_collect(&m, &none, &ncap) == 0);
    }
    struct snap_dirty_map m;
    CHECK(snap_dirty_init(&m, 0, 0) == -EINVAL);
    CHECK(snap_dirty_init(&m, UINT64_MAX, 0) == -EINVAL); /* needs more than SNAP_DIRTY_MAX_LEVELS */
}

static void test_runs(void)
{
    struct snap_dirty_map m;
    struct snap_line_run *runs = NULL;
    size_t cap = 0;
    const uint64_t N = 1000;
    REQUIRE_OK(snap_dirty_init(&m, N, 0));

    CHECK(snap_dirty_collect(&m, &runs, &cap) == 0); /* empty map */

    snap_dirty_mark(&m, 60, 10);  /* crosses the word boundary at 64 */
    snap_dirty_mark(&m, 0, 1);    /* first line */
    snap_dirty_mark(&m, 998, 10); /* clamped to 998..999 */
    snap_dirty_mark(&m, 999, UINT64_MAX);
    snap_dirty_mark(&m, N, 1);    /* past capacity: ignored */
    snap_dirty_mark(&m, 5000, 3);
    snap_dirty_mark(&m, 500, 0);  /* empty */
    snap_dirty_mark(&m, 127, 1);  /* 127 and 128: adjacent lines in different words */
    snap_dirty_mark(&m, 128, 1);
    CHECK(snap_dirty_test(&m, 0) && snap_dirty_test(&m, 69) && !snap_dirty_test(&m, 70));
    CHECK(!snap_dirty_test(&m, 500) && !snap_dirty_test(&m, N) && snap_dirty_test(&m, 999));

    long n = snap_dirty_collect(&m, &runs, &cap);
    REQUIRE(n == 4);
    CHECK(runs[0].first == 0 && runs[0].count == 1);
    CHECK(runs[1].first == 60 && runs[1].count == 10);
    CHECK(runs[2].first == 127 && runs[2].count == 2);
    CHECK(runs[3].first == 998 && runs[3].count == 2);
    CHECK(!snap_dirty_test(&m, 0) && !snap_dirty_test(&m, 999));
    CHECK(snap_dirty_collect(&m, &runs, &cap) == 0); /* collect after collect: nothing */

    /* Whole words and the whole map coalesce into one run. */
    snap_dirty_mark(&m, 64, 64);
    snap_dirty_mark(&m, 0, 64);
    snap_dirty_mark(&m, 128, N);
    n = snap_dirty_collect(&m, &runs, &cap);
    CHECK(n == 1 && runs[0].first == 0 && runs[0].count == N);

    /* clear drops everything. */
    snap_dirty_mark(&m, 3, 700);
    snap_dirty_clear(&m);
    CHECK(!snap_dirty_test(&m, 3));
    CHECK(snap_dirty_collect(&m, &runs, &cap) == 0);

    free(runs);
    snap_dirty_destroy(&m);
}

/* Random ranges against a byte-per-line reference, several collections in a row. */
static void test_random(struct test_rng *rng)
{
    struct snap_line_run *runs = NULL;
    size_t cap = 0;
    for (int round = 0; round < 40; round++) {
        struct snap_dirty_map m;
        uint64_t N = 1 + test_rng_below(rng, round < 20 ? 300 : 300000);
        unsigned char *ref = calloc(N, 1);
        REQUIRE(ref);
        REQUIRE_OK(snap_dirty_init(&m, N, 0));
        for (int pass = 0; pass < 3; pass++) {
            int marks = (int)test_rng_below(rng, 400);
            for (int i = 0; i < marks; i++) {
                uint64_t first = test_rng_below(rng, N + 10);
                uint64_t count = test_rng_below(rng, 4) ? 1 + test_rng_below(rng, 8) : test_rng_below(rng, 300);
                snap_dirty_mark(&m, first, count);
                for (uint64_t l = first; l < first + count && l < N; l++)
                    ref[l] = 1;
            }
            long n = snap_dirty_collect(&m, &runs, &cap);
            REQUIRE(n >= 0);
            CHECK(runs_well_formed(runs, n, N));
            unsigned char *got = calloc(N, 1);
            REQUIRE(got);
            for (long i = 0; i < n; i++)
                for (uint64_t l = runs[i].first; l < runs[i].first + runs[i].count && l < N; l++)
                    got[l] = 1;
            CHECK(memcmp(got, ref, N) == 0);
            free(got);
            memset(ref, 0, N);
        }
        free(ref);
        snap_dirty_destroy(&m);
    }
    free(runs);
}

static size_t resident_pages(const struct snap_dirty_map *m)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), np = m->mem_len / page, n = 0;
    unsigned char *vec = malloc(np);
    REQUIRE(vec);
    REQUIRE(mincore(m->mem, m->mem_len, vec) == 0);
    for (size_t i = 0; i < np; i++)
        n += vec[i] & 1;
    free(vec);
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A 64 GiB region: 2^30 lines. The bitmaps are ~130 MiB of address space but only the words on
 * the paths to marked lines may ever be touched, by marking, collecting or clearing. */
static void test_huge(struct test_rng *rng)
{
    struct snap_dirty_map m;
    struct snap_line_run *runs = NULL;
    size_t cap = 0;
    const uint64_t N = 1ull << 30;
    REQUIRE_OK(snap_dirty_init(&m, N, 0));
    CHECK(m.levels == 5);
    CHECK(m.mem_len < (1u << 28));
    CHECK(resident_pages(&m) == 0);

    /* One dirty line: the collect touches one word per level, so at most one page per level. */
    snap_dirty_mark(&m, 777777777, 1);
    CHECK(resident_pages(&m) <= m.levels);
    long n = snap_dirty_collect(&m, &runs, &cap);
    CHECK(n == 1 && runs[0].first == 777777777 && runs[0].count == 1);
    CHECK(resident_pages(&m) <= m.levels);
    CHECK(snap_dirty_collect(&m, &runs, &cap) == 0);

    /* Scattered lines, including the first and the last. */
    enum { K = 1000 };
    uint64_t lines[K + 2];
    for (int i = 0; i < K; i++)
        lines[i] = test_rng_below(rng, N);
    lines[K] = 0;
    lines[K + 1] = N - 1;
    for (int i = 0; i < K + 2; i++)
        snap_dirty_mark(&m, lines[i], 1);
    qsort(lines, K + 2, sizeof lines[0], cmp_u64);
    n = snap_dirty_collect(&m, &runs, &cap);
    CHECK(runs_well_formed(runs, n, N));
    long j = 0;
    int same = 1;
    for (int i = 0; i < K + 2; i++) {
        if (i && lines[i] == lines[i - 1])
            continue;
        if (j < n && runs[j].first <= lines[i] && lines[i] < runs[j].first + runs[j].count) {
            if (lines[i] == runs[j].first + runs[j].count - 1)
                j++;
        } else {
            same = 0;
        }
    }
    CHECK(same && j == n);
    CHECK(resident_pages(&m) <= 2 * (K + 2) * m.levels);

    /* Clearing a sparse huge map does not fault in the rest of it either. */
    snap_dirty_mark(&m, N / 3, 5);
    snap_dirty_clear(&m);
    CHECK(!snap_dirty_test(&m, N / 3));
    CHECK(resident_pages(&m) <= 2 * (K + 2) * m.levels + m.levels);
    CHECK(snap_dirty_collect(&m, &runs, &cap) == 0);
    free(runs);
    snap_dirty_destroy(&m);
}

static int realloc_budget; /* reallocs allowed before the seam fails */

static void *failing_realloc(void *p, size_t n)
{
    if (realloc_budget-- <= 0)
        return NULL;
    return realloc(p, n);
}

/* When the caller's array cannot grow, nothing is returned and nothing is lost. */
static void test_enomem(void)
{
    struct snap_dirty_map m;
    const uint64_t N = 100000;
    REQUIRE_OK(snap_dirty_init(&m, N, 0));
    for (int budget = 0; budget < 4; budget++) {
        struct snap_line_run *runs = NULL;
        size_t cap = 0;
        for (uint64_t l = 0; l < N; l += 97) /* ~1000 separate runs: needs several reallocs */
            snap_dirty_mark(&m, l, l % 3 + 1);
        realloc_budget = budget;
        snap_dirty_realloc = failing_realloc;
        long n = snap_dirty_collect(&m, &runs, &cap);
        snap_dirty_realloc = realloc;
        CHECK(n == -ENOMEM);
        int all = 1;
        for (uint64_t l = 0; l < N; l++)
            if (snap_dirty_test(&m, l) != (l % 97 <= (l - l % 97) % 3))
                all = 0;
        CHECK(all);
        n = snap_dirty_collect(&m, &runs, &cap);
        CHECK(n == (long)((N + 96) / 97));
        CHECK(runs_well_formed(runs, n, N));
        free(runs);
    }
    snap_dirty_destroy(&m);
}

/* ---- Concurrency -------------------------------------------------------------------------------
 * Phase "once": each thread marks every line of its own disjoint set exactly once. Every such line
 * must then be returned by exactly one collect (the concurrent ones or the final one), and no other
 * line ever. Phase "overlap": threads mark random overlapping ranges repeatedly; the union of all
 * collects must equal the union of the marked lines. */
enum { NTHREADS = 4 };

struct shared {
    struct snap_dirty_map m;
    uint64_t nlines;
    int overlap;
    int done; /* markers finished (atomic) */
    uint8_t *count; /* per line: times returned by a collect (collector thread only) */
    uint8_t *marked[NTHREADS]; /* overlap phase: lines each thread marked (its own array) */
    long collects, nonempty;
    int bad_runs;
};

struct marker {
    struct shared *s;
    int id;
    uint64_t seed;
};

static void *marker_main(void *arg)
{
    struct marker *mk = arg;
    struct shared *s = mk->s;
    struct test_rng rng;
    test_rng_seed(&rng, mk->seed);
    if (!s->overlap) {
        /* Lines id, id+4, id+8, ... in a random order (Fisher-Yates over this thread's share). */
        uint64_t k = s->nlines / NTHREADS;
        uint64_t *order = malloc(k * sizeof *order);
        REQUIRE(order);
        for (uint64_t i = 0; i < k; i++)
            order[i] = i * NTHREADS + (uint64_t)mk->id;
        for (uint64_t i = k - 1; i > 0; i--) {
            uint64_t j = test_rng_below(&rng, i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (uint64_t i = 0; i < k; i++) {
            snap_dirty_mark(&s->m, order[i], 1);
            if ((i & 15) == 0)
                sched_yield(); /* let the collector interleave on a 2-core machine */
        }
        free(order);
    } else {
        for (int i = 0; i < 30000; i++) {
            uint64_t first = test_rng_below(&rng, s->nlines), count = 1 + test_rng_below(&rng, 130);
            snap_dirty_mark(&s->m, first, count);
            for (uint64_t l = first; l < first + count && l < s->nlines; l++)
                s->marked[mk->id][l] = 1;
            if ((i & 7) == 0)
                sched_yield();
        }
    }
    return NULL;
}

static void take(struct shared *s, struct snap_line_run **runs, size_t *cap)
{
    long n = snap_dirty_collect(&s->m, runs, cap);
    REQUIRE(n >= 0);
    if (!runs_well_formed(*runs, n, s->nlines))
        s->bad_runs++;
    for (long i = 0; i < n; i++)
        for (uint64_t l = (*runs)[i].first; l < (*runs)[i].first + (*runs)[i].count; l++)
            if (s->count[l] < 255)
                s->count[l]++;
    s->collects++;
    s->nonempty += n > 0;
}

static void *collector_main(void *arg)
{
    struct shared *s = arg;
    struct snap_line_run *runs = NULL;
    size_t cap = 0;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        take(s, &runs, &cap);
        sched_yield();
    }
    take(s, &runs, &cap); /* the final collect, after every marker is done */
    free(runs);
    return NULL;
}

static void run_concurrent(uint64_t nlines, int overlap, uint64_t seed)
{
    struct shared s;
    memset(&s, 0, sizeof s);
    s.nlines = nlines;
    s.overlap = overlap;
    REQUIRE_OK(snap_dirty_init(&s.m, nlines, 0));
    s.count = calloc(nlines, 1);
    REQUIRE(s.count);
    for (int t = 0; t < NTHREADS; t++)
        REQUIRE((s.marked[t] = calloc(nlines, 1)) != NULL);

    pthread_t col, th[NTHREADS];
    struct marker mk[NTHREADS];
    REQUIRE(pthread_create(&col, NULL, collector_main, &s) == 0);
    for (int t = 0; t < NTHREADS; t++) {
        mk[t] = (struct marker){&s, t, seed * 131 + (uint64_t)t};
        REQUIRE(pthread_create(&th[t], NULL, marker_main, &mk[t]) == 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    __atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
    pthread_join(col, NULL);

    CHECK(s.bad_runs == 0);
    uint64_t wrong = 0;
    for (uint64_t l = 0; l < nlines; l++) {
        if (!overlap) {
            int want = l < nlines / NTHREADS * NTHREADS; /* every line of some thread's share */
            wrong += s.count[l] != want;
        } else {
            int any = 0;
            for (int t = 0; t < NTHREADS; t++)
                any |= s.marked[t][l];
            wrong += (s.count[l] != 0) != any;
        }
    }
    if (wrong)
        fprintf(stderr, "concurrent(nlines=%llu, overlap=%d): %llu lines wrong\n",
                (unsigned long long)nlines, overlap, (unsigned long long)wrong);
    CHECK(wrong == 0);
    CHECK(snap_dirty_collect(&s.m, &(struct snap_line_run *){NULL}, &(size_t){0}) == 0);
    if (test_env_long("SNAPSHOT_VERBOSE", 0))
        printf("  nlines=%llu overlap=%d: %ld collects, %ld non-empty\n",
               (unsigned long long)nlines, overlap, s.collects, s.nonempty);
    for (int t = 0; t < NTHREADS; t++)
        free(s.marked[t]);
    free(s.count);
    snap_dirty_destroy(&s.m);
}

int main(void)
{
    struct test_rng rng;
    uint64_t seed = (uint64_t)test_env_long("SNAPSHOT_SEED", 1);
    test_rng_seed(&rng, seed);
    test_levels();
    test_runs();
    test_random(&rng);
    test_huge(&rng);
    test_enomem();
    run_concurrent(1 << 14, 0, seed);  /* 3 levels, dense: contention on shared words */
    run_concurrent(1 << 18, 0, seed);  /* 4 levels */
    run_concurrent(1 << 16, 1, seed);
    return test_done("test_dirty_map", 8);
}
