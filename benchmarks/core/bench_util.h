/* bench_util.h — shared helpers of the core benchmarks: timing, sample statistics (median, p90,
 * min), repetition counts from the environment, the random generator, temporary directories, and
 * the CSV lines appended to $BENCH_CSV:
 *   benchmark,medium,case,variant,median_us,p90_us,min_us,ratio_or_value
 * Header-only (static functions): each benchmark is one .c file.
 */
#ifndef SNAPSHOT_BENCH_UTIL_H
#define SNAPSHOT_BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <snapshot.h>

#define BENCH_TMPFS_MAGIC 0x01021994

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, rc < 0 ? snap_strerror(rc) : strerror(rc));
    exit(1);
}

#define BENCH_CHECK(call)                                                                          \
    do {                                                                                           \
        int bench_rc_ = (call);                                                                    \
        if (bench_rc_)                                                                             \
            bench_die(#call, bench_rc_);                                                           \
    } while (0)

/* Repetitions: $BENCH_REPS if set (> 0), else `dflt` (scaled by $BENCH_QUICK: reps / 10, >= 5). */
static inline int bench_reps(int dflt)
{
    const char *s = getenv("BENCH_REPS");
    if (s && atoi(s) > 0)
        return atoi(s);
    s = getenv("BENCH_QUICK");
    if (s && *s && strcmp(s, "0") != 0) {
        dflt /= 10;
        if (dflt < 5)
            dflt = 5;
    }
    return dflt;
}

/* xorshift64*: cheap, reproducible. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Samples in nanoseconds. */
struct bench_samples {
    uint64_t *v;
    size_t n, cap;
};

static inline void bench_add(struct bench_samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            bench_die("realloc", ENOMEM);
    }
    s->v[s->n++] = ns;
}

static int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct bench_stats {
    double median_us, p90_us, min_us, mean_us;
    size_t n;
};

static inline struct bench_stats bench_stats(struct bench_samples *s)
{
    struct bench_stats r = {0};
    if (!s->n)
        return r;
    qsort(s->v, s->n, sizeof *s->v, bench_cmp_u64);
    size_t n = s->n;
    double med = n % 2 ? (double)s->v[n / 2] : ((double)s->v[n / 2 - 1] + (double)s->v[n / 2]) / 2;
    size_t i90 = (n * 9 + 9) / 10; /* nearest rank */
    if (i90 > 0)
        i90--;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)s->v[i];
    r.median_us = med / 1e3;
    r.p90_us = (double)s->v[i90] / 1e3;
    r.min_us = (double)s->v[0] / 1e3;
    r.mean_us = sum / (double)n / 1e3;
    r.n = n;
    return r;
}

static inline void bench_csv(const char *bench, const char *medium, const char *cas,
                             const char *variant, const struct bench_stats *st, double value)
{
    const char *path = getenv("BENCH_CSV");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "BENCH_CSV %s: %s\n", path, strerror(errno));
        return;
    }
    char v[48]; /* sizes and counts exactly, ratios and rates to 4 decimals */
    if (value == (double)(uint64_t)value)
        snprintf(v, sizeof v, "%llu", (unsigned long long)value);
    else
        snprintf(v, sizeof v, "%.4f", value);
    if (st)
        fprintf(f, "%s,%s,%s,%s,%.3f,%.3f,%.3f,%s\n", bench, medium, cas, variant, st->median_us,
                st->p90_us, st->min_us, v);
    else
        fprintf(f, "%s,%s,%s,%s,,,,%s\n", bench, medium, cas, variant, v);
    fclose(f);
}

/* Emulated persistent memory: libpmem reads PMEM_IS_PMEM_FORCE at its first call, so set it
 * before anything else runs. */
static inline void bench_force_pmem(void)
{
    setenv("PMEM_IS_PMEM_FORCE", "1", 1);
}

/* The directory for emulated-PM files: $BENCH_SHM_DIR or /dev/shm. */
static inline const char *bench_shm_dir(void)
{
    const char *d = getenv("BENCH_SHM_DIR");
    return d && *d ? d : "/dev/shm";
}

/* The directory for disk files: argv[1] if given, else $BENCH_DISK_DIR, else ./bench-tmp. Created
 * if missing; a warning if it is on tmpfs (then "disk" numbers would measure memory). */
static inline const char *bench_disk_dir(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : getenv("BENCH_DISK_DIR");
    if (!d || !*d)
        d = "./bench-tmp";
    if (mkdir(d, 0755) && errno != EEXIST)
        bench_die(d, errno);
    struct statfs sf;
    if (statfs(d, &sf) == 0 && sf.f_type == BENCH_TMPFS_MAGIC)
        fprintf(stderr, "warning: %s is on tmpfs: the \"disk\" figures measure memory\n", d);
    return d;
}

/* "<dir>/<name>.<pid>", with any old data file and sidecar removed. Caller frees. */
static inline char *bench_path(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s.%d", dir, name, (int)getpid()) < 0)
        bench_die("asprintf", ENOMEM);
    char *log;
    if (asprintf(&log, "%s.snaplog", p) < 0)
        bench_die("asprintf", ENOMEM);
    unlink(p);
    unlink(log);
    free(log);
    return p;
}

static inline void bench_unlink_region(const char *path)
{
    char *log;
    if (asprintf(&log, "%s.snaplog", path) >= 0) {
        unlink(log);
        free(log);
    }
    unlink(path);
}

/* A device flush (fdatasync of one small write) normally takes 0.05-0.5 ms here; when another
 * process is syncing the same file system it waits for that journal commit too, and every disk
 * figure converges to the journal's period. Warn, so such a run is not read as a result. */
static inline void bench_disk_contention_check(const struct bench_stats *floor, const char *what)
{
    if (floor->median_us > 1000 || floor->p90_us > 10 * floor->min_us)
        printf("WARNING: %s: the disk is contended (median %.0f us, p90 %.0f us, min %.0f us): "
               "another process is syncing this file system; the disk ratios of this run are "
               "not meaningful — rerun on a quiet machine\n",
               what, floor->median_us, floor->p90_us, floor->min_us);
}

/* Pick n distinct line indices in [0, nlines) into out, in random order. Uses a bitmap of nlines
 * bits (kept between calls) for regions up to 2^32 lines, a linear check beyond (n small there). */
static inline void bench_distinct_lines(uint64_t *out, size_t n, uint64_t nlines, uint64_t *seed)
{
    static uint64_t *seen;
    static uint64_t seen_lines;
    if (nlines <= (1ull << 32) && nlines > seen_lines) {
        free(seen);
        seen = calloc((nlines + 63) / 64, 8);
        if (!seen)
            bench_die("calloc", ENOMEM);
        seen_lines = nlines;
    }
    int use_map = nlines <= seen_lines;
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            uint64_t l = bench_rand(seed) % nlines;
            int dup = 0;
            if (use_map) {
                dup = (int)((seen[l / 64] >> (l % 64)) & 1);
                seen[l / 64] |= 1ull << (l % 64);
            } else {
                for (size_t j = 0; j < i && !dup; j++)
                    dup = out[j] == l;
            }
            if (!dup) {
                out[i] = l;
                break;
            }
        }
    }
    if (use_map)
        for (size_t i = 0; i < n; i++)
            seen[out[i] / 64] = 0;
}

#endif /* SNAPSHOT_BENCH_UTIL_H */
