/* bench_larger.c — random 64-byte durable updates in a store larger than memory (issue 14):
 * Snapshot's evictable copy against LMDB with synchronous commits.
 *
 *   bench_larger --system snapshot|lmdb --dir DIR --size BYTES --phase load|run
 *                [--seconds T] [--warmup W] [--csv FILE] [--run K] [--workload NAME] [--seed S]
 *
 * The store is about BYTES on disk, in DIR (a directory on the disk, never tmpfs):
 *   snapshot  one region of BYTES (DIR/larger-snapshot.data + its .snaplog), BYTES/64 slots of 64
 *             bytes. Load: the data file is written in full with pwrite (slot i holds i) and
 *             fsynced, then adopted by snap_open(), which creates the log. Run: snap_open() with
 *             default options (flags 0: membarrier per msync, default budget = a quarter of the
 *             cgroup's limit, SNAPSHOT_BUDGET overrides); each op stores one 64-byte value into a
 *             random slot, snap_track(), snap_msync().
 *   lmdb      an environment DIR/larger-lmdb/ holding N = BYTES/4096*49 records (8-byte big-endian
 *             key i, 64-byte value): a full 4 KiB leaf holds 49 of them, so data.mdb is about
 *             BYTES. Load: MDB_APPEND in transactions of 1M records under MDB_NOSYNC, then
 *             mdb_env_sync(force). Run: default flags (a commit fsyncs), each op one write
 *             transaction that overwrites one random record (mdb_put) and commits.
 * So both overwrite one random record of a store of the same size on disk; Snapshot's records
 * are denser (64 bytes against LMDB's ~84 with its node header and key), so it has more of them.
 *
 * Run: W seconds untimed (default T/3: the caches of a freshly dropped page cache fill), then T
 * seconds timed (default 30). Prints one line of key=value pairs (ops, seconds, ops_per_sec, and
 * for Snapshot budget, resident, evictions, refaults, evictable; vmhwm_kib from /proc/self/status)
 * and with --csv appends the row
 *   larger,<workload>,<system>,disk,1,<N>,<ops>,<run>,<seconds>,<ops_per_sec>
 * (benchmarks/report.py's format; the records column is LMDB's N for both systems, so the two
 * rows of a size are one group). Driver: run-larger.sh, which puts each run in a fresh cgroup.
 * Built against an older snapshot.h (no budget: SNAP_BUDGET_NONE undefined), the budget figures
 * are left out, so the same file measures a build from before issue 14.
 */
#include "bench_util.h"

#include <fcntl.h>
#include <lmdb.h>

#define LEAF_RECORDS 49 /* 64-byte values, 8-byte keys in one 4 KiB LMDB leaf */

struct opts {
    const char *system, *dir, *phase, *csv, *workload;
    uint64_t size;
    double seconds, warmup;
    int run;
    uint64_t seed;
};

static uint64_t records_of(uint64_t size)
{
    return size / 4096 * LEAF_RECORDS;
}

/* The report.py row of a run (records: LMDB's N for both systems, so a size is one group). */
static void csv_row(const struct opts *o, const char *system, uint64_t ops, double secs)
{
    if (!o->csv)
        return;
    FILE *f = fopen(o->csv, "a");
    if (!f)
        bench_die(o->csv, errno);
    fprintf(f, "larger,%s,%s,disk,1,%llu,%llu,%d,%.6f,%.0f\n", o->workload, system,
            (unsigned long long)records_of(o->size), (unsigned long long)ops, o->run, secs,
            (double)ops / secs);
    fclose(f);
}

static void be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static long vmhwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* ---- Snapshot ---------------------------------------------------------------------------------- */

static char *snap_file(const struct opts *o)
{
    char *p;
    if (asprintf(&p, "%s/larger-snapshot.data", o->dir) < 0)
        bench_die("asprintf", ENOMEM);
    return p;
}

static void snap_load(const struct opts *o)
{
    char *path = snap_file(o);
    bench_unlink_region(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        bench_die(path, errno);
    static uint64_t buf[(4 << 20) / 8];
    for (uint64_t off = 0; off < o->size; off += sizeof buf) {
        size_t len = o->size - off < sizeof buf ? (size_t)(o->size - off) : sizeof buf;
        for (size_t i = 0; i < len / 8; i += 8)
            buf[i] = (off / 64) + i / 8; /* slot number in its first 8 bytes */
        if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
            bench_die("pwrite", errno);
    }
    if (fsync(fd))
        bench_die("fsync", errno);
    close(fd);
    snap_region *r;
    snap_options so = {.flags = 0};
    BENCH_CHECK(snap_open(path, &so, &r)); /* adopts the file, creates the log */
    BENCH_CHECK(snap_close(r));
    free(path);
}

static void snap_run(const struct opts *o)
{
    char *path = snap_file(o);
    snap_options so = {.flags = 0};
    snap_region *r;
    BENCH_CHECK(snap_open(path, &so, &r));
    if (snap_size(r) != o->size) {
        fprintf(stderr, "%s: %llu bytes, not --size %llu: load it again\n", path,
                (unsigned long long)snap_size(r), (unsigned long long)o->size);
        exit(1);
    }
    uint8_t *base = snap_base(r);
    uint64_t slots = o->size / 64, seed = o->seed, ops = 0, timed_ops = 0;
    uint64_t value[8] = {0};
    uint64_t t0 = bench_now_ns(), start = 0;
    uint64_t warm_end = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t end = warm_end + (uint64_t)(o->seconds * 1e9);
    snap_stats st0 = {0}, st1;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (!start && now >= warm_end) {
            start = now;
            timed_ops = ops;
            BENCH_CHECK(snap_stats_get(r, &st0));
        }
        if (now >= end)
            break;
        uint8_t *p = base + (bench_rand(&seed) % slots) * 64;
        value[0] = ++ops;
        memcpy(p, value, 64);
        BENCH_CHECK(snap_track(r, p, 64));
        BENCH_CHECK(snap_msync(r));
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    timed_ops = ops - timed_ops;
    BENCH_CHECK(snap_stats_get(r, &st1));
    printf("system=snapshot ops=%llu seconds=%.3f ops_per_sec=%.0f vmhwm_kib=%ld",
           (unsigned long long)timed_ops, secs, (double)timed_ops / secs, vmhwm_kib());
#ifdef SNAP_BUDGET_NONE
    printf(" budget=%llu resident=%llu evictions=%llu refaults=%llu evictable=%d "
           "timed_evictions=%llu timed_refaults=%llu",
           (unsigned long long)st1.budget, (unsigned long long)st1.resident_bytes,
           (unsigned long long)st1.evictions, (unsigned long long)st1.refaults, st1.evictable,
           (unsigned long long)(st1.evictions - st0.evictions),
           (unsigned long long)(st1.refaults - st0.refaults));
#endif
    printf(" checkpoints=%llu\n", (unsigned long long)(st1.checkpoints - st0.checkpoints));
    fflush(stdout);
    BENCH_CHECK(snap_close(r));
    free(path);
    csv_row(o, "snapshot", timed_ops, secs);
}

/* ---- LMDB -------------------------------------------------------------------------------------- */

static void lmdb_check(const char *what, int rc)
{
    if (rc) {
        fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
        exit(1);
    }
}

static MDB_env *lmdb_env(const struct opts *o, unsigned flags, MDB_dbi *dbi)
{
    char *dir;
    if (asprintf(&dir, "%s/larger-lmdb", o->dir) < 0)
        bench_die("asprintf", ENOMEM);
    if (mkdir(dir, 0755) && errno != EEXIST)
        bench_die(dir, errno);
    MDB_env *env;
    lmdb_check("mdb_env_create", mdb_env_create(&env));
    /* Room for the copies a commit makes before the old pages are free again. */
    lmdb_check("mdb_env_set_mapsize", mdb_env_set_mapsize(env, (size_t)(o->size * 2 + (64 << 20))));
    lmdb_check("mdb_env_open", mdb_env_open(env, dir, flags, 0644));
    MDB_txn *txn;
    lmdb_check("mdb_txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
    lmdb_check("mdb_dbi_open", mdb_dbi_open(txn, NULL, 0, dbi));
    lmdb_check("mdb_txn_commit", mdb_txn_commit(txn));
    free(dir);
    return env;
}

static void lmdb_load(const struct opts *o)
{
    char *dir;
    if (asprintf(&dir, "%s/larger-lmdb", o->dir) < 0)
        bench_die("asprintf", ENOMEM);
    char *f1, *f2;
    if (asprintf(&f1, "%s/data.mdb", dir) < 0 || asprintf(&f2, "%s/lock.mdb", dir) < 0)
        bench_die("asprintf", ENOMEM);
    unlink(f1);
    unlink(f2);
    MDB_dbi dbi;
    MDB_env *env = lmdb_env(o, MDB_NOSYNC, &dbi);
    uint64_t n = records_of(o->size);
    uint8_t k[8], v[64] = {0};
    for (uint64_t i = 0; i < n;) {
        MDB_txn *txn;
        lmdb_check("mdb_txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
        for (uint64_t j = 0; j < 1000000 && i < n; j++, i++) {
            be64(k, i);
            memcpy(v, &i, 8);
            MDB_val key = {8, k}, val = {64, v};
            lmdb_check("mdb_put", mdb_put(txn, dbi, &key, &val, MDB_APPEND));
        }
        lmdb_check("mdb_txn_commit", mdb_txn_commit(txn));
    }
    lmdb_check("mdb_env_sync", mdb_env_sync(env, 1));
    mdb_env_close(env);
    struct stat sb;
    if (stat(f1, &sb) == 0)
        printf("lmdb: %llu records, data.mdb %llu bytes\n", (unsigned long long)n,
               (unsigned long long)sb.st_size);
    free(f1);
    free(f2);
    free(dir);
}

static void lmdb_run(const struct opts *o)
{
    MDB_dbi dbi;
    MDB_env *env = lmdb_env(o, 0, &dbi);
    uint64_t n = records_of(o->size), seed = o->seed, ops = 0, timed_ops = 0;
    uint8_t k[8];
    uint64_t value[8] = {0};
    uint64_t t0 = bench_now_ns(), start = 0;
    uint64_t warm_end = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t end = warm_end + (uint64_t)(o->seconds * 1e9);
    for (;;) {
        uint64_t now = bench_now_ns();
        if (!start && now >= warm_end) {
            start = now;
            timed_ops = ops;
        }
        if (now >= end)
            break;
        be64(k, bench_rand(&seed) % n);
        value[0] = ++ops;
        MDB_txn *txn;
        lmdb_check("mdb_txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
        MDB_val key = {8, k}, val = {64, value};
        lmdb_check("mdb_put", mdb_put(txn, dbi, &key, &val, 0));
        lmdb_check("mdb_txn_commit", mdb_txn_commit(txn));
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    timed_ops = ops - timed_ops;
    printf("system=lmdb ops=%llu seconds=%.3f ops_per_sec=%.0f vmhwm_kib=%ld\n",
           (unsigned long long)timed_ops, secs, (double)timed_ops / secs, vmhwm_kib());
    fflush(stdout);
    mdb_env_close(env);
    csv_row(o, "lmdb", timed_ops, secs);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_larger --system snapshot|lmdb --dir DIR --size BYTES "
                    "--phase load|run [--seconds T] [--warmup W] [--csv FILE] [--run K] "
                    "[--workload NAME] [--seed S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {.seconds = 30, .warmup = -1, .run = 1, .workload = "update64",
                     .seed = 0x9e3779b97f4a7c15ull};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--system")) o.system = v;
        else if (!strcmp(a, "--dir")) o.dir = v;
        else if (!strcmp(a, "--size")) o.size = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--phase")) o.phase = v;
        else if (!strcmp(a, "--seconds")) o.seconds = atof(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atof(v);
        else if (!strcmp(a, "--csv")) o.csv = v;
        else if (!strcmp(a, "--run")) o.run = atoi(v);
        else if (!strcmp(a, "--workload")) o.workload = v;
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 0) | 1;
        else usage();
    }
    if (!o.system || !o.dir || !o.phase || o.size < (1 << 20) || o.size % 4096 || o.seconds <= 0)
        usage();
    if (o.warmup < 0)
        o.warmup = o.seconds / 3;
    bench_disk_dir(2, (char *[]){argv[0], (char *)o.dir, NULL}); /* creates it; warns on tmpfs */
    int snap = !strcmp(o.system, "snapshot"), lmdb = !strcmp(o.system, "lmdb");
    int load = !strcmp(o.phase, "load"), run = !strcmp(o.phase, "run");
    if (!(snap || lmdb) || !(load || run))
        usage();
    if (snap)
        load ? snap_load(&o) : snap_run(&o);
    else
        load ? lmdb_load(&o) : lmdb_run(&o);
    return 0;
}
