/* snapshot_count.h — the run-time counters of the pass's -snapshot-count-dynamic knob.
 *
 * With -snapshot-count-dynamic, the pass also adds, before every write it sees, a relaxed atomic
 * increment of one of the counters below, by what it did with the write (instrumented, by kind;
 * skipped, by reason; unhandled), and in every hook it inserts, increments of the hooks run, of
 * those whose range check found the write in the arena, and of those that called the runtime's
 * slow path, snap_track_slow(). The counters are the array `snapshot_pass_counts`, defined weak
 * and zero in every instrumented module; snapshot_count.c (compiled without the plugin, linked into
 * the program) defines it too and prints it at exit. A counting build is for measuring only: the
 * increments cost far more than the hooks.
 * Shared by the pass (lib/SnapshotInstrument.cpp, which checks the order against its own counters)
 * and snapshot_count.c. */
#ifndef SNAPSHOT_COUNT_H
#define SNAPSHOT_COUNT_H

#include <stdint.h>
#include <stdio.h>

enum snapshot_pass_counter {
    /* Writes instrumented (a hook follows them, or a neighbour's merged hook covers them). */
    SNAPSHOT_COUNT_STORES,        /* store instructions */
    SNAPSHOT_COUNT_ATOMICS,       /* atomicrmw, cmpxchg, __atomic_* calls */
    SNAPSHOT_COUNT_MASKED,        /* masked/VP stores and scatters */
    SNAPSHOT_COUNT_MEMINTRINSICS, /* memset/memcpy/memmove intrinsics */
    SNAPSHOT_COUNT_LIBCALLS,      /* libc calls writing a buffer */
    /* Writes skipped: provably not into a region. */
    SNAPSHOT_COUNT_SKIPPED_STACK,
    SNAPSHOT_COUNT_SKIPPED_GLOBAL,
    SNAPSHOT_COUNT_SKIPPED_TLS,
    SNAPSHOT_COUNT_SKIPPED_ADDRSPACE,
    /* Writes the pass cannot instrument (inline asm, unknown intrinsics, musttail calls). */
    SNAPSHOT_COUNT_UNHANDLED,
    /* Hooks (one per instrumented write, or per merged group, or per scatter lane). */
    SNAPSHOT_COUNT_HOOKS,         /* hooks run: the range check */
    SNAPSHOT_COUNT_IN_ARENA,      /* ... whose write was in the arena */
    SNAPSHOT_COUNT_SLOW,          /* ... that called snap_track_slow() */
    SNAPSHOT_COUNT_NUM
};

#define SNAPSHOT_COUNT_ARRAY 16 /* the array's length (>= SNAPSHOT_COUNT_NUM; room to grow) */

#define SNAPSHOT_COUNT_NAMES                                                                       \
    {"stores", "atomics", "masked", "memintrinsics", "libcalls", "skipped-stack",                  \
     "skipped-global", "skipped-tls", "skipped-addrspace", "unhandled", "hooks", "in-arena",       \
     "slow"}

#ifdef __cplusplus
extern "C" {
#endif
extern uint64_t snapshot_pass_counts[SNAPSHOT_COUNT_ARRAY];
/* Print the counters now (snapshot_count.c; it also prints them at exit). */
void snapshot_count_print(FILE *f);
#ifdef __cplusplus
}
#endif

#endif /* SNAPSHOT_COUNT_H */
