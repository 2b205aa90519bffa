/* race_at_return.h — durability at msync return, checked while other threads keep marking lines.
 *
 * The conformance race for every marker (the C hook, snap_track(), plugin-instrumented stores; the
 * Java accessors have the same test in ConcurrencyTest). A checker thread stores a sequence number
 * into line X, calls snap_msync() and, as soon as it returns 0, reads X back from the data file
 * through its own descriptor (the file back end applies a record before msync returns): it must
 * hold the number just stored. Meanwhile noise threads store without pause into other lines that
 * share X's dirty-map words at one level:
 *   line   another 8 bytes of X's own line (X's bit may have been set by a marker still climbing)
 *   4k     other lines of X's level-0 word (64 lines)
 *   256k   lines of other level-0 words under X's level-1 word
 *   16m    lines under X's level-2 word
 * After every collection the noise threads turn those words from zero to non-zero again, so the
 * checker's marker keeps meeting words whose summary bits a preempted marker has yet to set. A
 * collector that trusted the summary would return 0 without X (issue 11: 6,192 of 167,000 msyncs).
 *
 * The including file defines race_store(uint64_t *p, uint64_t v): a store and its marking (of
 * race_region's line). Header only, C; used by native/tests/test_durable_at_return.c and llvm-pass/test/e2e/durable_at_return.c.
 */
#ifndef SNAPSHOT_RACE_AT_RETURN_H
#define SNAPSHOT_RACE_AT_RETURN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <snapshot.h>

static void race_store(uint64_t *p, uint64_t v);
static snap_region *race_region; /* the region being raced on, for markers that need it */

#define RACE_NOISE_THREADS 4
#define RACE_REGION (32u << 20) /* X's level-2 word covers the first 16 MiB */

struct race_scope {
    const char *name;
    uint64_t stride; /* noise thread k stores at (k + 1) * stride and 4 strides further */
};

static const struct race_scope race_scopes[] = {
    {"line", 8}, {"4k", 64}, {"256k", 4096}, {"16m", 256u << 10},
};

struct race_noise {
    uint8_t *base;
    uint64_t off;
    uint64_t stride;
    volatile int *stop;
};

static void *race_noise_main(void *arg)
{
    struct race_noise *n = arg;
    uint64_t v = 0;
    while (!__atomic_load_n(n->stop, __ATOMIC_RELAXED)) {
        /* Two neighbours, so a word is sometimes turned non-zero by one marker and found non-zero
         * by the other. */
        race_store((uint64_t *)(n->base + n->off), ++v);
        race_store((uint64_t *)(n->base + n->off + (n->stride == 8 ? 24 : 4 * n->stride)), v);
    }
    return NULL;
}

struct race_result {
    uint64_t msyncs, violations, failures;
};

/* Run `msyncs` checked msyncs for one scope on the region r (file back end) whose data file is
 * `path`. */
static struct race_result race_run(snap_region *r, const char *path, const struct race_scope *s,
                                   uint64_t msyncs)
{
    struct race_result res = {0, 0, 0};
    uint8_t *base = snap_base(r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        res.failures++;
        return res;
    }
    volatile int stop = 0;
    pthread_t th[RACE_NOISE_THREADS];
    struct race_noise noise[RACE_NOISE_THREADS];
    for (int k = 0; k < RACE_NOISE_THREADS; k++) {
        noise[k] = (struct race_noise){base, (uint64_t)(k + 1) * s->stride, s->stride, &stop};
        if (pthread_create(&th[k], NULL, race_noise_main, &noise[k])) {
            fprintf(stderr, "pthread_create failed\n");
            exit(2);
        }
    }
    uint64_t *x = (uint64_t *)base;
    static uint64_t seq; /* across scopes and regions: a stale value never matches */
    for (uint64_t i = 0; i < msyncs; i++) {
        uint64_t want = ++seq;
        race_store(x, want);
        int rc = snap_msync(r);
        uint64_t got = 0;
        if (rc) {
            fprintf(stderr, "%s: snap_msync: %s\n", s->name, snap_strerror(rc));
            res.failures++;
            break;
        }
        res.msyncs++;
        if (pread(fd, &got, sizeof got, 0) != (ssize_t)sizeof got) {
            perror("pread");
            res.failures++;
            break;
        }
        if (got != want && res.violations++ < 3)
            fprintf(stderr, "%s: msync %llu returned 0 but the data file holds %llu, not %llu\n",
                    s->name, (unsigned long long)i, (unsigned long long)got,
                    (unsigned long long)want);
    }
    stop = 1;
    for (int k = 0; k < RACE_NOISE_THREADS; k++)
        pthread_join(th[k], NULL);
    close(fd);
    return res;
}

/* Every scope on a fresh region at `path` (file back end), msyncs_per_scope each. Prints one line
 * per scope and returns the number of violations plus failures. */
static uint64_t race_all_scopes(const char *label, const char *path, uint64_t msyncs_per_scope)
{
    uint64_t bad = 0, total = 0, violations = 0;
    for (size_t i = 0; i < sizeof race_scopes / sizeof race_scopes[0]; i++) {
        char log[600];
        snprintf(log, sizeof log, "%s.snaplog", path);
        unlink(path);
        unlink(log);
        snap_options o;
        memset(&o, 0, sizeof o);
        o.flags = SNAP_CREATE;
        o.backend = SNAP_BACKEND_FILE;
        o.size = RACE_REGION;
        snap_region *r;
        int rc = snap_open(path, &o, &r);
        if (rc) {
            fprintf(stderr, "%s: snap_open: %s\n", path, snap_strerror(rc));
            return bad + 1;
        }
        __atomic_store_n(&race_region, r, __ATOMIC_RELEASE); /* before the noise threads start */
        struct race_result res = race_run(r, path, &race_scopes[i], msyncs_per_scope);
        rc = snap_close(r);
        if (rc) {
            fprintf(stderr, "snap_close: %s\n", snap_strerror(rc));
            res.failures++;
        }
        printf("%s %s: %llu msyncs checked at return, %llu violations\n", label,
               race_scopes[i].name, (unsigned long long)res.msyncs,
               (unsigned long long)res.violations);
        total += res.msyncs;
        violations += res.violations;
        bad += res.violations + res.failures;
    }
    printf("%s: %llu msyncs checked at return with %d noise threads, %llu violations\n", label,
           (unsigned long long)total, RACE_NOISE_THREADS, (unsigned long long)violations);
    fflush(stdout);
    return bad;
}

#endif /* SNAPSHOT_RACE_AT_RETURN_H */
