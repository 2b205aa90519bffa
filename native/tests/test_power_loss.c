/* test_power_loss.c — simulated power loss at every barrier, with every (or a random) subset of the
 * unflushed lines lost; recovery must yield the last committed state or the in-flight one.
 *
 * A seeded random workload (writes of random sizes, growth, msyncs; a tiny log so checkpoints and
 * log growth happen often) runs on the power-loss simulator. At every barrier, before it makes
 * anything durable, the test builds crash images: the media plus a subset of the pending lines —
 * all 2^n subsets when n <= SNAPSHOT_EXHAUSTIVE_BITS, else random ones. Each image is recovered by
 * snap_open() and compared byte for byte (and in size) with the two acceptable states. For a sample
 * of images, recovery itself is crashed at each of its barriers, and the second recovery must reach
 * the same state as the undisturbed one.
 *
 * Environment: SNAPSHOT_SEEDS (workloads, default 12), SNAPSHOT_SEED (first seed),
 * SNAPSHOT_OPS (operations per workload, default 60), SNAPSHOT_EXHAUSTIVE_BITS (default 8),
 * SNAPSHOT_RANDOM_SUBSETS (default 24). Prints the number of crash states checked. Odd seeds use
 * the streaming commit path (see snap_commit_stream_min); seeds 2 and 3 modulo 4 apply a record
 * right after the barrier that makes its mark durable (files'), the others one commit later (PM's;
 * see snap_commit_defer_apply).
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "region.h"
#include "sim.h"
#include "testkit.h"
#include "crash_state.h"
#include "test_util.h"

#define MAX_SIZE (256u << 10)

struct harness {
    struct test_rng rng;
    struct state committed;  /* after the last msync that returned 0 */
    struct state inflight;   /* what the msync in progress commits; size 0 when none */
    int in_recovery_check;   /* nested: we are recovering a crash image */
    unsigned exhaustive_bits, random_subsets;
    uint64_t states_checked, nested_checked, seed;
    uint64_t matched_old, matched_new;
};

static const char *DATA = "region";

/* Recover a crash image; return 0 and fill *out with its state, or the error. */
static int recover_image(struct snap_sim *img, struct state *out)
{
    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS};
    snap_region *r;
    int rc = snap_open_sim(DATA, &o, img, &r);
    if (rc)
        return rc;
    state_set(out, snap_base(r), snap_size(r));
    rc = snap_close(r);
    return rc;
}

struct nested {
    struct harness *h;
    const struct state *expect;
};

/* Barrier callback while recovering a crash image: crash the recovery here, recover again. */
static void on_recovery_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    struct nested *n = arg;
    size_t pending = snap_sim_pending(sim);
    uint8_t *keep = calloc(pending ? pending : 1, 1);
    REQUIRE(keep);
    for (int variant = 0; variant < 3; variant++) {
        for (size_t i = 0; i < pending; i++)
            keep[i] = variant == 0 ? 0 : variant == 1 ? 1 : (uint8_t)(test_rng_next(&n->h->rng) & 1);
        struct snap_sim *img = snap_sim_crash_image(sim, keep);
        REQUIRE(img);
        struct state got = {0};
        int rc = recover_image(img, &got);
        if (rc || !state_equals(n->expect, got.bytes, got.size)) {
            fprintf(stderr, "seed %llu: crash during recovery (barrier on %s, variant %d) then "
                            "recovery gave rc %d (%s), size %llu; wanted size %llu\n",
                    (unsigned long long)n->h->seed, file, variant, rc, snap_strerror(rc),
                    (unsigned long long)got.size, (unsigned long long)n->expect->size);
            test_failures++;
        }
        free(got.bytes);
        snap_sim_free(img);
        n->h->nested_checked++;
    }
    free(keep);
}

static void check_image(struct harness *h, struct snap_sim *img, int nest)
{
    struct state got = {0};
    struct snap_sim *copy = nest ? snap_sim_crash_image(img, NULL) : NULL;
    int rc = recover_image(img, &got);
    h->states_checked++;
    int old_ok = !rc && state_equals(&h->committed, got.bytes, got.size);
    int new_ok = !rc && h->inflight.size && state_equals(&h->inflight, got.bytes, got.size);
    if (!old_ok && !new_ok) {
        fprintf(stderr, "seed %llu: crash state %llu recovered to rc %d (%s) size %llu; wanted "
                        "committed size %llu or in-flight size %llu\n",
                (unsigned long long)h->seed, (unsigned long long)h->states_checked, rc,
                snap_strerror(rc), (unsigned long long)got.size,
                (unsigned long long)h->committed.size, (unsigned long long)h->inflight.size);
        test_failures++;
    }
    h->matched_old += old_ok;
    h->matched_new += new_ok && !old_ok;
    if (copy && (old_ok || new_ok)) {
        struct nested n = {h, &got};
        snap_sim_on_barrier(copy, on_recovery_barrier, &n);
        struct state again = {0};
        rc = recover_image(copy, &again);
        if (rc || !state_equals(&got, again.bytes, again.size)) {
            fprintf(stderr, "seed %llu: recovery is not deterministic (rc %d)\n",
                    (unsigned long long)h->seed, rc);
            test_failures++;
        }
        free(again.bytes);
    }
    if (copy)
        snap_sim_free(copy);
    free(got.bytes);
}

/* Barrier callback of the workload: every crash state this barrier could leave. */
static void on_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    struct harness *h = arg;
    size_t pending = snap_sim_pending(sim);
    uint8_t *keep = calloc(pending ? pending : 1, 1);
    REQUIRE(keep);
    if (pending <= h->exhaustive_bits) {
        for (uint64_t mask = 0; mask < (1ull << pending); mask++) {
            for (size_t i = 0; i < pending; i++)
                keep[i] = (mask >> i) & 1;
            struct snap_sim *img = snap_sim_crash_image(sim, keep);
            REQUIRE(img);
            check_image(h, img, mask == 0 || test_rng_below(&h->rng, 16) == 0);
            snap_sim_free(img);
        }
    } else {
        for (unsigned t = 0; t < h->random_subsets + 2; t++) {
            for (size_t i = 0; i < pending; i++)
                keep[i] = t == 0 ? 0 : t == 1 ? 1 : (uint8_t)(test_rng_next(&h->rng) & 1);
            struct snap_sim *img = snap_sim_crash_image(sim, keep);
            REQUIRE(img);
            check_image(h, img, t < 2 || test_rng_below(&h->rng, 16) == 0);
            snap_sim_free(img);
        }
    }
    free(keep);
}

static void run_workload(struct harness *h, uint64_t seed, long ops)
{
    test_rng_seed(&h->rng, seed);
    h->seed = seed;
    /* Odd seeds stream every record of more than 256 bytes to the log in odd-sized pieces, so the
     * streaming commit path (large commits) meets the same crash states as the staged one. */
    snap_commit_stream_min = seed % 2 ? 256 : (size_t)8 << 20;
    snap_commit_piece = 64 + (size_t)(seed % 193);
    snap_commit_defer_apply = seed % 4 >= 2 ? 0 : 1;
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    uint64_t size = 64 * (1 + test_rng_below(&h->rng, 64)) + test_rng_below(&h->rng, 64);
    snap_options o = {
        .flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
        .size = size,
        .max_size = MAX_SIZE,
        .log_capacity = 4096,
    };
    snap_region *r;
    REQUIRE_OK(snap_open_sim(DATA, &o, sim, &r));
    uint8_t *base = snap_base(r);
    state_set(&h->committed, base, size);
    h->inflight.size = 0;
    snap_sim_on_barrier(sim, on_barrier, h);

    for (long op = 0; op < ops; op++) {
        uint64_t kind = test_rng_below(&h->rng, 100);
        if (kind < 70) { /* a write of 1..300 bytes, or a run of whole lines */
            uint64_t len = 1 + test_rng_below(&h->rng, kind < 10 ? 2048 : 300);
            if (len > size)
                len = size;
            uint64_t off = test_rng_below(&h->rng, size - len + 1);
            for (uint64_t i = 0; i < len; i++)
                base[off + i] = (uint8_t)test_rng_next(&h->rng);
            CHECK_RC(snap_track(r, base + off, len), 0);
        } else if (kind < 74 && size < MAX_SIZE - 8192) {
            uint64_t grown = size + 1 + test_rng_below(&h->rng, 8192);
            CHECK_RC(snap_grow(r, grown), 0);
            size = grown;
        } else {
            state_set(&h->inflight, base, size);
            CHECK_RC(snap_msync(r), 0);
            state_set(&h->committed, base, size);
            h->inflight.size = 0;
        }
    }
    state_set(&h->inflight, base, size);
    CHECK_RC(snap_msync(r), 0);
    state_set(&h->committed, base, size);
    h->inflight.size = 0;
    CHECK_RC(snap_close(r), 0); /* its checkpoint's barriers are crash points too */

    /* And the clean path: reopening gives the last committed state. */
    struct snap_sim *after = snap_sim_crash_image(sim, NULL);
    struct state got = {0};
    CHECK_RC(recover_image(after, &got), 0);
    CHECK(state_equals(&h->committed, got.bytes, got.size));
    free(got.bytes);
    snap_sim_free(after);
    snap_sim_free(sim);
}

int main(void)
{
    struct harness h = {
        .exhaustive_bits = (unsigned)test_env_long("SNAPSHOT_EXHAUSTIVE_BITS", 8),
        .random_subsets = (unsigned)test_env_long("SNAPSHOT_RANDOM_SUBSETS", 24),
    };
    long seeds = test_env_long("SNAPSHOT_SEEDS", 12), ops = test_env_long("SNAPSHOT_OPS", 60);
    uint64_t first = (uint64_t)test_env_long("SNAPSHOT_SEED", 1);
    for (long s = 0; s < seeds; s++) {
        run_workload(&h, first + (uint64_t)s, ops);
        if (seeds >= 50 && (s + 1) % (seeds / 10) == 0)
            fprintf(stderr, "power loss: %ld/%ld workloads, %llu crash states checked\n", s + 1,
                    seeds, (unsigned long long)h.states_checked);
    }
    printf("power loss: %ld workloads, %llu crash states checked (%llu recovered the committed "
           "state, %llu the in-flight one), %llu crashes during recovery checked\n",
           seeds, (unsigned long long)h.states_checked, (unsigned long long)h.matched_old,
           (unsigned long long)h.matched_new, (unsigned long long)h.nested_checked);
    CHECK(h.states_checked > 0 && h.matched_new > 0 && h.matched_old > 0);
    free(h.committed.bytes);
    free(h.inflight.bytes);
    return test_done("test_power_loss", (int)h.states_checked);
}
