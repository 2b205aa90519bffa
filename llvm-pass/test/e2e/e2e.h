/* e2e.h — harness of the plugin's end-to-end tests: a region on a scratch file, msyncs whose
 * verification failures are counted, a close-and-reopen, and the verdict.
 *
 * Each program runs a workload on a region and on a heap "model" with the same code, then checks
 * that the region equals the model, before and after reopening it. It must run with
 * SNAPSHOT_VERIFY=1, so that every snap_msync() compares the DRAM copy with the media and returns
 * SNAP_E_VERIFY on a line that was stored to without being tracked.
 *   prog                     built with the plugin: passes iff no msync reports an untracked line
 *                            and the data survives the reopen
 *   prog --expect-untracked  built without the plugin: passes iff verification catches the
 *                            untracked stores (proves the oracle can fail)
 * Header-only; C and C++. */
#ifndef E2E_H
#define E2E_H

#include <snapshot.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct e2e {
    const char *name;
    snap_region *r;
    uint64_t size;
    char path[512];
    int expect_untracked;
    int msyncs, verify_failures, other_failures;
};

static inline void e2e_die(struct e2e *t, const char *what, int rc)
{
    fprintf(stderr, "%s: %s: %s\n", t->name, what, snap_strerror(rc));
    exit(2);
}

static inline void e2e_open(struct e2e *t, uint32_t flags)
{
    snap_options o;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    o.size = t->size;
    int rc = snap_open(t->path, &o, &t->r);
    if (rc)
        e2e_die(t, "snap_open", rc);
}

static inline void e2e_unlink(struct e2e *t)
{
    char log[600];
    snprintf(log, sizeof log, "%s.snaplog", t->path);
    unlink(t->path);
    unlink(log);
}

/* Parses the arguments, creates a fresh region of `size` bytes and returns its base. The program
 * may use all but the last 64 bytes. */
static inline void *e2e_start(struct e2e *t, const char *name, int argc, char **argv, uint64_t size)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->size = size;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect-untracked") == 0) {
            t->expect_untracked = 1;
        } else {
            fprintf(stderr, "usage: %s [--expect-untracked]\n", argv[0]);
            exit(2);
        }
    }
    const char *v = getenv("SNAPSHOT_VERIFY");
    if (!v || strcmp(v, "1") != 0) {
        fprintf(stderr, "%s: run with SNAPSHOT_VERIFY=1 (verification mode is the test's oracle)\n",
                name);
        exit(2);
    }
    const char *dir = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/snap-e2e-%s-%d", dir && *dir ? dir : "/tmp", name,
             (int)getpid());
    e2e_unlink(t);
    e2e_open(t, SNAP_CREATE | SNAP_EXCL);
    return snap_base(t->r);
}

/* The region's last line is the harness's: a round counter, tracked by hand. It makes every msync
 * commit something, because libsnapshot skips an msync with no dirty line entirely, verification
 * included; without it a program that tracks nothing would never be checked. */
static inline void e2e_msync(struct e2e *t)
{
    uint64_t *round = (uint64_t *)((char *)snap_base(t->r) + t->size - 64);
    *round = (uint64_t)t->msyncs + 1;
    snap_track(t->r, round, sizeof *round);
    int rc = snap_msync(t->r);
    t->msyncs++;
    if (rc == SNAP_E_VERIFY) {
        t->verify_failures++;
    } else if (rc) {
        t->other_failures++;
        fprintf(stderr, "%s: snap_msync: %s\n", t->name, snap_strerror(rc));
    }
}

/* Last msync, close, reopen from the files: returns the new base (the data as committed). */
static inline void *e2e_reopen(struct e2e *t)
{
    e2e_msync(t);
    int rc = snap_close(t->r);
    if (rc)
        e2e_die(t, "snap_close", rc);
    e2e_open(t, 0);
    return snap_base(t->r);
}

/* Closes and removes the region; prints the verdict; returns the exit status. data_ok: whether the
 * program's own checks passed (ignored when the untracked stores are expected: their data is not
 * committed). */
static inline int e2e_finish(struct e2e *t, int data_ok)
{
    snap_close(t->r);
    e2e_unlink(t);
    int pass;
    if (t->expect_untracked)
        pass = t->verify_failures > 0 && t->other_failures == 0;
    else
        pass = t->verify_failures == 0 && t->other_failures == 0 && data_ok;
    printf("%s: %s: %d msyncs, %d verification failures, %d other failures, data %s\n", t->name,
           pass ? "PASS" : "FAIL", t->msyncs, t->verify_failures, t->other_failures,
           t->expect_untracked ? "(not checked)" : data_ok ? "ok" : "MISMATCH");
    if (t->expect_untracked && !pass)
        printf("%s: built without the plugin, verification should have caught untracked stores\n",
               t->name);
    return pass ? 0 : 1;
}

/* xorshift64*: the workloads' deterministic randomness. */
static inline uint64_t e2e_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

#endif /* E2E_H */
