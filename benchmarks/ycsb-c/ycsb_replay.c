/* ycsb_replay.c — replays a YCSB trace (load phase, then run phase) on the hash-table KV store of
 * kv.h over one persistence back end, times both phases, checks every result against the model of
 * expect.h, and appends the timings as CSV rows (see benchmarks/ycsb-c/README.md).
 *
 *   ycsb_replay_<kind> --load FILE --run FILE --dir DIR [--csv FILE] [--run-id K] [--medium pm|disk]
 *                      [--pool-mb N] [--no-verify] [--keep]
 *
 * Traces are parsed before the clock starts. The timed loops include the model's bookkeeping (value
 * generation, and with verification a byte comparison per record read), the same for every back end;
 * --no-verify leaves out the comparisons. After the run the store is closed, reopened (recovery runs)
 * and swept: every key's value must be the model's, and absent keys absent. Exit status: 0, 1 if any
 * check failed (no CSV row is written then), 2 on a usage or store error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"
#include "kv.h"
#include "trace.h"

#define TMPFS_MAGIC_ 0x01021994
#define MAX_REPORTED_FAILURES 10

struct replay {
    kv *kv;
    struct expect e;
    const struct keyset *ks;
    int verify;
    uint64_t failures;
    uint64_t not_found;  /* reads/updates of keys the trace never inserted: YCSB's NOT_FOUND */
    uint64_t duplicates; /* inserts of keys present, refused with KV_EXISTS */
    unsigned char *value; /* vsize bytes: values read, and values to write */
    uint32_t *fields;     /* fieldcount entries */
    /* scan state */
    uint32_t scan_first; /* key id the scan starts at */
    int64_t scan_seen;
    const struct trace_op *op; /* the op being checked, or NULL */
    uint64_t opno;
    const char *phase;
};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ycsb_replay: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

static void fail(struct replay *r, const char *fmt, ...)
{
    if (r->failures++ >= MAX_REPORTED_FAILURES)
        return;
    const struct keyset *ks = r->ks;
    va_list ap;
    va_start(ap, fmt);
    if (r->op)
        fprintf(stderr, "ycsb_replay: FAILED %s op %llu (%c %.*s): ", r->phase,
                (unsigned long long)r->opno + 1, r->op->type, (int)ks->lens[r->op->key],
                ks->keys[r->op->key]);
    else
        fprintf(stderr, "ycsb_replay: FAILED %s: ", r->phase);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int check_status(struct replay *r, const char *what, int rc)
{
    if (rc < 0)
        die("%s op %llu: %s: %s", r->phase, (unsigned long long)r->opno + 1, what, kv_strerror(rc));
    return rc;
}

/* Read a key and compare with the model; the value stays in r->value. */
static void do_read(struct replay *r, uint32_t id)
{
    const char *key = r->ks->keys[id];
    int rc = check_status(r, "read", kv_read(r->kv, key, r->ks->lens[id], r->value));
    if (rc == KV_NOT_FOUND) {
        if (r->e.present[id])
            fail(r, "read found nothing, the key was inserted");
        else
            r->not_found++;
    } else if (!r->e.present[id]) {
        fail(r, "read found a value, the key was never inserted (or deleted)");
    } else if (r->verify) {
        uint32_t bad = expect_check(&r->e, id, r->value);
        if (bad)
            fail(r, "read returned wrong bytes in field %u", bad - 1);
    }
}

static void do_update(struct replay *r, uint32_t id, uint32_t k)
{
    if (k > r->e.fieldcount)
        k = r->e.fieldcount;
    const char *key = r->ks->keys[id];
    if (!r->e.present[id]) {
        int rc = check_status(r, "update", kv_update(r->kv, key, r->ks->lens[id], r->fields, 0, NULL));
        if (rc != KV_NOT_FOUND)
            fail(r, "update of a key never inserted succeeded");
        r->not_found++;
        return;
    }
    expect_update(&r->e, id, k, r->fields, r->value);
    int rc = check_status(r, "update", kv_update(r->kv, key, r->ks->lens[id], r->fields, k, r->value));
    if (rc != KV_OK)
        fail(r, "update found nothing, the key was inserted");
}

static void scan_visit(const char *key, size_t klen, const void *value, void *arg)
{
    struct replay *r = arg;
    /* YCSB materialises each record of a scan: copy it, as its client would. */
    memcpy(r->value, value, r->e.vsize);
    if (r->scan_seen++ == 0 && r->e.present[r->scan_first]) {
        const struct keyset *ks = r->ks;
        if (klen != ks->lens[r->scan_first] || memcmp(key, ks->keys[r->scan_first], klen) != 0)
            fail(r, "scan did not start at its key, which is present");
    }
    if (r->verify) {
        uint32_t bad = expect_check_self(&r->e, key, klen, r->value);
        if (bad)
            fail(r, "scan met a record (%.*s) whose field %u is not its own", (int)klen, key, bad - 1);
    }
}

static void do_op(struct replay *r, const struct trace_op *op)
{
    uint32_t id = op->key;
    const char *key = r->ks->keys[id];
    size_t klen = r->ks->lens[id];
    int rc;
    switch (op->type) {
    case OP_INSERT:
        if (r->e.present[id]) { /* YCSB never does this; a hand-written trace may */
            rc = check_status(r, "insert", kv_insert(r->kv, key, klen, r->value));
            if (rc != KV_EXISTS)
                fail(r, "insert of a key already present did not say KV_EXISTS");
            r->duplicates++;
            break;
        }
        expect_insert(&r->e, id, r->value);
        rc = check_status(r, "insert", kv_insert(r->kv, key, klen, r->value));
        if (rc == KV_EXISTS)
            fail(r, "insert found the key present, it never was");
        break;
    case OP_READ:
        do_read(r, id);
        break;
    case OP_UPDATE:
        do_update(r, id, op->arg);
        break;
    case OP_RMW:
        do_read(r, id);
        do_update(r, id, op->arg);
        break;
    case OP_SCAN: {
        r->scan_first = id;
        r->scan_seen = 0;
        int64_t n = kv_scan(r->kv, key, klen, op->arg, scan_visit, r);
        /* From any key the scan reaches every bucket, so a non-empty store yields something. */
        if (n > op->arg || (n == 0 && r->e.count > 0))
            fail(r, "scan of %u returned %lld records", op->arg, (long long)n);
        break;
    }
    case OP_DELETE:
        rc = check_status(r, "delete", kv_delete(r->kv, key, klen));
        if ((rc == KV_OK) != (r->e.present[id] != 0))
            fail(r, rc == KV_OK ? "delete removed a key never inserted" : "delete found nothing");
        expect_delete(&r->e, id);
        break;
    }
}

/* Wall seconds of the phase (the figure reported). The process's CPU seconds go to stderr: on a
 * shared machine they show how much of the wall time was spent waiting for a CPU. */
static double replay(struct replay *r, const struct trace *t, const char *phase, const char *system)
{
    r->phase = phase;
    uint64_t mark = 1, next = t->nops / 10;
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    double start = now_s();
    for (uint64_t i = 0; i < t->nops; i++) {
        if (i == next && i) {
            fprintf(stderr, "ycsb_replay %s %s %s: %3llu%% (%llu ops, %.2f s)\n", t->hdr.workload,
                    phase, system, (unsigned long long)mark * 10, (unsigned long long)i, now_s() - start);
            next = t->nops * ++mark / 10;
        }
        r->opno = i;
        r->op = &t->ops[i];
        do_op(r, &t->ops[i]);
    }
    double wall = now_s() - start;
    cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    fprintf(stderr, "ycsb_replay %s %s %s: %.3f s, %.0f ops/s (CPU %.3f s, %.0f ops per CPU s)\n",
            t->hdr.workload, phase, system, wall, t->nops / wall, cpu, t->nops / cpu);
    return wall;
}

/* After reopening: every key as the model says. */
static void sweep(struct replay *r)
{
    r->phase = "final check";
    int verify = r->verify;
    r->verify = 1;
    uint64_t not_found = r->not_found;
    for (uint32_t id = 0; id < r->ks->n; id++) {
        struct trace_op op = {.key = id, .type = OP_READ};
        r->op = &op;
        r->opno = id;
        do_read(r, id);
    }
    r->op = NULL;
    if (kv_count(r->kv) != r->e.count)
        fail(r, "the store counts %llu records, %llu were inserted", (unsigned long long)kv_count(r->kv),
             (unsigned long long)r->e.count);
    r->not_found = not_found;
    r->verify = verify;
}

static const char *medium_of(const char *dir)
{
    struct statfs st;
    if (statfs(dir, &st) != 0)
        die("%s: %s", dir, strerror(errno));
    return st.f_type == TMPFS_MAGIC_ ? "pm" : "disk";
}

static void open_store(pstore **ps, kv **k, const char *path, uint64_t size, uint64_t capacity,
                       const struct trace_header *h)
{
    int rc = pstore_open(ps, path, size, kv_root_size());
    if (rc)
        die("%s: pstore_open: %s", path, pstore_error(rc));
    rc = kv_open(k, *ps, capacity, h->fieldcount, h->fieldlength);
    if (rc)
        die("%s: kv_open: %s", path, kv_strerror(rc));
}

static void csv_row(FILE *f, const struct trace_header *h, const char *workload, const char *system,
                    const char *medium, uint64_t ops, const char *run_id, double seconds)
{
    fprintf(f, "ycsb-c,%s,%s,%s,1,%llu,%llu,%s,%.6f,%.0f\n", workload, system, medium,
            (unsigned long long)h->recordcount, (unsigned long long)ops, run_id, seconds,
            seconds > 0 ? (double)ops / seconds : 0.0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ycsb_replay_%s --load FILE --run FILE --dir DIR [--csv FILE] [--run-id K]\n"
            "       [--medium pm|disk] [--pool-mb N] [--no-verify] [--keep]\n",
            pstore_name());
    exit(2);
}

int main(int argc, char **argv)
{
    const char *load_path = NULL, *run_path = NULL, *dir = NULL, *csv = NULL, *run_id = "1";
    const char *medium = NULL;
    uint64_t pool_mb = 0;
    int verify = 1, keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-verify") == 0) { verify = 0; continue; }
        if (strcmp(a, "--keep") == 0) { keep = 1; continue; }
        if (!v)
            usage();
        if (strcmp(a, "--load") == 0) load_path = v;
        else if (strcmp(a, "--run") == 0) run_path = v;
        else if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--csv") == 0) csv = v;
        else if (strcmp(a, "--run-id") == 0) run_id = v;
        else if (strcmp(a, "--medium") == 0) medium = v;
        else if (strcmp(a, "--pool-mb") == 0) pool_mb = strtoull(v, NULL, 10);
        else usage();
        i++;
    }
    if (!load_path || !run_path || !dir)
        usage();
    if (!medium)
        medium = medium_of(dir);
    const char *force = getenv("PMEM_IS_PMEM_FORCE");
    if (strcmp(medium, "disk") == 0 && force && strcmp(force, "1") == 0)
        die("unset PMEM_IS_PMEM_FORCE for a disk run: it makes libpmem treat %s as persistent "
            "memory, so nothing would reach the disk", dir);
    const char *system = pstore_name();

    struct keyset ks = {0};
    struct trace load, run;
    char err[512];
    if (trace_read(load_path, &ks, &load, err, sizeof err) || trace_read(run_path, &ks, &run, err, sizeof err))
        die("%s", err);
    const struct trace_header *h = &load.hdr;
    if (strcmp(h->phase, "load") || strcmp(run.hdr.phase, "run"))
        die("%s must be a load trace and %s a run trace", load_path, run_path);
    if (strcmp(h->workload, run.hdr.workload) || h->fieldcount != run.hdr.fieldcount ||
        h->fieldlength != run.hdr.fieldlength || h->recordcount != run.hdr.recordcount)
        die("%s and %s are not the two phases of one workload (headers differ)", load_path, run_path);

    struct replay r = {.ks = &ks, .verify = verify};
    if (expect_init(&r.e, &ks, h->fieldcount, h->fieldlength))
        die("fieldlength must be >= 8 (the check writes a version and a pattern into each field)");
    r.value = malloc(r.e.vsize);
    r.fields = malloc(h->fieldcount * sizeof *r.fields);
    if (!r.value || !r.fields)
        die("out of memory");

    /* Room for every key either trace names, with the allocators' headers and slack. */
    uint64_t per_record = (r.e.vsize + 64 + 63) / 64 * 64 + 64;
    uint64_t size = pool_mb ? pool_mb << 20
                            : ((uint64_t)ks.n * per_record + (h->recordcount + 16) * 16) / 4 * 5 + (64 << 20);
    char path[4096];
    snprintf(path, sizeof path, "%s/ycsb-%s.%s", dir, h->workload, system);
    struct stat st;
    if (stat(path, &st) == 0)
        die("%s exists: remove it, or use an empty --dir", path);

    pstore *ps;
    open_store(&ps, &r.kv, path, size, h->recordcount, h);
    fprintf(stderr, "ycsb_replay %s %s (%s): %llu records, %llu ops, %u x %u-byte fields, %llu buckets, "
            "store %llu MiB at %s\n", h->workload, system, medium, (unsigned long long)load.nops,
            (unsigned long long)run.nops, h->fieldcount, h->fieldlength,
            (unsigned long long)kv_buckets(r.kv), (unsigned long long)(size >> 20), path);
    double load_s = replay(&r, &load, "load", system);
    double run_s = replay(&r, &run, "run", system);

    int rc;
    kv_close(r.kv);
    pstore_close(ps);
    open_store(&ps, &r.kv, path, size, h->recordcount, h);
    sweep(&r);
    kv_close(r.kv);
    pstore_close(ps);
    if (!keep && (rc = pstore_unlink(path)) != 0)
        fprintf(stderr, "ycsb_replay: cannot remove %s: %s\n", path, pstore_error(rc));

    if (r.not_found)
        fprintf(stderr, "ycsb_replay: %llu reads/updates of keys the traces never inserted "
                "(YCSB's NOT_FOUND; not a failure)\n", (unsigned long long)r.not_found);
    if (r.duplicates)
        fprintf(stderr, "ycsb_replay: %llu inserts of keys already present, refused as they must "
                "be\n", (unsigned long long)r.duplicates);
    if (r.failures) {
        fprintf(stderr, "ycsb_replay: %llu checks FAILED; no CSV row written\n",
                (unsigned long long)r.failures);
        return 1;
    }
    FILE *out = stdout;
    if (csv && !(out = fopen(csv, "a")))
        die("%s: %s", csv, strerror(errno));
    if (csv && fseek(out, 0, SEEK_END) == 0 && ftell(out) == 0)
        fprintf(out, "suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec\n");
    char load_name[32];
    snprintf(load_name, sizeof load_name, "%s-load", h->workload);
    csv_row(out, h, load_name, system, medium, load.nops, run_id, load_s);
    csv_row(out, h, h->workload, system, medium, run.nops, run_id, run_s);
    if (out != stdout && fclose(out) != 0)
        die("%s: %s", csv, strerror(errno));
    fprintf(stderr, "ycsb_replay %s %s: all checks passed\n", h->workload, system);
    expect_free(&r.e);
    trace_free(&load);
    trace_free(&run);
    keyset_free(&ks);
    free(r.value);
    free(r.fields);
    return 0;
}
