/* test_budget_cgroup.c — a region four times a memory cgroup's limit, with default options.
 *
 * A child process moves itself into a fresh cgroup (v1 memory controller, memory.limit_in_bytes)
 * and only then creates the region on disk, so the copy, the data file's page cache and the log's
 * all count against the limit. It writes a 64-byte record into every page, then random records,
 * with an msync every 32 writes. The default
 * budget must come from the cgroup's limit (a quarter of it). It must finish (not be OOM-killed:
 * without a budget the same run dies with SIGKILL), its region must have evicted and re-faulted
 * pages, and the cgroup's peak usage must stay within the limit. The parent, outside the cgroup,
 * reopens the region and compares every byte with the model.
 * Skipped (exit 77) where there is no writable cgroup v1 memory controller (not root, cgroup v2
 * only): say so. SNAPSHOT_CGROUP_LIMIT_MB (default 128) sets the limit; the region is 4x it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define CG_ROOT "/sys/fs/cgroup/memory"

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -errno;
    close(fd);
    return rc;
}

static unsigned long long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* The writes, the same in the child and in the parent's model: record i at a 64-byte slot. */
static uint64_t slot_of(struct test_rng *g, uint64_t i, uint64_t size)
{
    uint64_t pages = size >> 12;
    if (i < pages)
        return (i << 12) + (test_rng_below(g, 64) << 6); /* first every page */
    return test_rng_below(g, size >> 6) << 6;
}

static void record(struct test_rng *g, uint8_t *dst)
{
    for (int k = 0; k < 64; k += 8) {
        uint64_t v = test_rng_next(g);
        memcpy(dst + k, &v, 8);
    }
}

static int child(const char *cg, const char *path, uint64_t size, uint64_t writes)
{
    char procs[512], pid[32];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if (write_file(procs, pid)) {
        fprintf(stderr, "child: cannot join %s\n", cg);
        return 2;
    }
    snap_options o = {.flags = SNAP_CREATE, .size = size, .backend = SNAP_BACKEND_FILE};
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc) {
        fprintf(stderr, "child: open: %s\n", snap_strerror(rc));
        return 2;
    }
    uint8_t *base = snap_base(r), rec[64];
    struct test_rng g;
    test_rng_seed(&g, 11);
    for (uint64_t i = 0; i < writes; i++) {
        uint64_t off = slot_of(&g, i, size);
        record(&g, rec);
        memcpy(base + off, rec, 64);
        snap_track(r, base + off, 64);
        if (i % 32 == 31 && (rc = snap_msync(r)) != 0) {
            fprintf(stderr, "child: msync: %s\n", snap_strerror(rc));
            return 2;
        }
    }
    rc = snap_msync(r);
    snap_stats s;
    snap_stats_get(r, &s);
    printf("child: budget %llu MiB, %llu evictions, %llu re-faults, %llu MiB resident, "
           "evictable %d\n", (unsigned long long)(s.budget >> 20),
           (unsigned long long)s.evictions, (unsigned long long)s.refaults,
           (unsigned long long)(s.resident_bytes >> 20), s.evictable);
    fflush(stdout);
    int ok = !rc && s.evictable && s.evictions > 0 && s.refaults > 0;
    if (snap_close(r) || !ok)
        return 1;
    return 0;
}

int main(void)
{
    uint64_t limit = (uint64_t)test_env_long("SNAPSHOT_CGROUP_LIMIT_MB", 128) << 20;
    uint64_t size = 4 * limit, writes = (size >> 12) + (size >> 12) / 2;
    char cg[256], file[512];
    snprintf(cg, sizeof cg, CG_ROOT "/snaptest-budget-%d", (int)getpid());
    if (access(CG_ROOT, W_OK) != 0 || mkdir(cg, 0755) != 0) {
        printf("test_budget_cgroup: SKIPPED: no writable cgroup v1 memory controller at " CG_ROOT
               " (%s); the test needs root on a machine with it\n", strerror(errno));
        return 77;
    }
    char lim[32];
    snprintf(lim, sizeof lim, "%llu", (unsigned long long)limit);
    snprintf(file, sizeof file, "%s/memory.limit_in_bytes", cg);
    REQUIRE(write_file(file, lim) == 0);
    char *dir = test_tmpdir("budget-cgroup", "disk"), *path = test_path(dir, "data");

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        _exit(child(cg, path, size, writes));
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    snprintf(file, sizeof file, "%s/memory.max_usage_in_bytes", cg);
    unsigned long long peak = read_number(file);
    snprintf(file, sizeof file, "%s/memory.failcnt", cg);
    unsigned long long failcnt = read_number(file);
    rmdir(cg);
    printf("cgroup limit %llu MiB, region %llu MiB, %llu writes: child %s %d, peak usage %llu MiB,"
           " limit reached %llu times\n", (unsigned long long)(limit >> 20),
           (unsigned long long)(size >> 20), (unsigned long long)writes,
           WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
           peak >> 20, failcnt);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(peak <= limit);

    /* The model, outside the cgroup: every byte of the reopened region. */
    uint8_t *m = calloc(1, size);
    REQUIRE(m);
    struct test_rng g;
    test_rng_seed(&g, 11);
    for (uint64_t i = 0; i < writes; i++) {
        uint64_t off = slot_of(&g, i, size);
        record(&g, m + off);
    }
    snap_options plain = {.budget = SNAP_BUDGET_NONE};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &plain, &r));
    CHECK(snap_size(r) == size);
    CHECK(memcmp(snap_base(r), m, size) == 0);
    REQUIRE_OK(snap_close(r));
    free(m);
    test_rmdir(dir);
    return test_done("test_budget_cgroup", 1);
}
