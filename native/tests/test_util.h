/* test_util.h — assertions, temporary files and a seeded PRNG shared by the C tests. */
#ifndef SNAPSHOT_TEST_UTIL_H
#define SNAPSHOT_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot.h"

extern int test_failures;

/* Fail the test (exit 1 at the end of main via test_done()) but keep going. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Stop the test at once. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A snapshot call must return `want`; prints both codes and their names otherwise. */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "%s:%d: %s returned %d %s (%s), wanted %d %s\n", __FILE__, __LINE__,   \
                    #call, rc_, snap_strerrorname(rc_), snap_strerror(rc_), (int)(want),           \
                    snap_strerrorname(want));                                                      \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %d %s (%s)\n", __FILE__, __LINE__, #call, rc_,      \
                    snap_strerrorname(rc_), snap_strerror(rc_));                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Print "N passed, N failed" for the test's checks and return the exit code. */
int test_done(const char *name, int passed_cases);

/* A fresh empty directory for this test under $SNAPSHOT_TEST_TMP (or /tmp); `kind` is "disk" or
 * "shm" (/dev/shm, for emulated persistent memory). Returns a malloc'd path. */
char *test_tmpdir(const char *name, const char *kind);

/* path joined with a file name; malloc'd. */
char *test_path(const char *dir, const char *file);

/* Remove a directory tree created by test_tmpdir(). */
void test_rmdir(const char *dir);

/* A whole file's bytes (malloc'd, one spare byte) and its length; the test stops if it cannot. */
uint8_t *test_slurp(const char *path, size_t *len);

/* The oracle for "durable when snap_msync() returned": what an open after a crash right now would
 * find at [off, off + len) of the region whose data file is `path` (sidecar log): the data file's
 * bytes (zero past its end) overlaid with the records of the log's chain, as recovery replays them.
 * Reads only; the region may be open and committing (a checkpoint meanwhile makes it read again).
 * The data file alone lags the last records (commit.c, step 6). 0, or the log's error. */
int test_committed_read(const char *path, uint64_t off, void *buf, size_t len);
/* Whether every byte of test_committed_read()'s [off, off + len) is v. */
int test_committed_holds(const char *path, uint64_t off, size_t len, int v);

/* Whether the file holds exactly these len bytes. */
int test_file_equals(const char *path, const void *want, size_t len);

/* Integer from the environment, or def. */
long test_env_long(const char *name, long def);

/* xoshiro256** seeded by splitmix64. */
struct test_rng {
    uint64_t s[4];
};
void test_rng_seed(struct test_rng *r, uint64_t seed);
uint64_t test_rng_next(struct test_rng *r);
uint64_t test_rng_below(struct test_rng *r, uint64_t n); /* uniform in [0, n) */

#endif /* SNAPSHOT_TEST_UTIL_H */
