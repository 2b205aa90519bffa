/* bench_bandwidth.c — commit bandwidth of large msyncs against memcpy on the same machine.
 *
 * Emulated persistent memory (/dev/shm, PMEM_IS_PMEM_FORCE=1, SNAP_BACKEND_PMEM).
 *   contiguous  a region of S bytes (64 MiB, 256 MiB) entirely dirtied (memset + snap_track), then
 *               snap_msync(); payload bandwidth = S / time of the msync. Peer: memcpy() of S bytes
 *               between two pre-faulted DRAM buffers. Goal: msync >= 0.5 x memcpy bandwidth.
 *   strided     one 64-byte line per 4 KiB page dirtied (S / 64 bytes of payload), then msync; peer:
 *               the same lines copied one by one with memcpy between two buffers of S bytes. No
 *               goal; it shows the per-line cost when every line is its own run.
 * Only the msync / the memcpy is timed; runs alternate within each repetition. The log starts at
 * its default capacity (64 MiB) and grows during warm-up as the library does by itself; while
 * timing a contiguous commit may include a checkpoint (reported).
 * Env: BENCH_REPS (default 100; 256 MiB half), BENCH_QUICK, BENCH_CSV, BENCH_SHM_DIR.
 */
#include "bench_util.h"

#include <sys/mman.h>

#define MIB (1ull << 20)

static uint8_t *alloc_faulted(uint64_t size)
{
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        bench_die("mmap", errno);
    memset(p, 0x33, size);
    return p;
}

static void dirty_contiguous(snap_region *r, uint64_t size, int it)
{
    uint8_t *base = snap_base(r);
    memset(base, it & 0xff, size);
    BENCH_CHECK(snap_track(r, base, size));
}

static void dirty_strided(snap_region *r, uint64_t size, int it)
{
    uint8_t *base = snap_base(r);
    for (uint64_t off = 0; off < size; off += 4096) {
        uint64_t *p = (uint64_t *)(base + off + ((uint64_t)it % 64) * 64);
        for (int w = 0; w < 8; w++)
            p[w] = (uint64_t)it;
        snap_hook_store(p, 64);
    }
}

static uint64_t time_msync(snap_region *r)
{
    uint64_t t0 = bench_now_ns();
    BENCH_CHECK(snap_msync(r));
    return bench_now_ns() - t0;
}

static uint64_t time_memcpy(uint8_t *dst, const uint8_t *src, uint64_t size)
{
    uint64_t t0 = bench_now_ns();
    memcpy(dst, src, size);
    __asm__ volatile("" ::: "memory");
    return bench_now_ns() - t0;
}

static uint64_t time_memcpy_strided(uint8_t *dst, const uint8_t *src, uint64_t size, int it)
{
    uint64_t line = ((uint64_t)it % 64) * 64;
    uint64_t t0 = bench_now_ns();
    for (uint64_t off = 0; off < size; off += 4096)
        memcpy(dst + off + line, src + off + line, 64);
    __asm__ volatile("" ::: "memory");
    return bench_now_ns() - t0;
}

static void report(const char *cas, uint64_t size, uint64_t payload, struct bench_samples *ms,
                   struct bench_samples *mc, uint64_t checkpoints)
{
    struct bench_stats a = bench_stats(ms), b = bench_stats(mc);
    double gbs_a = (double)payload / (a.median_us * 1e3), gbs_b = (double)payload / (b.median_us * 1e3);
    char label[48];
    snprintf(label, sizeof label, "%s-%lluMiB", cas, (unsigned long long)(size / MIB));
    printf("%-18s %-8s %11.1f %11.1f %11.1f %9.2f\n", label, "msync", a.median_us, a.p90_us,
           a.min_us, gbs_a);
    printf("%-18s %-8s %11.1f %11.1f %11.1f %9.2f\n", label, "memcpy", b.median_us, b.p90_us,
           b.min_us, gbs_b);
    double ratio = gbs_a / gbs_b;
    if (strcmp(cas, "contiguous") == 0)
        printf("%-18s %-8s %35s %8.2fx  goal >= 0.5: %s  (%llu checkpoints while timing)\n", label,
               "ratio", "", ratio, ratio >= 0.5 ? "met" : "MISSED", (unsigned long long)checkpoints);
    else
        printf("%-18s %-8s %35s %8.2fx  (no goal; %.1f ns per line in msync)\n", label, "ratio", "",
               ratio, a.median_us * 1e3 / (double)(payload / 64));
    bench_csv("bandwidth", "pmem", label, "msync", &a, gbs_a);
    bench_csv("bandwidth", "pmem", label, "memcpy", &b, gbs_b);
    bench_csv("bandwidth", "pmem", label, "ratio-msync/memcpy", NULL, ratio);
}

static void run_size(uint64_t size, int reps, int strided)
{
    const char *cas = strided ? "strided4k" : "contiguous";
    char *path = bench_path(bench_shm_dir(), strided ? "bw-strided" : "bw-contig");
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
                      .backend = SNAP_BACKEND_PMEM,
                      .size = size};
    snap_region *r;
    BENCH_CHECK(snap_open(path, &o, &r));
    uint8_t *src = alloc_faulted(size), *dst = alloc_faulted(size);
    struct bench_samples ms = {0}, mc = {0};
    uint64_t cp0 = 0;
    for (int it = -3; it < reps; it++) { /* 3 untimed: fault in, grow the log */
        if (strided)
            dirty_strided(r, size, it + 1000);
        else
            dirty_contiguous(r, size, it + 1000);
        uint64_t a, b;
        if (it & 1) {
            a = time_msync(r);
            b = strided ? time_memcpy_strided(dst, src, size, it + 1000) : time_memcpy(dst, src, size);
        } else {
            b = strided ? time_memcpy_strided(dst, src, size, it + 1000) : time_memcpy(dst, src, size);
            a = time_msync(r);
        }
        if (it == -1) {
            snap_stats st;
            BENCH_CHECK(snap_stats_get(r, &st));
            cp0 = st.checkpoints;
        }
        if (it >= 0) {
            bench_add(&ms, a);
            bench_add(&mc, b);
        }
    }
    snap_stats st;
    BENCH_CHECK(snap_stats_get(r, &st));
    report(cas, size, strided ? size / 64 : size, &ms, &mc, st.checkpoints - cp0);
    snap_close(r);
    bench_unlink_region(path);
    free(path);
    munmap(src, size);
    munmap(dst, size);
}

int main(void)
{
    bench_force_pmem(); /* before the first libpmem call */
    int reps = bench_reps(100);
    printf("bench_bandwidth: payload bandwidth of snap_msync vs memcpy, emulated PM (%s); us and "
           "GB/s (median); %d reps (256 MiB: %d)\n",
           bench_shm_dir(), reps, (reps + 1) / 2);
    printf("%-18s %-8s %11s %11s %11s %9s\n", "case", "variant", "median_us", "p90_us", "min_us",
           "GB/s");
    run_size(64 * MIB, reps, 0);
    run_size(256 * MIB, (reps + 1) / 2, 0);
    run_size(64 * MIB, reps, 1);
    run_size(256 * MIB, (reps + 1) / 2, 1);
    return 0;
}
