/* testkit.h — the test seams: knobs that tests turn, and opening a region on the simulator.
 *
 * They exist only in the test kit (libsnapshot_testkit.a: the library's sources compiled with
 * SNAPSHOT_TESTKIT, plus testkit.c and the power-loss simulator, backend/sim.h), which the tests
 * and the fuzzer link. In the release objects (libsnapshot.so, the CLI) each knob is a constant with
 * its release value, which the compiler folds away, and fault injection (backend.h) is compiled
 * out; libsnapshot.map exports only the API. PMDK builds its seams only into debug libraries the
 * same way. The code reads the same names either way.
 */
#ifndef SNAPSHOT_TESTKIT_H
#define SNAPSHOT_TESTKIT_H

#include <stddef.h>
#include <stdlib.h>

#include "snapshot.h"

typedef void *(*snap_realloc_fn)(void *, size_t);

/* X(type, name, release value), one line per knob; what each one does is said where it is read. */
#define SNAP_TEST_KNOBS(X)                                                                         \
    X(size_t, snap_commit_stream_min, 8u << 20)  /* commit.c: larger records are streamed */      \
    X(size_t, snap_commit_piece, 256u << 10)     /* commit.c: the streaming piece */              \
    X(int, snap_commit_defer_apply, -1)          /* commit.c: where step 6 applies; -1 by kind */ \
    X(snap_realloc_fn, snap_dirty_realloc, realloc) /* dirty_map.c: grows the run list */         \
    X(int, snap_populate_touch_only, 0)          /* copy.c: SNAP_POPULATE without madvise */      \
    X(int, snap_identity_no_xattr, 0)            /* identity.c: act as if there were no xattrs */ \
    X(int, snap_file_apply_pwrite, -1)           /* file.c: apply by pwrite (1), stores (0) */ \
    X(int, snap_budget_naive, 0)                 /* budget.c: release without E1-E2 (broken) */

#ifdef SNAPSHOT_TESTKIT
#define SNAP_KNOB_DECLARE(type, name, value) extern type name;
#else
#define SNAP_KNOB_DECLARE(type, name, value) static const type name = value;
#endif
SNAP_TEST_KNOBS(SNAP_KNOB_DECLARE)

struct snap_sim;

#ifdef SNAPSHOT_TESTKIT
/* snap_open() on the simulator's files `path` and `path`.snaplog (sim.h) instead of real ones;
 * opts->backend is ignored. The region refers to `sim`, which must outlive it. Errors: as
 * snap_open(), SNAP_E_INVAL if sim is NULL. */
int snap_open_sim(const char *path, const snap_options *opts, struct snap_sim *sim,
                  snap_region **out);
#endif

#endif /* SNAPSHOT_TESTKIT_H */
