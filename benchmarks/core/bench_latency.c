/* bench_latency.c — commit latency of snap_msync() for 1, 16, 256 and 4096 dirty lines, next to
 * the peers that give the same guarantee.
 *
 * Each commit writes N distinct random 64-byte lines of a 64 MiB region (64 bytes each) and makes
 * them durable atomically. Timed: from the first store to the return of the commit, for every
 * contestant (so Snapshot's stores and tracking are inside the time, as libpmemobj's add_range is);
 * Snapshot's snap_msync() alone is reported as an extra row (snapshot-msync).
 *
 *   pmem  (emulated: /dev/shm, PMEM_IS_PMEM_FORCE=1)
 *         snapshot       SNAP_BACKEND_PMEM, default flags (msync issues membarrier)
 *         snapshot-nocw  same, opened with SNAP_NO_CONCURRENT_WRITERS (nocw-msync: its msync alone)
 *         pmemobj        libpmemobj transaction: TX_BEGIN; per line pmemobj_tx_add_range(64) and
 *                        the 64-byte store; TX_END — random lines of a 64 MiB root object (each
 *                        contestant draws its own lines, from the same distribution)
 *         Goal: snapshot >= 3x faster than pmemobj at 1 line, >= 2x at 16.
 *   disk  (a directory on the real disk: argv[1], $BENCH_DISK_DIR, else ./bench-tmp)
 *         snapshot       SNAP_BACKEND_FILE, default flags
 *         pwrite         the device-flush floor: ONE pwrite of the N*64 bytes as one contiguous
 *                        buffer at a random 64-byte-aligned offset of a fully written (not merely
 *                        fallocated) 64 MiB file, then fdatasync
 *         Goal: snap_msync() within 1.2x of pwrite + fdatasync. The floor starts from bytes already
 *         in a buffer, so its counterpart is the msync alone; stores + msync is reported too.
 *
 * Before timing, every page of every file is touched and Snapshot's 64 MiB log is filled once
 * (commits of 4096 lines until it wraps), so the numbers are steady state rather than the first
 * minutes after creating a region ($BENCH_LOG_WARM=0 skips the log fill).
 * Contestants alternate within each repetition, cycling through every order.
 * Env: BENCH_REPS (pmem repetitions per N, default 10000; disk uses a fifth; N=4096 half of each),
 * BENCH_QUICK, BENCH_CSV, BENCH_DISK_DIR; for profiling BENCH_ONLY=pmem|disk, BENCH_LINES=1,16.
 */
#include "bench_util.h"

#include <fcntl.h>
#include <libpmemobj.h>

#define REGION (64ull << 20)
#define NLINES (REGION / 64)
#define MAXN 4096

static const int sizes[] = {1, 16, 256, 4096};
#define NSIZES 4
#define WARM_ITERS 10 /* untimed iterations at the start of each size */

static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

static uint64_t lines[MAXN];
static uint8_t pattern[64];

/* ---- Snapshot ---------------------------------------------------------------------------------- */

static snap_region *open_snap(const char *path, uint32_t flags, enum snap_backend_kind kind)
{
    snap_options o = {.flags = SNAP_CREATE | flags, .backend = kind, .size = REGION};
    snap_region *r;
    BENCH_CHECK(snap_open(path, &o, &r));
    return r;
}

static void snap_store_lines(snap_region *r, int n)
{
    uint8_t *base = snap_base(r);
    for (int i = 0; i < n; i++) {
        uint8_t *p = base + lines[i] * 64;
        memcpy(p, pattern, 64);
        snap_hook_store(p, 64);
    }
}

/* Returns the total time; *msync_ns gets the msync alone. */
static uint64_t run_snap(snap_region *r, int n, uint64_t *msync_ns)
{
    uint64_t t0 = bench_now_ns();
    snap_store_lines(r, n);
    uint64_t t1 = bench_now_ns();
    BENCH_CHECK(snap_msync(r));
    uint64_t t2 = bench_now_ns();
    if (msync_ns)
        *msync_ns = t2 - t1;
    return t2 - t0;
}

/* Touch every page, then commit until the log has wrapped once. */
static void warm_snap(snap_region *r, int fill_log, uint64_t *seed)
{
    uint8_t *base = snap_base(r);
    for (uint64_t off = 0; off < REGION; off += 4096) {
        base[off] ^= 1;
        snap_hook_store(base + off, 1);
    }
    BENCH_CHECK(snap_msync(r));
    snap_stats st;
    BENCH_CHECK(snap_stats_get(r, &st));
    uint64_t c0 = st.checkpoints;
    for (int i = 0; fill_log && i < 100000; i++) {
        bench_distinct_lines(lines, MAXN, NLINES, seed);
        run_snap(r, MAXN, NULL);
        BENCH_CHECK(snap_stats_get(r, &st));
        if (st.checkpoints > c0)
            break;
    }
    for (int i = 0; i < 50; i++) { /* a few of each size */
        int n = sizes[i % NSIZES];
        bench_distinct_lines(lines, (size_t)n, NLINES, seed);
        run_snap(r, n, NULL);
    }
}

/* ---- libpmemobj ---------------------------------------------------------------------------------- */

struct obj {
    PMEMobjpool *pop;
    PMEMoid root;
    uint8_t *direct;
};

static void open_obj(struct obj *o, const char *path)
{
    o->pop = pmemobj_create(path, "snapbench", REGION + (96ull << 20), 0644);
    if (!o->pop) {
        fprintf(stderr, "pmemobj_create %s: %s\n", path, pmemobj_errormsg());
        exit(1);
    }
    o->root = pmemobj_root(o->pop, REGION);
    if (OID_IS_NULL(o->root)) {
        fprintf(stderr, "pmemobj_root: %s\n", pmemobj_errormsg());
        exit(1);
    }
    o->direct = pmemobj_direct(o->root);
}

static uint64_t run_obj(struct obj *o, int n)
{
    int failed = 0;
    uint64_t t0 = bench_now_ns();
    TX_BEGIN(o->pop) {
        for (int i = 0; i < n; i++) {
            uint64_t off = lines[i] * 64;
            if (pmemobj_tx_add_range(o->root, off, 64))
                pmemobj_tx_abort(EINVAL);
            memcpy(o->direct + off, pattern, 64);
        }
    } TX_ONABORT {
        failed = 1;
    } TX_END
    uint64_t t1 = bench_now_ns();
    if (failed) {
        fprintf(stderr, "pmemobj transaction aborted: %s\n", pmemobj_errormsg());
        exit(1);
    }
    return t1 - t0;
}

/* ---- bare pwrite + fdatasync ------------------------------------------------------------------ */

static int open_floor(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        bench_die(path, errno);
    /* Written, not fallocated: an fallocated extent is "unwritten", and its first write would
     * make fdatasync commit metadata as well. */
    static uint8_t buf[1 << 20];
    memset(buf, 0x5a, sizeof buf);
    for (uint64_t off = 0; off < REGION; off += sizeof buf)
        if (pwrite(fd, buf, sizeof buf, (off_t)off) != (ssize_t)sizeof buf)
            bench_die("pwrite", errno);
    if (fsync(fd))
        bench_die("fsync", errno);
    return fd;
}

static uint64_t run_floor(int fd, int n, uint64_t *seed)
{
    static uint8_t buf[MAXN * 64];
    size_t len = (size_t)n * 64;
    for (size_t i = 0; i < len; i += 64)
        memcpy(buf + i, pattern, 64);
    uint64_t off = (bench_rand(seed) % ((REGION - len) / 64 + 1)) * 64;
    uint64_t t0 = bench_now_ns();
    if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
        bench_die("pwrite", errno);
    if (fdatasync(fd))
        bench_die("fdatasync", errno);
    return bench_now_ns() - t0;
}

/* ---- reporting -------------------------------------------------------------------------------- */

static int size_selected(int n)
{
    const char *l = getenv("BENCH_LINES"); /* e.g. "1,16": a subset of the sizes (profiling) */
    if (!l || !*l)
        return 1;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    for (const char *p = l; (p = strstr(p, buf)) != NULL; p++) {
        int start = p == l || p[-1] == ',';
        char end = p[strlen(buf)];
        if (start && (end == 0 || end == ','))
            return 1;
    }
    return 0;
}

static struct bench_stats row(const char *medium, int n, const char *variant,
                              struct bench_samples *s)
{
    struct bench_stats st = bench_stats(s);
    printf("%-5s %5d  %-15s %10.2f %10.2f %10.2f %10.2f\n", medium, n, variant, st.median_us,
           st.p90_us, st.min_us, st.mean_us);
    char cas[32];
    snprintf(cas, sizeof cas, "%d-lines", n);
    bench_csv("latency", medium, cas, variant, &st, (double)st.n);
    return st;
}

static void csv_ratio(const char *medium, int n, const char *what, double ratio)
{
    char cas[32];
    snprintf(cas, sizeof cas, "%d-lines", n);
    bench_csv("latency", medium, cas, what, NULL, ratio);
}

static void ratio_row(const char *medium, int n, const char *what, double ratio, const char *goal,
                      int met)
{
    if (goal)
        printf("%-5s %5d  %-15s %10.2fx   goal %s: %s\n", medium, n, what, ratio, goal,
               met ? "met" : "MISSED");
    else
        printf("%-5s %5d  %-15s %10.2fx   (no goal)\n", medium, n, what, ratio);
    csv_ratio(medium, n, what, ratio);
}

static void header(void)
{
    printf("%-5s %5s  %-15s %10s %10s %10s %10s\n", "media", "lines", "variant", "median", "p90",
           "min", "mean");
}

/* ---- the two media ---------------------------------------------------------------------------- */

static void bench_pmem(int reps, int fill_log, uint64_t *seed)
{
    const char *shm = bench_shm_dir();
    char *p_snap = bench_path(shm, "lat-snap");
    char *p_nocw = bench_path(shm, "lat-snap-nocw");
    char *p_obj = bench_path(shm, "lat-pmemobj");
    unlink(p_obj);
    snap_region *rs = open_snap(p_snap, 0, SNAP_BACKEND_PMEM);
    snap_region *rn = open_snap(p_nocw, SNAP_NO_CONCURRENT_WRITERS, SNAP_BACKEND_PMEM);
    struct obj ob;
    open_obj(&ob, p_obj);
    warm_snap(rs, fill_log, seed);
    warm_snap(rn, fill_log, seed);

    /* snapshot, snapshot msync alone, snapshot-nocw, pmemobj, snapshot-nocw msync alone */
    struct bench_samples ps[NSIZES][5];
    memset(ps, 0, sizeof ps);
    for (int si = 0; si < NSIZES; si++) {
        /* One size at a time (libpmemobj's undo log grows for big transactions and is trimmed
         * after: mixing sizes would charge that to the small ones), contestants interleaved. */
        int n = sizes[si], nreps = n == MAXN ? (reps + 1) / 2 : reps;
        if (!size_selected(n))
            continue;
        for (int it = -WARM_ITERS; it < nreps; it++) {
            memcpy(pattern, &it, sizeof it);
            for (int k = 0; k < 3; k++) {
                /* Each contestant draws its own lines: the same offsets in regions 1 GiB apart
                 * would share cache sets and make the contestants evict each other. */
                bench_distinct_lines(lines, (size_t)n, NLINES, seed);
                /* Cycle through the 6 orders, so that each contestant follows each other one
                 * equally often (whoever runs just before evicts some of the caches and TLB). */
                int who = perms[(it + WARM_ITERS) % 6][k];
                uint64_t t, m;
                if (who == 0) {
                    t = run_snap(rs, n, &m);
                    if (it >= 0) {
                        bench_add(&ps[si][0], t);
                        bench_add(&ps[si][1], m);
                    }
                } else if (who == 1) {
                    t = run_snap(rn, n, &m);
                    if (it >= 0) {
                        bench_add(&ps[si][2], t);
                        bench_add(&ps[si][4], m);
                    }
                } else {
                    t = run_obj(&ob, n);
                    if (it >= 0)
                        bench_add(&ps[si][3], t);
                }
            }
        }
    }
    snap_close(rs);
    snap_close(rn);
    pmemobj_close(ob.pop);
    bench_unlink_region(p_snap);
    bench_unlink_region(p_nocw);
    unlink(p_obj);

    printf("bench_latency pmem (emulated, %s): commit of N random 64-byte lines in 64 MiB, us "
           "(%d reps, N=4096: %d)\n",
           shm, reps, (reps + 1) / 2);
    header();
    for (int si = 0; si < NSIZES; si++) {
        if (!size_selected(sizes[si]))
            continue;
        struct bench_stats a = row("pmem", sizes[si], "snapshot", &ps[si][0]);
        row("pmem", sizes[si], "snapshot-msync", &ps[si][1]);
        struct bench_stats b = row("pmem", sizes[si], "snapshot-nocw", &ps[si][2]);
        row("pmem", sizes[si], "nocw-msync", &ps[si][4]);
        struct bench_stats c = row("pmem", sizes[si], "pmemobj", &ps[si][3]);
        double sp = c.median_us / a.median_us;
        const char *goal = sizes[si] == 1 ? ">= 3" : sizes[si] == 16 ? ">= 2" : NULL;
        double want = sizes[si] == 1 ? 3 : sizes[si] == 16 ? 2 : 0;
        ratio_row("pmem", sizes[si], "pmemobj/snap", sp, goal, sp >= want);
        ratio_row("pmem", sizes[si], "pmemobj/nocw", c.median_us / b.median_us, goal,
                  c.median_us / b.median_us >= want);
    }
}

static void bench_disk(const char *dir, int reps, int fill_log, uint64_t *seed)
{
    char *d_snap = bench_path(dir, "lat-snap");
    char *d_floor = bench_path(dir, "lat-floor");
    snap_region *rd = open_snap(d_snap, 0, SNAP_BACKEND_FILE);
    int ffd = open_floor(d_floor);
    warm_snap(rd, fill_log, seed);
    snap_stats st0, st1;
    BENCH_CHECK(snap_stats_get(rd, &st0));

    struct bench_samples ds[NSIZES][3]; /* snapshot, snapshot msync alone, pwrite */
    memset(ds, 0, sizeof ds);
    for (int si = 0; si < NSIZES; si++) {
        int n = sizes[si], nreps = n == MAXN ? (reps + 1) / 2 : reps;
        if (!size_selected(n))
            continue;
        for (int it = -WARM_ITERS; it < nreps; it++) {
            memcpy(pattern, &it, sizeof it);
            for (int k = 0; k < 2; k++) {
                bench_distinct_lines(lines, (size_t)n, NLINES, seed);
                uint64_t t, m;
                if (((it < 0 ? -it : it) + k) % 2 == 0) {
                    t = run_snap(rd, n, &m);
                    if (it >= 0) {
                        bench_add(&ds[si][0], t);
                        bench_add(&ds[si][1], m);
                    }
                } else {
                    t = run_floor(ffd, n, seed);
                    if (it >= 0)
                        bench_add(&ds[si][2], t);
                }
            }
        }
    }
    BENCH_CHECK(snap_stats_get(rd, &st1));
    snap_close(rd);
    close(ffd);
    bench_unlink_region(d_snap);
    unlink(d_floor);

    printf("bench_latency disk (%s): commit of N random 64-byte lines in 64 MiB, us "
           "(%d reps, N=4096: %d; %llu checkpoints while timing)\n",
           dir, reps, (reps + 1) / 2, (unsigned long long)(st1.checkpoints - st0.checkpoints));
    header();
    for (int si = 0; si < NSIZES; si++) {
        if (!size_selected(sizes[si]))
            continue;
        struct bench_stats a = row("disk", sizes[si], "snapshot", &ds[si][0]);
        struct bench_stats m = row("disk", sizes[si], "snapshot-msync", &ds[si][1]);
        struct bench_stats c = row("disk", sizes[si], "pwrite", &ds[si][2]);
        /* The floor starts from bytes already in a buffer: its counterpart is the msync alone. */
        double r = m.median_us / c.median_us;
        ratio_row("disk", sizes[si], "msync/pwrite", r, "<= 1.2", r <= 1.2);
        r = a.median_us / c.median_us;
        printf("%-5s %5d  %-15s %10.2fx   (stores + msync; no goal)\n", "disk", sizes[si],
               "total/pwrite", r);
        csv_ratio("disk", sizes[si], "total/pwrite", r);
        if (sizes[si] == 1)
            bench_disk_contention_check(&c, "pwrite + fdatasync of 64 bytes");
    }
}

int main(int argc, char **argv)
{
    bench_force_pmem(); /* before the first libpmem / libpmemobj call */
    int reps = bench_reps(10000);
    int disk_reps = reps / 5 > 5 ? reps / 5 : 5;
    const char *lw = getenv("BENCH_LOG_WARM");
    int fill_log = !(lw && strcmp(lw, "0") == 0);
    const char *only = getenv("BENCH_ONLY"); /* "pmem" or "disk": one medium (profiling) */
    uint64_t seed = 0x243f6a8885a308d3ull;
    if (!only || !*only || strcmp(only, "pmem") == 0)
        bench_pmem(reps, fill_log, &seed);
    if (!only || !*only || strcmp(only, "disk") == 0)
        bench_disk(bench_disk_dir(argc, argv), disk_reps, fill_log, &seed);
    return 0;
}
