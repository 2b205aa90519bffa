/* bench_sparse.c — msync cost is O(dirty lines), not O(region size).
 *
 * Measures snap_msync() of ONE dirty 64-byte line in a 64 GiB sparse region and in a 1 MiB region,
 * on emulated persistent memory (files on /dev/shm, PMEM_IS_PMEM_FORCE=1, SNAP_BACKEND_PMEM).
 * Per iteration: store 8 bytes at a random line, snap_hook_store() it, then time snap_msync() alone.
 * Goal: median(64 GiB) / median(1 MiB) <= 1.2.
 *
 * Cases:
 *   warm  the line is drawn from a working set of 256 pages spread over the whole region, touched
 *         once before timing (for the 1 MiB region: all of it). Both regions then do the same work
 *         per msync except for anything that scales with the region: this is the goal's figure.
 *   cold  the line is anywhere in the region: in the 64 GiB region nearly every msync writes a page
 *         of the data file never touched before, so its apply step takes a page fault and tmpfs
 *         allocates and zeroes a page. Reported for honesty; it scales with new pages, not size.
 * Variants: "nocw" opens with SNAP_NO_CONCURRENT_WRITERS; "membarrier" without it (the msync then
 * issues membarrier(2)). Optionally (argv[1] / $BENCH_DISK_DIR, on by default, $BENCH_SPARSE_DISK=0
 * to skip) the warm case on a disk file with the FILE back end, where fdatasync dominates.
 * Regions are interleaved iteration by iteration, in random order.
 * If the library cannot open 64 GiB here (ENOMEM), the largest size that opens (halving) is
 * measured instead, with a message: the table names the size actually used.
 * Env: BENCH_REPS (warm and disk repetitions; default 50000 and 1000; cold: a quarter, <= 2000),
 * BENCH_QUICK, BENCH_CSV, BENCH_SPARSE_GIB (size of the big region, default 64).
 */
#include "bench_util.h"

#include <fcntl.h>

#define WORKING_PAGES 256
#define SMALL_SIZE (1ull << 20)

struct bregion {
    const char *label; /* "64GiB" / "1MiB": the size actually opened */
    char label_buf[32];
    const char *variant;
    const char *medium;
    int is_big;
    char *path;
    snap_region *r;
    uint8_t *base;
    uint64_t size;
    uint64_t pages[WORKING_PAGES]; /* warm working set, page indices */
    struct bench_samples warm, cold;
};

static void create_sparse(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        bench_die(path, errno);
    if (ftruncate(fd, (off_t)size))
        bench_die("ftruncate", errno);
    close(fd);
}

static void open_region(struct bregion *b, const char *dir, const char *name, uint64_t size,
                        uint32_t flags, enum snap_backend_kind kind, uint64_t *seed)
{
    b->path = bench_path(dir, name);
    int rc;
    for (;;) {
        /* Created sparse here and adopted by snap_open (size 0 = take the file's size): creating
         * it through SNAP_CREATE would preallocate every block (fallocate), which for 64 GiB on
         * tmpfs means 64 GiB of memory. */
        create_sparse(b->path, size);
        snap_options o = {.flags = flags, .backend = kind};
        rc = snap_open(b->path, &o, &b->r);
        if (rc != -ENOMEM || size <= (1ull << 30))
            break;
        /* The DRAM copy is a writable private mapping of the whole file; without MAP_NORESERVE
         * the kernel's overcommit heuristic refuses one larger than RAM + swap. Say so, and
         * measure the largest size that opens. */
        fprintf(stderr, "bench_sparse: snap_open of %llu GiB failed with ENOMEM (writable private "
                        "mapping larger than RAM+swap?); trying %llu GiB\n",
                (unsigned long long)(size >> 30), (unsigned long long)(size >> 31));
        bench_unlink_region(b->path);
        size >>= 1;
    }
    if (rc) {
        fprintf(stderr, "snap_open %s (%llu bytes): %s\n", b->path, (unsigned long long)size,
                snap_strerror(rc));
        bench_unlink_region(b->path);
        exit(1);
    }
    if (b->is_big)
        snprintf(b->label_buf, sizeof b->label_buf, "%lluGiB", (unsigned long long)(size >> 30));
    else
        snprintf(b->label_buf, sizeof b->label_buf, "%lluMiB", (unsigned long long)(size >> 20));
    b->label = b->label_buf;
    b->base = snap_base(b->r);
    b->size = size;
    uint64_t npages = size / 4096;
    if (npages <= WORKING_PAGES) {
        for (uint64_t i = 0; i < WORKING_PAGES; i++)
            b->pages[i] = i % npages;
    } else {
        bench_distinct_lines(b->pages, WORKING_PAGES, npages, seed);
    }
    /* Touch the working set: DRAM copy, dirty bitmap words, data-file pages, log. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < WORKING_PAGES; i++) {
            for (uint64_t l = 0; l < 4096; l += 64) {
                uint64_t *p = (uint64_t *)(b->base + b->pages[i] * 4096 + l);
                *p += 1;
                snap_hook_store(p, 8);
            }
        }
        BENCH_CHECK(snap_msync(b->r));
    }
}

static void shuffle(int *order, int n, uint64_t *seed)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(bench_rand(seed) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static uint64_t one(struct bregion *b, uint64_t off)
{
    uint64_t *p = (uint64_t *)(b->base + off);
    *p += 1;
    snap_hook_store(p, 8);
    uint64_t t0 = bench_now_ns();
    int rc = snap_msync(b->r);
    uint64_t t1 = bench_now_ns();
    if (rc)
        bench_die("snap_msync", rc);
    return t1 - t0;
}

static uint64_t warm_off(struct bregion *b, uint64_t *seed)
{
    uint64_t x = bench_rand(seed);
    return b->pages[x % WORKING_PAGES] * 4096 + ((x >> 32) % 64) * 64;
}

static void print_row(struct bregion *b, const char *cas, struct bench_stats *st)
{
    printf("%-6s %-5s %-7s %-10s %10.2f %10.2f %10.2f %10.2f\n", b->medium, cas, b->label,
           b->variant, st->median_us, st->p90_us, st->min_us, st->mean_us);
}

int main(int argc, char **argv)
{
    bench_force_pmem(); /* before the first libpmem call */
    const char *gib_s = getenv("BENCH_SPARSE_GIB");
    uint64_t big = (uint64_t)(gib_s && atoi(gib_s) > 0 ? atoi(gib_s) : 64) << 30;
    const char *disk_s = getenv("BENCH_SPARSE_DISK");
    int do_disk = !(disk_s && strcmp(disk_s, "0") == 0);
    int reps = bench_reps(50000);
    int disk_reps = bench_reps(1000);
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    const char *shm = bench_shm_dir();
    struct bregion pm[4] = {
        {.variant = "nocw", .medium = "pmem", .is_big = 1},
        {.variant = "nocw", .medium = "pmem"},
        {.variant = "membarrier", .medium = "pmem", .is_big = 1},
        {.variant = "membarrier", .medium = "pmem"},
    };
    const char *names[4] = {"sparse-big-nocw", "sparse-small-nocw", "sparse-big-mb", "sparse-small-mb"};
    for (int i = 0; i < 4; i++) {
        open_region(&pm[i], shm, names[i], pm[i].is_big ? big : SMALL_SIZE,
                    i < 2 ? SNAP_NO_CONCURRENT_WRITERS : 0, SNAP_BACKEND_PMEM, &seed);
        if (pm[i].is_big)
            big = pm[i].size; /* what could be opened: the same for the others */
    }

    /* Warm-up, then interleaved timing: each iteration runs every region once, in a random
     * order, so drifts in machine load hit all of them alike and none always follows the same
     * other one (which evicts some of the caches and TLB). */
    int order[4];
    for (int it = 0; it < 1000; it++)
        for (int i = 0; i < 4; i++)
            one(&pm[i], warm_off(&pm[i], &seed));
    for (int it = 0; it < reps; it++) {
        shuffle(order, 4, &seed);
        for (int k = 0; k < 4; k++) {
            struct bregion *b = &pm[order[k]];
            bench_add(&b->warm, one(b, warm_off(b, &seed)));
        }
    }
    /* Cold: a random line anywhere (fewer reps for the big region: each one costs a page). */
    int cold_reps = reps / 4 > 2000 ? 2000 : reps / 4;
    if (cold_reps < 5)
        cold_reps = 5;
    for (int it = 0; it < cold_reps; it++) {
        shuffle(order, 4, &seed);
        for (int k = 0; k < 4; k++) {
            struct bregion *b = &pm[order[k]];
            uint64_t off = (bench_rand(&seed) % (b->size / 64)) * 64;
            bench_add(&b->cold, one(b, off));
        }
    }

    printf("bench_sparse: msync of one dirty line, %s sparse region vs %s (us; %d reps warm, "
           "%d cold)\n",
           pm[0].label, pm[1].label, reps, cold_reps);
    printf("%-6s %-5s %-7s %-10s %10s %10s %10s %10s\n", "medium", "case", "region", "variant",
           "median", "p90", "min", "mean");
    struct bench_stats st[4][2];
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 4; i++) {
            st[i][c] = bench_stats(c ? &pm[i].cold : &pm[i].warm);
            print_row(&pm[i], c ? "cold" : "warm", &st[i][c]);
            bench_csv("sparse", "pmem", c ? "cold" : "warm",
                      pm[i].is_big ? (i < 2 ? "big-nocw" : "big-membarrier")
                                   : (i < 2 ? "small-nocw" : "small-membarrier"),
                      &st[i][c], (double)pm[i].size);
        }
    }
    printf("ratios (median big / median small): ");
    for (int c = 0; c < 2; c++) {
        for (int v = 0; v < 2; v++) {
            double ratio = st[2 * v][c].median_us / st[2 * v + 1][c].median_us;
            printf("%s/%s %.3f%s  ", c ? "cold" : "warm", v ? "membarrier" : "nocw", ratio,
                   c == 0 && v == 0 ? (ratio <= 1.2 ? " (goal <= 1.2: met)" : " (goal <= 1.2: MISSED)")
                                    : "");
            bench_csv("sparse", "pmem", c ? "cold" : "warm",
                      v ? "ratio-big/small-membarrier" : "ratio-big/small-nocw", NULL, ratio);
        }
    }
    printf("\nmembarrier cost (median membarrier - median nocw, warm): %s %.2f us, %s %.2f us\n",
           pm[0].label, st[2][0].median_us - st[0][0].median_us, pm[1].label, st[3][0].median_us - st[1][0].median_us);
    for (int i = 0; i < 4; i++) {
        snap_close(pm[i].r);
        bench_unlink_region(pm[i].path);
    }

    if (do_disk) {
        const char *dir = bench_disk_dir(argc, argv);
        struct bregion dk[2] = {
            {.variant = "nocw", .medium = "disk", .is_big = 1},
            {.variant = "nocw", .medium = "disk"},
        };
        open_region(&dk[0], dir, "sparse-big-disk", big, SNAP_NO_CONCURRENT_WRITERS,
                    SNAP_BACKEND_FILE, &seed);
        open_region(&dk[1], dir, "sparse-small-disk", SMALL_SIZE, SNAP_NO_CONCURRENT_WRITERS,
                    SNAP_BACKEND_FILE, &seed);
        for (int it = 0; it < 20; it++)
            for (int i = 0; i < 2; i++)
                one(&dk[i], warm_off(&dk[i], &seed));
        for (int it = 0; it < disk_reps; it++)
            for (int k = 0; k < 2; k++) {
                struct bregion *b = &dk[(it + k) % 2]; /* 0 1 1 0 0 1 ...: balanced */
                bench_add(&b->warm, one(b, warm_off(b, &seed)));
            }
        struct bench_stats ds[2];
        printf("%-6s %-5s %-7s %-10s %10s %10s %10s %10s   (%d reps, dir %s)\n", "medium", "case",
               "region", "variant", "median", "p90", "min", "mean", disk_reps, dir);
        for (int i = 0; i < 2; i++) {
            ds[i] = bench_stats(&dk[i].warm);
            print_row(&dk[i], "warm", &ds[i]);
            bench_csv("sparse", "disk", "warm", i ? "small-nocw" : "big-nocw", &ds[i],
                      (double)dk[i].size);
        }
        double ratio = ds[0].median_us / ds[1].median_us;
        printf("ratio disk warm/nocw %.3f\n", ratio);
        bench_disk_contention_check(&ds[1], "msync of one line on disk (1 MiB region)");
        bench_csv("sparse", "disk", "warm", "ratio-big/small-nocw", NULL, ratio);
        for (int i = 0; i < 2; i++) {
            snap_close(dk[i].r);
            bench_unlink_region(dk[i].path);
        }
    }
    return 0;
}
