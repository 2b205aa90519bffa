/* dirty_map.h — which 64-byte lines of a region were stored to since the last commit.
 *
 * Level 0 holds one bit per line. Each higher level holds one bit per word of the level below,
 * set when that word may be non-zero; the top level is a single word. Marking sets the line's bit
 * and, only when its word was zero, the parent bit (and so on up): a repeated store to a line costs
 * one load and a test. Collecting walks down from the top, atomically swapping each visited word to
 * zero *parent before child*, so it costs O(dirty lines x levels) whatever the region's size.
 *
 * THE MARKING PROTOCOL, written here once. Every marker follows it: snap_dirty_mark here, the
 * inline hook in snapshot_hook.h, the IR the clang plugin emits for it, and org.snapshot.Mapping in
 * Java; they cite this comment rather than restate it. The numbers it works on (line size, word
 * size, levels, the gate's offsets) are defined once in include/snapshot_layout.h.
 *
 *   fast path   after the store, load the line's level-0 word (acquire); bit set: done.
 *   slow path   enter the gate; for each word: if its bits are not all set, atomic OR them in, and
 *               if the word was zero, set its bit one level up the same way, and so on up; leave.
 *   gate        enter: e = epoch; active[e & 1] += 1; if epoch != e, undo and retry.
 *               leave: active[e & 1] -= 1 (release).
 *   collect     epoch += 1; wait until active[old & 1] == 0 (acquire); then walk.
 *
 * Only the marker that turns a word non-zero climbs, so a set bit does not prove that its
 * ancestors are set: a marker may be preempted between the two. The gate closes that gap without
 * costing the fast path anything. Claim: if a marking of line X returned (fast or slow path)
 * before a collection began, that collection or an earlier one returns X. Proof: the marking
 * returned after it saw X's bit set or set it itself; in both cases some slow-path marker M did
 * the atomic OR that set it, inside the gate, and M's walk up to the top either finished or is
 * still running. M entered the gate before its OR (seq_cst), and the collection's epoch increment
 * follows the marking's load of X's word (acquire, then program order into snap_msync and its
 * lock), so M registered in active[e & 1] for an epoch e that the collection's increment (or an
 * earlier collection's) moves away from; M's re-check passed, so e was current after M
 * registered, and whichever collection increments e waits for active[e & 1] to drain: by then M
 * has set every ancestor bit (its decrement is a release). The walk, parent before child, then
 * finds X's word through its set ancestors, unless a collection after M's OR already took X's bit
 * (then that one returned X). Markers registered after the increment wait for no collection: new
 * ones go to the other counter, so a collection waits only for markers already in flight (those
 * preempted inside the gate) and cannot starve.
 *
 * A line marked during a collection is either returned by it or still marked afterwards
 * (committed next time): the walk swaps a parent before its child, and a marker sets a child
 * before its parent. Marking follows the store, so a collection that clears a line's bit before
 * copying the line either copies the new bytes or finds the bit set again next time.
 *
 * The bitmaps are sized for the region's whole reservation (max_size) and mapped MAP_NORESERVE, so
 * growing never reallocates them and untouched parts cost no memory.
 */
#ifndef SNAPSHOT_DIRTY_MAP_H
#define SNAPSHOT_DIRTY_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot_layout.h"

/* The gate of in-flight slow-path markers (see the top of this file), at the start of the map's
 * memory so that other languages reach it through one address. The epoch is read by every marker
 * and written once per collection: it has a line of its own, away from the counters. */
struct snap_mark_gate {
    uint64_t epoch;
    uint64_t pad[(SNAP_MARK_GATE_ACTIVE - SNAP_MARK_GATE_EPOCH) / 8 - 1];
    uint64_t active[2]; /* markers in flight, by the parity of the epoch they entered in */
};
_Static_assert(offsetof(struct snap_mark_gate, epoch) == SNAP_MARK_GATE_EPOCH &&
                   offsetof(struct snap_mark_gate, active) == SNAP_MARK_GATE_ACTIVE &&
                   sizeof(struct snap_mark_gate) <= SNAP_MARK_GATE_BYTES,
               "struct snap_mark_gate is the gate of snapshot_layout.h");
_Static_assert(sizeof(uint64_t) * 8 == (size_t)1 << SNAP_DIRTY_WORD_SHIFT,
               "a bitmap word is a uint64_t (snapshot_layout.h)");

struct snap_dirty_map {
    struct snap_mark_gate *gate;            /* inside mem */
    unsigned levels;                        /* >= 1; the top level is one word */
    uint64_t *level[SNAP_DIRTY_MAX_LEVELS]; /* level[0]: one bit per line */
    uint64_t words[SNAP_DIRTY_MAX_LEVELS];  /* words in each level */
    uint64_t nlines;                        /* lines covered (capacity) */
    void *mem;                              /* one mapping holding all levels */
    size_t mem_len;
};

/* A run of consecutive dirty lines. */
struct snap_line_run {
    uint64_t first; /* line index */
    uint64_t count; /* >= 1 */
};

/* Map bitmaps for nlines lines (>= 1), all clear, on huge pages if `huge` and small enough
 * (dirty_map.c). Returns 0 or -errno. */
int snap_dirty_init(struct snap_dirty_map *m, uint64_t nlines, int huge);
void snap_dirty_destroy(struct snap_dirty_map *m);

/* Mark lines [first, first+count); lines past nlines are ignored. Thread-safe, lock-free (it waits
 * for nobody; a collection may wait for it). */
void snap_dirty_mark(struct snap_dirty_map *m, uint64_t first, uint64_t count);

/* 1 if the line is marked. Thread-safe. */
int snap_dirty_test(const struct snap_dirty_map *m, uint64_t line);

/* Take and clear every marked line, returned as ascending, coalesced runs in *runs (a malloc'd array
 * of *cap entries, grown with realloc as needed; the caller keeps and frees it). Returns the number
 * of runs, or -ENOMEM (then the lines taken so far are marked again: nothing is lost). Every line
 * whose marking returned before the call is among them (or was returned by an earlier call): it
 * first waits for the markers in flight. Thread-safe with markers; one collector at a time. */
long snap_dirty_collect(struct snap_dirty_map *m, struct snap_line_run **runs, size_t *cap);

/* Clear everything (after a failed commit the region is closed anyway; used by close and tests). */
void snap_dirty_clear(struct snap_dirty_map *m);

#endif /* SNAPSHOT_DIRTY_MAP_H */
