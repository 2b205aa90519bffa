/* snapshot_layout.h — the dirty map's layout: the one definition every marker of a region reads.
 *
 * Four markers set a region's dirty bits: libsnapshot (snap_track, native/src/dirty_map.c), the
 * inline C hook (snapshot_hook.h), the IR the clang plugin emits (compiled against this file) and
 * the Java binding (org.snapshot.Mapping, which reads these values through its JNI glue at load
 * time). They all follow the marking protocol written at the top of native/src/dirty_map.h; this
 * file holds only the numbers and shapes that protocol works on. Change one here, and all four
 * follow (Java at its next build; snap_foreign_layout() reports the line shift of a live region).
 *
 * Lines. A region is tracked in lines of 1 << SNAP_LINE_SHIFT bytes, counted from its base.
 *
 * Levels. The dirty map has 1 .. SNAP_DIRTY_MAX_LEVELS levels of 64-bit words (uint64_t, native
 * byte order), each level's first word 64-byte aligned. Level 0 holds one bit per line: line n is bit
 * n & 63 of word n >> SNAP_DIRTY_WORD_SHIFT. Level l + 1 holds one bit per word of level l, by the
 * same rule; the top level is a single word.
 *
 * Gate. The markers in flight on the slow path register in the gate, SNAP_MARK_GATE_BYTES at the
 * start of the map's memory: a 64-bit epoch at byte SNAP_MARK_GATE_EPOCH (on a cache line of its
 * own) and two 64-bit counters at SNAP_MARK_GATE_ACTIVE and SNAP_MARK_GATE_ACTIVE + 8, for the
 * markers that entered in an even and in an odd epoch.
 *
 * Arena. All regions live in one reserved range, cut into slots of 1 << SNAP_SLOT_SHIFT bytes; a
 * region starts on a slot boundary and occupies whole slots (struct snap_arena_slot,
 * snapshot_hook.h), so a line never straddles two regions.
 */
#ifndef SNAPSHOT_LAYOUT_H
#define SNAPSHOT_LAYOUT_H

#define SNAP_LINE_SHIFT 6        /* 64-byte lines */
#define SNAP_DIRTY_WORD_SHIFT 6  /* 64 bits in a bitmap word: line n's word is n >> 6 */
#define SNAP_DIRTY_MAX_LEVELS 8  /* levels of the dirty map, at most */
#define SNAP_SLOT_SHIFT 30       /* 1 GiB arena slots */

#define SNAP_MARK_GATE_EPOCH 0   /* byte offset of the gate's epoch */
#define SNAP_MARK_GATE_ACTIVE 64 /* byte offset of its two in-flight counters (even, odd epoch) */
#define SNAP_MARK_GATE_BYTES 128 /* the gate's size; level 0 starts after it */

#endif /* SNAPSHOT_LAYOUT_H */
