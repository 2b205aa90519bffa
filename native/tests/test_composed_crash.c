/* test_composed_crash.c — composed power losses: crash, recover (crashing the recovery too), go on
 * committing, crash again; the second recovery must give a state acknowledged after the first crash,
 * or the one then in flight — never the first crash's unacknowledged attempt.
 *
 * Why: a recovery that leaves a torn record in the log and no new header lets the next commit reuse
 * that record's epoch and log offset; if the second crash keeps only some of the retry's lines, they
 * can complete the old record, whose CRC then checks, and recovery replays a state nobody
 * acknowledged (issue 11). test_power_loss crashes one run at a time and cannot see it.
 *
 * Each workload (seed) runs on the power-loss simulator (sim.h), on a region of a few lines:
 *   1. commit a start state and close (a checkpoint: the log is empty); reopen; odd seeds commit
 *      one more record first, so that the attempt is not the log's first record;
 *   2. attempt A changes a few bytes in 1-3 lines, msync. At its barriers, every subset of the
 *      pending lines (all 2^n up to SNAPSHOT_EXHAUSTIVE_BITS, else random ones) is a first crash;
 *   3. recovering that image must give the state acknowledged before A, or A's; recovering it with
 *      that recovery crashed at each of its barriers (nothing kept, everything, a random subset)
 *      must give the same state (for every image whose first record after the checkpoint is
 *      torn, and a quarter of the others);
 *   4. on each recovered image (undisturbed or after the crashed recovery) the program goes on:
 *      the retry R and msync, a follow-up msync when seed / 2 is odd, close. R is, by seed % 7, A's
 *      bytes again; one byte changed; one more byte in one of A's lines; a byte at the end of the
 *      next line (A's last run grows); a byte in another line; one of A's lines fewer; other
 *      lines. Every barrier of this phase is crashed with every subset of its pending lines (or
 *      random ones): these are the composed crash states. Each is recovered and must equal
 *      exactly the last state acknowledged in this phase, or the one in flight;
 *   5. with SNAPSHOT_COMPOSED_CRASHES=3 or more, the chain goes on from composed crash images
 *      (each that leaves a torn first record after a checkpoint, one in 16 of the others): step 4
 *      again (crashing the recovery of torn ones), the same retry rewriting the retry's place.
 * Start states are mostly zero bytes and the writes few, so that the retry's log lines often equal
 * the torn attempt's (its padding, its unchanged data): what the failure needs.
 *
 * Environment: SNAPSHOT_COMPOSED_SEEDS (workloads; default 56, or SNAPSHOT_SEEDS / 4 but at least
 * 7 when that is set, as scripts/test does per build), SNAPSHOT_SEED (first seed),
 * SNAPSHOT_EXHAUSTIVE_BITS (default 8), SNAPSHOT_RANDOM_SUBSETS (default 16),
 * SNAPSHOT_COMPOSED_CRASHES (crashes in a chain, default 2). When seed / 4 is odd
 * a record is applied right after the barrier that makes its mark durable (files'), else one
 * commit later (PM's; snap_commit_defer_apply). Prints the number of composed crash states checked.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "redo_log.h"
#include "region.h"
#include "sim.h"
#include "testkit.h"
#include "crash_state.h"
#include "test_util.h"

static const char *DATA = "region";

/* ---- Workload plans ---------------------------------------------------------------------------- */

struct poke {
    uint32_t off;
    uint8_t val;
};

#define MAX_POKES 24
struct pokes {
    struct poke p[MAX_POKES];
    int n;
};

enum retry_kind { SAME, CHANGED, EXTRA_BYTE, NEXT_LINE, OTHER_LINE, FEWER, OTHER, NKINDS };
static const char *const retry_name[NKINDS] = {"same bytes", "one byte changed", "one more byte",
                                               "next line too", "another line too",
                                               "one line fewer", "other lines"};

struct plan {
    uint64_t size;
    unsigned nlines;
    enum retry_kind kind;
    int has_pre, has_follow;
    struct pokes init, pre, attempt, retry, follow;
};

static void apply_pokes(uint8_t *b, const struct pokes *p)
{
    for (int i = 0; i < p->n; i++)
        b[p->p[i].off] = p->p[i].val;
}

/* A poke at `off` that changes the byte `now` holds there. */
static void add_poke(struct test_rng *rng, struct pokes *p, const uint8_t *now, uint64_t off)
{
    REQUIRE(p->n < MAX_POKES);
    p->p[p->n++] = (struct poke){(uint32_t)off, (uint8_t)(now[off] ^ (1 + test_rng_below(rng, 255)))};
}

static uint64_t line_len(const struct plan *pl, unsigned line)
{
    uint64_t end = (uint64_t)(line + 1) * 64 < pl->size ? (uint64_t)(line + 1) * 64 : pl->size;
    return end - (uint64_t)line * 64;
}

/* 1-3 bytes in each of `lines` distinct random lines. */
static void poke_lines(struct test_rng *rng, const struct plan *pl, struct pokes *p, const uint8_t *now,
                       unsigned lines)
{
    unsigned used[8] = {0}, nused = 0;
    while (nused < lines && nused < pl->nlines) {
        unsigned l = (unsigned)test_rng_below(rng, pl->nlines);
        int dup = 0;
        for (unsigned i = 0; i < nused; i++)
            dup |= used[i] == l;
        if (dup)
            continue;
        used[nused++] = l;
        for (uint64_t k = 1 + test_rng_below(rng, 3); k > 0; k--)
            add_poke(rng, p, now, l * 64u + test_rng_below(rng, line_len(pl, l)));
    }
}

static int attempt_has_line(const struct plan *pl, unsigned line)
{
    for (int i = 0; i < pl->attempt.n; i++)
        if (pl->attempt.p[i].off / 64 == line)
            return 1;
    return 0;
}

static void make_plan(struct plan *pl, uint64_t seed)
{
    struct test_rng rng;
    test_rng_seed(&rng, seed * 0x9e3779b97f4a7c15ull + 11);
    memset(pl, 0, sizeof *pl);
    pl->nlines = 2 + (unsigned)test_rng_below(&rng, 7);
    pl->size = pl->nlines * 64u - (test_rng_below(&rng, 3) == 0 ? test_rng_below(&rng, 40) : 0);
    pl->kind = (enum retry_kind)(seed % NKINDS);
    pl->has_pre = seed % 2;
    pl->has_follow = (seed / 2) % 2;
    uint8_t *now = calloc(pl->size, 1);
    REQUIRE(now);
    poke_lines(&rng, pl, &pl->init, now, 1);
    apply_pokes(now, &pl->init);
    if (pl->has_pre) {
        poke_lines(&rng, pl, &pl->pre, now, 1);
        apply_pokes(now, &pl->pre);
    }
    poke_lines(&rng, pl, &pl->attempt, now, 1 + (unsigned)test_rng_below(&rng, 3));

    /* The retry, from A's writes. */
    pl->retry = pl->attempt;
    struct pokes *r = &pl->retry;
    const struct poke *any = &pl->attempt.p[test_rng_below(&rng, (uint64_t)pl->attempt.n)];
    unsigned lo = pl->nlines, hi = 0;
    for (int i = 0; i < pl->attempt.n; i++) {
        unsigned l = pl->attempt.p[i].off / 64;
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    enum retry_kind k = pl->kind;
    if (k == FEWER && lo == hi)
        k = CHANGED; /* A has one line only */
    if ((k == NEXT_LINE || k == OTHER_LINE) && hi - lo + 1 == pl->nlines && lo == 0)
        k = EXTRA_BYTE; /* no line left */
    switch (k) {
    case SAME:
    case NKINDS:
        break;
    case CHANGED:
        r->p[test_rng_below(&rng, (uint64_t)r->n)].val ^= (uint8_t)(1 + test_rng_below(&rng, 255));
        break;
    case EXTRA_BYTE: {
        unsigned l = any->off / 64;
        add_poke(&rng, r, now, l * 64u + test_rng_below(&rng, line_len(pl, l)));
        break;
    }
    case NEXT_LINE: { /* extends A's last run; a byte at the line's end keeps its start zero */
        unsigned l = hi + 1 < pl->nlines ? hi + 1 : lo - 1;
        add_poke(&rng, r, now, l * 64u + line_len(pl, l) - 1 - test_rng_below(&rng, 8));
        break;
    }
    case OTHER_LINE: {
        unsigned l;
        do
            l = (unsigned)test_rng_below(&rng, pl->nlines);
        while (attempt_has_line(pl, l));
        add_poke(&rng, r, now, l * 64u + test_rng_below(&rng, line_len(pl, l)));
        break;
    }
    case FEWER: {
        unsigned drop = any->off / 64;
        r->n = 0;
        for (int i = 0; i < pl->attempt.n; i++)
            if (pl->attempt.p[i].off / 64 != drop)
                r->p[r->n++] = pl->attempt.p[i];
        break;
    }
    case OTHER:
        r->n = 0;
        poke_lines(&rng, pl, r, now, 1 + (unsigned)test_rng_below(&rng, 2));
        break;
    }
    if (pl->has_follow)
        poke_lines(&rng, pl, &pl->follow, now, 1);
    free(now);
}

/* ---- The harness ------------------------------------------------------------------------------- */

struct harness {
    struct test_rng rng;
    unsigned exhaustive_bits, random_subsets;
    uint64_t seed;
    const struct plan *plan;
    struct state before;  /* acknowledged when attempt A started */
    struct state attempt; /* A's in-flight state */
    uint64_t first_mask;  /* the first crash being followed (its subset; ~0: random) */
    int first_recovery_crashed;
    unsigned max_crashes; /* crashes in a chain: 2, or more to go on after the second one too */
    uint64_t first_crashes, torn_first, recovery_crashes;
    uint64_t composed, matched_acked, matched_inflight, failed, replayed_attempt, deeper;
};

/* Open the region on a crash image (recovery runs). */
static int open_image(struct snap_sim *img, snap_region **r)
{
    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS};
    return snap_open_sim(DATA, &o, img, r);
}

/* Recover a crash image; return 0 and fill *out with its state, or the error. */
static int recover_image(struct snap_sim *img, struct state *out)
{
    snap_region *r;
    int rc = open_image(img, &r);
    if (rc)
        return rc;
    state_set(out, snap_base(r), snap_size(r));
    return snap_close(r);
}

/* Call fn on every crash image a barrier of `sim` could leave: all subsets of its pending units
 * when they are few, else none, all and random ones; with `sample`, only those three. */
typedef void (*image_fn)(struct harness *h, struct snap_sim *img, uint64_t mask, void *arg);
static void each_crash_image(struct harness *h, struct snap_sim *sim, int sample, image_fn fn,
                             void *arg)
{
    size_t pending = snap_sim_pending(sim);
    uint8_t *keep = calloc(pending ? pending : 1, 1);
    REQUIRE(keep);
    int exhaustive = !sample && pending <= h->exhaustive_bits;
    uint64_t n = exhaustive ? 1ull << pending : sample ? 3 : h->random_subsets + 2;
    for (uint64_t t = 0; t < n; t++) {
        for (size_t i = 0; i < pending; i++)
            keep[i] = exhaustive ? (t >> i) & 1
                      : t < 2    ? (uint8_t)t
                                 : (uint8_t)(test_rng_next(&h->rng) & 1);
        struct snap_sim *img = snap_sim_crash_image(sim, keep);
        REQUIRE(img);
        fn(h, img, exhaustive ? t : ~(uint64_t)0, arg);
        snap_sim_free(img);
    }
    free(keep);
}

/* ---- Second phase: go on after the first crash's recovery, crash again ------------------------ */

struct second {
    struct harness *h;
    unsigned crash; /* which crash of the chain this phase's are: 2, 3, ... */
    struct state acked, inflight; /* inflight.size 0: none */
    const char *step;
};

#define MAX_REPORTS 12

static void second_phase(struct harness *h, struct snap_sim *img, const struct state *expect,
                         int crash_recovery, unsigned crash);
static int torn_first_record(struct snap_sim *img);

/* One composed crash image: it must recover to the acknowledged or the in-flight state. */
static void check_composed(struct harness *h, struct snap_sim *img, uint64_t mask, void *arg)
{
    struct second *s = arg;
    struct state got = {0};
    /* Going on after this crash too: the image before its recovery changes it. */
    struct snap_sim *copy = s->crash < h->max_crashes ? snap_sim_crash_image(img, NULL) : NULL;
    int rc = recover_image(img, &got);
    h->composed++;
    h->deeper += s->crash > 2;
    int acked = !rc && state_equals(&s->acked, got.bytes, got.size);
    int inflight = !rc && !acked && s->inflight.size && state_equals(&s->inflight, got.bytes, got.size);
    h->matched_acked += acked;
    h->matched_inflight += inflight;
    if (!acked && !inflight) {
        int first = !rc && state_equals(&h->attempt, got.bytes, got.size);
        h->failed++;
        h->replayed_attempt += first;
        if (h->failed <= MAX_REPORTS)
            fprintf(stderr, "seed %llu (retry: %s): first crash kept subset 0x%llx%s; crash %u, in "
                            "%s, keeping subset 0x%llx recovered (rc %d, %s) %s\n",
                    (unsigned long long)h->seed, retry_name[h->plan->kind],
                    (unsigned long long)h->first_mask,
                    h->first_recovery_crashed ? ", its recovery crashed" : "", s->crash, s->step,
                    (unsigned long long)mask, rc, snap_strerror(rc),
                    rc      ? "nothing"
                    : first ? "the first crash's attempt, never acknowledged"
                            : "a state neither acknowledged nor in flight");
        test_failures++;
    } else if (copy) {
        /* Another retry of the same bytes, crashed again: for every image that leaves a torn first
         * record after a checkpoint, and one in 16 of the others. */
        int torn = torn_first_record(copy);
        if (torn || test_rng_below(&h->rng, 16) == 0)
            second_phase(h, copy, &got, torn, s->crash + 1);
    }
    if (copy)
        snap_sim_free(copy);
    free(got.bytes);
}

static void on_second_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    (void)file;
    struct second *s = arg;
    each_crash_image(s->h, sim, 0, check_composed, s);
}

static void msync_step(struct second *s, snap_region *r, const struct pokes *p, const char *step)
{
    uint8_t *b = snap_base(r);
    for (int i = 0; i < p->n; i++) {
        b[p->p[i].off] = p->p[i].val;
        CHECK_RC(snap_track(r, b + p->p[i].off, 1), 0);
    }
    state_set(&s->inflight, b, snap_size(r));
    s->step = step;
    CHECK_RC(snap_msync(r), 0);
    state_set(&s->acked, b, snap_size(r));
    s->inflight.size = 0;
}

struct nest {
    struct harness *h;
    const struct state *expect;
    unsigned crash;
};

static void after_crashed_recovery(struct harness *h, struct snap_sim *img, uint64_t mask, void *arg)
{
    (void)mask;
    const struct nest *n = arg;
    h->recovery_crashes++;
    int was = h->first_recovery_crashed;
    h->first_recovery_crashed = 1;
    second_phase(h, img, n->expect, 0, n->crash);
    h->first_recovery_crashed = was;
}

/* Barrier callback while the first crash is recovered: crash that recovery too. */
static void on_recovery_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    (void)file;
    struct nest *n = arg;
    each_crash_image(n->h, sim, 1, after_crashed_recovery, n);
}

/* Open (recover) img, which must give `expect`; then the retry, the follow-up, the close, each
 * barrier crashed with every subset: crash number `crash` of the chain. With crash_recovery, each
 * barrier of the recovery is crashed too, and each such image goes through the same. */
static void second_phase(struct harness *h, struct snap_sim *img, const struct state *expect,
                         int crash_recovery, unsigned crash)
{
    struct nest n = {h, expect, crash};
    if (crash_recovery)
        snap_sim_on_barrier(img, on_recovery_barrier, &n);
    snap_region *r;
    int rc = open_image(img, &r);
    snap_sim_on_barrier(img, NULL, NULL);
    if (rc || !state_equals(expect, snap_base(r), snap_size(r))) {
        fprintf(stderr, "seed %llu: recovering crash %u (first crash subset 0x%llx%s) gave rc %d, "
                        "not the state an undisturbed recovery gave\n",
                (unsigned long long)h->seed, crash - 1, (unsigned long long)h->first_mask,
                h->first_recovery_crashed ? ", recovery crashed" : "", rc);
        test_failures++;
        if (!rc)
            snap_close(r);
        return;
    }
    const struct plan *pl = h->plan;
    struct second s = {.h = h, .crash = crash};
    state_set(&s.acked, snap_base(r), snap_size(r));
    snap_sim_on_barrier(img, on_second_barrier, &s);
    msync_step(&s, r, &pl->retry, "the retry's msync");
    if (pl->has_follow)
        msync_step(&s, r, &pl->follow, "the follow-up msync");
    s.step = "the close";
    CHECK_RC(snap_close(r), 0); /* its checkpoint's barriers are crash points too */
    snap_sim_on_barrier(img, NULL, NULL);

    struct snap_sim *after = snap_sim_crash_image(img, NULL);
    REQUIRE(after);
    struct state got = {0};
    CHECK_RC(recover_image(after, &got), 0);
    CHECK(state_equals(&s.acked, got.bytes, got.size));
    snap_sim_free(after);
    free(got.bytes);
    free(s.acked.bytes);
    free(s.inflight.bytes);
}

/* ---- First phase: the attempt and its crash ---------------------------------------------------- */

/* Does the crash image hold a torn first record after a checkpoint (an empty chain, a torn tail)? */
static int torn_first_record(struct snap_sim *img)
{
    struct snap_backend *be;
    REQUIRE_OK(snap_backend_sim_open(img, DATA, 0, &be));
    struct snap_log_header lh;
    struct snap_log_chain c = {0};
    int rc = snap_log_header_read(be, &lh);
    if (rc == 0)
        rc = snap_log_walk(be, &lh, NULL, NULL, &c);
    snap_be_close(be);
    return rc == 0 && c.records == 0 && c.torn_tail;
}

static void check_first(struct harness *h, struct snap_sim *img, uint64_t mask, void *arg)
{
    (void)arg;
    h->first_crashes++;
    h->first_mask = mask;
    int torn = torn_first_record(img);
    h->torn_first += torn;
    struct snap_sim *copy = snap_sim_crash_image(img, NULL);
    REQUIRE(copy);
    struct state got = {0};
    int rc = recover_image(copy, &got);
    snap_sim_free(copy);
    if (rc || (!state_equals(&h->before, got.bytes, got.size) &&
               !state_equals(&h->attempt, got.bytes, got.size))) {
        fprintf(stderr, "seed %llu: first crash (subset 0x%llx) recovered to rc %d (%s), neither "
                        "the acknowledged state nor the attempt\n",
                (unsigned long long)h->seed, (unsigned long long)mask, rc, snap_strerror(rc));
        test_failures++;
    } else {
        /* A crashed recovery multiplies the second phase by its own crash images: every torn
         * first record (the case this test is for) gets it, other images one time in four. */
        second_phase(h, img, &got, torn || mask == 0 || test_rng_below(&h->rng, 4) == 0, 2);
    }
    free(got.bytes);
}

static void on_first_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    (void)file;
    each_crash_image(arg, sim, 0, check_first, NULL);
}

static void run_workload(struct harness *h, uint64_t seed)
{
    struct plan pl;
    make_plan(&pl, seed);
    h->plan = &pl;
    h->seed = seed;
    test_rng_seed(&h->rng, seed);
    snap_commit_defer_apply = (seed / 4) % 2 ? 0 : 1;
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    snap_options o = {
        .flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
        .size = pl.size,
        .max_size = pl.size,
        .log_capacity = 4096,
    };
    snap_region *r;
    REQUIRE_OK(snap_open_sim(DATA, &o, sim, &r));
    struct second start = {.h = h};
    msync_step(&start, r, &pl.init, "start");
    REQUIRE_OK(snap_close(r)); /* a checkpoint: the attempt goes to an empty log */
    o.flags = SNAP_NO_CONCURRENT_WRITERS;
    o.size = 0;
    REQUIRE_OK(snap_open_sim(DATA, &o, sim, &r));
    if (pl.has_pre)
        msync_step(&start, r, &pl.pre, "pre");
    state_set(&h->before, snap_base(r), snap_size(r));
    uint8_t *b = snap_base(r);
    apply_pokes(b, &pl.attempt);
    for (int i = 0; i < pl.attempt.n; i++)
        CHECK_RC(snap_track(r, b + pl.attempt.p[i].off, 1), 0);
    state_set(&h->attempt, b, snap_size(r));
    snap_sim_on_barrier(sim, on_first_barrier, h);
    CHECK_RC(snap_msync(r), 0);
    snap_sim_on_barrier(sim, NULL, NULL);
    CHECK_RC(snap_close(r), 0);
    snap_sim_free(sim);
    free(start.acked.bytes);
    free(start.inflight.bytes);
}

int main(void)
{
    struct harness h = {
        .exhaustive_bits = (unsigned)test_env_long("SNAPSHOT_EXHAUSTIVE_BITS", 8),
        .random_subsets = (unsigned)test_env_long("SNAPSHOT_RANDOM_SUBSETS", 16),
        .max_crashes = (unsigned)test_env_long("SNAPSHOT_COMPOSED_CRASHES", 2),
    };
    /* SNAPSHOT_SEEDS sizes test_power_loss per build (scripts/test); a composed workload costs
     * about three of its workloads. At least one workload per kind of retry. */
    long dflt = test_env_long("SNAPSHOT_SEEDS", 4 * 56) / 4;
    long seeds = test_env_long("SNAPSHOT_COMPOSED_SEEDS", dflt > NKINDS ? dflt : NKINDS);
    uint64_t first = (uint64_t)test_env_long("SNAPSHOT_SEED", 1);
    int torn_possible = 0;
    for (long s = 0; s < seeds; s++) {
        uint64_t seed = first + (uint64_t)s;
        torn_possible |= seed % 2 == 0; /* no record before the attempt */
        run_workload(&h, seed);
        if (seeds >= 50 && (s + 1) % (seeds / 10) == 0)
            fprintf(stderr, "composed crashes: %ld/%ld workloads, %llu composed crash states\n",
                    s + 1, seeds, (unsigned long long)h.composed);
    }
    if (h.failed)
        fprintf(stderr, "composed crashes: %llu states recovered wrongly, %llu of them to the first "
                        "crash's unacknowledged attempt\n",
                (unsigned long long)h.failed, (unsigned long long)h.replayed_attempt);
    printf("composed crashes: %ld workloads, %llu composed crash states checked (%llu acked, %llu "
           "in-flight), after %llu first crashes (%llu tore the first record after a checkpoint) "
           "and %llu crashed recoveries; chains of up to %u crashes, %llu states after a third "
           "or later one\n",
           seeds, (unsigned long long)h.composed, (unsigned long long)h.matched_acked,
           (unsigned long long)h.matched_inflight, (unsigned long long)h.first_crashes,
           (unsigned long long)h.torn_first, (unsigned long long)h.recovery_crashes,
           h.max_crashes, (unsigned long long)h.deeper);
    CHECK(h.composed > 0 && h.matched_acked > 0 && h.matched_inflight > 0);
    CHECK(h.max_crashes < 3 || h.deeper > 0);
    CHECK(!torn_possible || h.torn_first > 0); /* the workloads reach the case they are for */
    free(h.before.bytes);
    free(h.attempt.bytes);
    return test_done("test_composed_crash", (int)h.composed);
}
