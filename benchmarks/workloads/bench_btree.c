/* bench_btree.c — the B-tree benchmark, one executable per back end (bench_btree_<kind>):
 *   bench_btree_<kind> --records N [--op insert|read|delete|all] [--threads 1|2] [--dir DIR]
 *                      [--csv FILE] [--run K]
 * Inserts N random keys (one transaction and commit each), reads them all back, then deletes them
 * all, timing each phase; prints a CSV row per requested phase (format in README.md) to stdout or
 * appends it to FILE. With --threads 2, two threads insert (and delete) disjoint halves of the
 * keys into the one tree, and two threads read. A key not found, a wrong value or a damaged tree
 * makes the exit status non-zero. The store is a fresh file in DIR, removed afterwards. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "btree.h"
#include "pstore.h"

#define SEED 0x5eed5eedull

struct options {
    uint64_t records;
    const char *op, *dir, *csv;
    int threads, run;
};

struct shared {
    pstore *ps;
    struct btree *tree;
    pthread_rwlock_t lock;
    uint64_t records;
    int threads;
    const char *phase;
    uint64_t done;   /* ops finished in this phase, for progress */
    uint64_t errors; /* mismatches found */
};

struct worker {
    struct shared *sh;
    int id;
};

/* A bijection of the 64-bit integers (splitmix64's finaliser): distinct i give distinct keys. */
static uint64_t key_of(uint64_t i)
{
    uint64_t z = i + SEED * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t value_of(uint64_t k)
{
    return ~k;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(struct shared *sh)
{
    uint64_t done = __atomic_add_fetch(&sh->done, 1, __ATOMIC_RELAXED);
    uint64_t step = sh->records / 10 ? sh->records / 10 : 1;
    if (done % step == 0)
        fprintf(stderr, "%s %s: %llu%%\n", pstore_name(), sh->phase,
                (unsigned long long)(done * 100 / sh->records));
}

static void fail_commit(int rc)
{
    fprintf(stderr, "%s: commit failed: %s\n", pstore_name(), pstore_error(rc));
    exit(1);
}

/* One update transaction. Snapshot: modify under the exclusive lock, commit under the shared one so
 * that concurrent commits share a flush; the others commit under the exclusive lock. */
static int update(struct shared *sh, int insert, uint64_t k)
{
    int r;
    pthread_rwlock_wrlock(&sh->lock);
    pstore_begin(sh->ps);
    r = insert ? btree_insert(sh->ps, sh->tree, k, value_of(k)) : btree_delete(sh->ps, sh->tree, k);
    if (r < 0) {
        fprintf(stderr, "%s: the store is full\n", pstore_name());
        exit(1);
    }
#if PSTORE_KIND == PSTORE_SNAPSHOT
    pthread_rwlock_unlock(&sh->lock);
    pthread_rwlock_rdlock(&sh->lock);
#endif
    int rc = pstore_commit(sh->ps);
    pthread_rwlock_unlock(&sh->lock);
    if (rc)
        fail_commit(rc);
    return r;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    uint64_t errors = 0;
    for (uint64_t i = (uint64_t)w->id; i < sh->records; i += (uint64_t)sh->threads) {
        uint64_t k = key_of(i), v;
        if (strcmp(sh->phase, "insert") == 0)
            errors += update(sh, 1, k) != 1;
        else if (strcmp(sh->phase, "delete") == 0)
            errors += update(sh, 0, k) != 1;
        else /* read: no writer runs in this phase */
            errors += !btree_lookup(sh->ps, sh->tree, k, &v) || v != value_of(k);
        progress(sh);
    }
    __atomic_add_fetch(&sh->errors, errors, __ATOMIC_RELAXED);
    return NULL;
}

static double run_phase(struct shared *sh, const char *phase)
{
    sh->phase = phase;
    sh->done = 0;
    pthread_t tid[2];
    struct worker w[2];
    double t0 = now_s();
    for (int i = 0; i < sh->threads; i++) {
        w[i] = (struct worker){sh, i};
        if (pthread_create(&tid[i], NULL, work, &w[i])) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < sh->threads; i++)
        pthread_join(tid[i], NULL);
    return now_s() - t0;
}

static void emit(const struct options *o, const char *workload, double seconds)
{
    const char *medium = strncmp(o->dir, "/dev/shm", 8) == 0 ? "pm" : "disk";
    char row[512];
    snprintf(row, sizeof row, "btree,%s,%s,%s,%d,%llu,%llu,%d,%.6f,%.0f\n", workload, pstore_name(),
             medium, o->threads, (unsigned long long)o->records, (unsigned long long)o->records,
             o->run, seconds, seconds > 0 ? o->records / seconds : 0.0);
    if (!o->csv) {
        fputs(row, stdout);
        return;
    }
    FILE *f = fopen(o->csv, "a");
    if (!f) {
        fprintf(stderr, "%s: %s\n", o->csv, strerror(errno));
        exit(1);
    }
    if (ftell(f) == 0)
        fputs("suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec\n", f);
    fputs(row, f);
    fclose(f);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_btree_%s --records N [--op insert|read|delete|all] "
                    "[--threads 1|2] [--dir DIR] [--csv FILE] [--run K]\n", pstore_name());
    exit(2);
}

int main(int argc, char **argv)
{
    struct options o = {.records = 0, .op = "all", .dir = "/dev/shm", .threads = 1, .run = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--records")) o.records = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--op")) o.op = v;
        else if (!strcmp(a, "--threads")) o.threads = atoi(v);
        else if (!strcmp(a, "--dir")) o.dir = v;
        else if (!strcmp(a, "--csv")) o.csv = v;
        else if (!strcmp(a, "--run")) o.run = atoi(v);
        else usage();
    }
    int want_insert = !strcmp(o.op, "insert"), want_read = !strcmp(o.op, "read"),
        want_delete = !strcmp(o.op, "delete"), all = !strcmp(o.op, "all");
    if (!o.records || (o.threads != 1 && o.threads != 2) ||
        !(want_insert || want_read || want_delete || all))
        usage();

    const char *force = getenv("PMEM_IS_PMEM_FORCE");
    if (strncmp(o.dir, "/dev/shm", 8) != 0 && force && strcmp(force, "1") == 0) {
        fprintf(stderr, "%s: unset PMEM_IS_PMEM_FORCE for a disk run: it makes libpmem treat %s as "
                        "persistent memory, so nothing would reach the disk\n", pstore_name(), o.dir);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/btree-%s-%d.store", o.dir, pstore_name(), (int)getpid());
    pstore_unlink(path);
    /* Nodes are 184 bytes, 3 to 7 keys each; 256 bytes a key leaves room for PMDK's headers. */
    uint64_t size = (64ull << 20) + o.records * 256;
    pstore *ps;
    int rc = pstore_open(&ps, path, size, sizeof(struct btree));
    if (rc) {
        fprintf(stderr, "%s: opening %s: %s\n", pstore_name(), path, pstore_error(rc));
        return 1;
    }
    struct shared sh = {.ps = ps, .tree = pstore_root(ps), .records = o.records,
                        .threads = o.threads};
    /* Writers first: a thread that has modified and waits to commit lets the other modify too,
     * so both commits find the two updates and the second one has nothing left to flush. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&sh.lock, &attr);
    int status = 0;

    double t = run_phase(&sh, "insert");
    const char *why = btree_check(ps, sh.tree);
    if (why || sh.tree->count != o.records) {
        fprintf(stderr, "%s: after inserting: %s\n", pstore_name(), why ? why : "wrong count");
        status = 1;
    }
    if (want_insert || all)
        emit(&o, "insert", t);
    if (want_read || want_delete || all) {
        t = run_phase(&sh, "read");
        if (want_read || all)
            emit(&o, "read", t);
    }
    if (want_delete || all) {
        t = run_phase(&sh, "delete");
        why = btree_check(ps, sh.tree);
        if (why || sh.tree->root) {
            fprintf(stderr, "%s: after deleting: %s\n", pstore_name(), why ? why : "not empty");
            status = 1;
        }
        emit(&o, "delete", t);
    }
    if (sh.errors) {
        fprintf(stderr, "%s: %llu keys missing or wrong\n", pstore_name(),
                (unsigned long long)sh.errors);
        status = 1;
    }
    pstore_close(ps);
    pstore_unlink(path);
    return status;
}
