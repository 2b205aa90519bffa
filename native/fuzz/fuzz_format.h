/* fuzz_format.h — how a fuzz input encodes a data file and its log (fuzz_recovery.c decodes,
 * make_seeds.c encodes).
 *
 *   bytes 0-1   data file size, little-endian (so at most 64 KiB)
 *   byte  2     flags, below
 *   then        the data file's bytes (fewer if the input ends: the rest reads as zero)
 *   then        the log, by layout:
 *     raw       the log file verbatim (nothing left: no log file at all)
 *     compact   the first FUZZ_SLOTS_LEN bytes are the two header slots, the rest is the record
 *               area at SNAP_LOG_AREA_OFF; the file is zero-padded to hold a whole number of pages
 *               of area and at least the area_size a slot claims (up to FUZZ_MAX_LOG). Spares the
 *               fuzzer the 3 KiB of zeros between the slots and the area.
 */
#ifndef SNAPSHOT_FUZZ_FORMAT_H
#define SNAPSHOT_FUZZ_FORMAT_H

#define FUZZ_HEADER_LEN 3
#define FUZZ_SLOTS_LEN 1024u
#define FUZZ_MAX_LOG (1u << 20)

#define FUZZ_RAW_LOG 0x01u   /* raw layout instead of compact */
#define FUZZ_RESEAL 0x02u    /* recompute the CRCs of every header slot and record that has its
                                magic, so mutations of the fields behind them get through */
#define FUZZ_GIVE_SIZE 0x04u /* open with snap_options.size = the data file size */
#define FUZZ_GROW_SHIFT 3    /* bits 3-7: lines to snap_grow() by before the msync (0: none) */

#endif /* SNAPSHOT_FUZZ_FORMAT_H */
