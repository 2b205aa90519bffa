/* bench_group_commit.c — several threads calling snap_msync() on one region on the disk: how many
 * msyncs per second, and how many commits (device flushes) they took. Each thread stores into its
 * own lines and commits after every store, with no lock around the msync (concurrent writers, the
 * default mode). One thread pays one flush per msync; with more, callers that arrive while a
 * flush is in flight share the next one, and the leader gathers (commit.c, GROUP COMMIT).
 *   bench_group_commit [DISK_DIR]   (BENCH_REPS runs per thread count, default 5; BENCH_QUICK)
 */
#include "bench_util.h" /* first: it defines _GNU_SOURCE */

#include <pthread.h>

#define MAX_THREADS 4

struct run {
    snap_region *r;
    int threads, msyncs;
    struct bench_samples lat[MAX_THREADS];
};

struct worker {
    struct run *run;
    int id;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    uint8_t *base = snap_base(run->r);
    for (int i = 0; i < run->msyncs; i++) {
        /* Own lines only: line = thread + threads * k, over 64 KiB. */
        uint64_t off = ((uint64_t)(w->id + run->threads * (i % 256)) * 64) % (64u << 10);
        uint64_t t0 = bench_now_ns();
        *(volatile uint64_t *)(base + off) = (uint64_t)i;
        BENCH_CHECK(snap_track(run->r, base + off, 8));
        BENCH_CHECK(snap_msync(run->r));
        bench_add(&run->lat[w->id], bench_now_ns() - t0);
    }
    return NULL;
}

/* One run: returns msyncs per second; *commits gets the commits it took. */
static double one_run(const char *dir, int threads, int msyncs, struct bench_samples *all,
                      uint64_t *commits)
{
    char *path = bench_path(dir, "group_commit");
    snap_options o = {.flags = SNAP_CREATE | SNAP_EXCL, .size = 1u << 20};
    struct run run = {.threads = threads, .msyncs = msyncs};
    BENCH_CHECK(snap_open(path, &o, &run.r));
    pthread_t tid[MAX_THREADS];
    struct worker w[MAX_THREADS];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){.run = &run, .id = i};
        if (pthread_create(&tid[i], NULL, work, &w[i]))
            bench_die("pthread_create", EAGAIN);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    snap_stats st;
    BENCH_CHECK(snap_stats_get(run.r, &st));
    *commits = st.commits;
    for (int i = 0; i < threads; i++) {
        for (size_t k = 0; k < run.lat[i].n; k++)
            bench_add(all, run.lat[i].v[k]);
        free(run.lat[i].v);
    }
    BENCH_CHECK(snap_close(run.r));
    bench_unlink_region(path);
    free(path);
    return (double)threads * msyncs / secs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *dir = bench_disk_dir(argc, argv);
    int reps = bench_reps(5), msyncs = getenv("BENCH_QUICK") ? 100 : 1000;
    double one = 0;
    printf("%-8s %12s %18s %12s %10s\n", "threads", "msyncs/s", "commits/msync", "median us", "vs 1");
    for (int threads = 1; threads <= MAX_THREADS; threads *= 2) {
        double rate[64];
        uint64_t commits = 0, total = 0;
        struct bench_samples all = {0};
        for (int k = 0; k < reps && k < 64; k++) {
            uint64_t c;
            rate[k] = one_run(dir, threads, msyncs, &all, &c);
            commits += c;
            total += (uint64_t)threads * msyncs;
        }
        int n = reps < 64 ? reps : 64;
        qsort(rate, (size_t)n, sizeof rate[0], cmp_double);
        double med = rate[n / 2];
        if (threads == 1)
            one = med;
        struct bench_stats st = bench_stats(&all);
        char cas[32];
        snprintf(cas, sizeof cas, "threads-%d", threads);
        printf("%-8d %12.0f %18.2f %12.1f %9.2fx\n", threads, med, (double)commits / total,
               st.median_us, med / one);
        bench_csv("group_commit", "disk", cas, "msyncs-per-s", &st, med);
        bench_csv("group_commit", "disk", cas, "commits-per-msync", NULL,
                  (double)commits / total);
        free(all.v);
    }
    return 0;
}
