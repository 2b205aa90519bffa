/* dirty_map.h — which 64-byte lines of a region were stored to since the last commit.
 *
 * Level 0 holds one bit per line. Each higher level holds one bit per word of the level below,
 * set when that word may be non-zero; the top level is a single word. Marking sets the line's bit
 * and, only when its word was zero, the parent bit (and so on up): a repeated store to a line costs
 * one load and a test. Collecting walks down from the top, atomically swapping each visited word to
 * zero *parent before child*, so it costs O(dirty lines x levels) whatever the region's size.
 *
 * Invariant kept by that order: a non-zero word has its parent bit set, or a marker that found the
 * word zero is about to set it. So a line marked during a collection is either returned by it or
 * still marked afterwards (committed next time): nothing is lost.
 *
 * The bitmaps are sized for the region's whole reservation (max_size) and mapped MAP_NORESERVE, so
 * growing never reallocates them and untouched parts cost no memory.
 */
#ifndef SNAPSHOT_DIRTY_MAP_H
#define SNAPSHOT_DIRTY_MAP_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_DIRTY_MAX_LEVELS 8

struct snap_dirty_map {
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

/* Map bitmaps for nlines lines (>= 1), all clear. Returns 0 or -errno. */
int snap_dirty_init(struct snap_dirty_map *m, uint64_t nlines);
void snap_dirty_destroy(struct snap_dirty_map *m);

/* Mark lines [first, first+count); lines past nlines are ignored. Thread-safe, lock-free. */
void snap_dirty_mark(struct snap_dirty_map *m, uint64_t first, uint64_t count);

/* 1 if the line is marked. Thread-safe. */
int snap_dirty_test(const struct snap_dirty_map *m, uint64_t line);

/* Take and clear every marked line, returned as ascending, coalesced runs in *runs (a malloc'd array
 * of *cap entries, grown with realloc as needed; the caller keeps and frees it). Returns the number
 * of runs, or -ENOMEM (then the lines taken so far are marked again: nothing is lost).
 * Thread-safe with markers; one collector at a time. */
long snap_dirty_collect(struct snap_dirty_map *m, struct snap_line_run **runs, size_t *cap);

/* Clear everything (after a failed commit the region is closed anyway; used by close and tests). */
void snap_dirty_clear(struct snap_dirty_map *m);

#endif /* SNAPSHOT_DIRTY_MAP_H */
