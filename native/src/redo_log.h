/* redo_log.h — the sidecar log's on-media format: header slots, redo records, and the chain walk.
 *
 * Layout of "<data file>.snaplog" (all integers little-endian, x86-64 native):
 *
 *   0      header slot 0   (struct snap_log_header, padded to 512 bytes)
 *   512    header slot 1
 *   1024   apply mark slots 0 and 1 (struct snap_log_mark, 64 bytes apart)
 *   4096   record area    (area_size bytes; records start at multiples of 64)
 *
 *   record = struct snap_rec_header   72 bytes
 *            struct snap_rec_run[n]   16 bytes each: byte offset and length in the data file
 *            data                     the runs' bytes, concatenated
 *            zero padding             to a multiple of 64 bytes (total)
 *
 * A header slot is valid if its magic, version and CRC-32C check; the valid slot with the larger seq
 * is current. Since format version 2 the header also names the data file the log is bound to
 * (struct snap_log_binding; identity.h says how it is used). A version 1 header (64 bytes, written
 * before bindings existed) is still read, as an unbound log; the next header written is version 2. A record is valid if its magic, version, log_id (equal to the current header's), slot
 * (its own area offset / 64) and header CRC check, its epoch is the one expected at its place in the chain, its runs are sorted,
 * disjoint and inside data_size, and the body CRC (runs and data) checks. The *chain* is the maximal
 * sequence of valid records starting at area offset 0 with epoch base_epoch, each following the
 * previous one at offset + total with epoch + 1. See commit.c for why this is the committed set.
 * If a record of this log with a later epoch than the chain's end exists further on, a committed
 * record was damaged: the walk reports SNAP_E_CORRUPT instead of ending the chain silently. That
 * search stops at the first intact header of an older generation (redo_log.c says why).
 *
 * The apply mark bounds what the data file may hold: a valid mark slot (magic, CRC, the log's
 * log_id) with epoch m says records up to m may have been applied, and no record after m was
 * (commit.c, invariant 2). A chain that ends before a mark at or above base_epoch lost applied
 * records to damage: the walk reports SNAP_E_CORRUPT. Marks are written alternately to slot
 * (m & 1), so a torn mark write leaves the previous mark intact; all-zero slots (logs written
 * before marks existed) bound nothing.
 */
#ifndef SNAPSHOT_REDO_LOG_H
#define SNAPSHOT_REDO_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define SNAP_LOG_MAGIC 0x31474f4c50414e53ull /* "SNAPLOG1" */
#define SNAP_REC_MAGIC 0x3143455250414e53ull /* "SNAPREC1" */
#define SNAP_LOG_VERSION 2u    /* of the header */
#define SNAP_LOG_VERSION_V1 1u /* the header before bindings: read, never written */
#define SNAP_REC_VERSION 1u    /* of a record (unchanged by version 2 of the header) */
#define SNAP_LOG_SLOT_SIZE 512u
#define SNAP_LOG_AREA_OFF 4096u
#define SNAP_REC_ALIGN 64u
#define SNAP_LOG_DEFAULT_CAPACITY (64ull << 20)
#define SNAP_LOG_MIN_CAPACITY (64ull << 10)
/* Epochs and header sequence numbers stay at or below this (centuries at a billion commits a
 * second), so epoch + 1 and seq + 1 never wrap: a header slot above it is corrupt, and
 * snap_log_header_write() refuses to write one (SNAP_E_CORRUPT) rather than write a header the next
 * open would pass over for an older one. Only a forged log gets near it. */
#define SNAP_LOG_MAX_COUNTER (1ull << 62)

/* The data file a log is bound to, as the log's header records it (identity.h). All zero: unbound
 * (a version 1 header, or the simulator's, which has no files). */
struct snap_log_binding {
    uint32_t kind;       /* enum snap_bind_kind (identity.h): none, xattr or inode */
    uint32_t btime_nsec; /* the data file's birth time (statx); 0 and 0: unknown */
    uint64_t dev;        /* the data file's st_dev and st_ino when the log was bound */
    uint64_t ino;
    int64_t btime_sec;
};

struct snap_log_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size; /* sizeof(struct snap_log_header) */
    uint64_t seq;         /* slot written last wins; slot index = seq & 1 */
    uint64_t log_id;      /* random, fixed for the log's life; records carry it. Changed only when
                             a log with no record to replay is taken over by another data file */
    uint64_t base_epoch;  /* epoch of the record at area offset 0 */
    uint64_t data_size;   /* committed size of the data file when this header was written */
    uint64_t area_size;   /* bytes in the record area */
    struct snap_log_binding binding; /* version 2 */
    uint32_t crc;         /* CRC-32C of the bytes above */
    uint32_t reserved;
};

/* Version 1: the same fields up to area_size, then crc and reserved: 64 bytes. */
#define SNAP_LOG_V1_CRC_OFF 56u
#define SNAP_LOG_V1_SIZE 64u

#define SNAP_MARK_MAGIC 0x314b524d50414e53ull /* "SNAPMRK1" */
#define SNAP_LOG_MARK_OFF 1024u
#define SNAP_LOG_MARK_SIZE 64u

struct snap_log_mark {
    uint64_t magic;
    uint64_t log_id; /* the log's (header) log_id: a mark of another generation bounds nothing */
    uint64_t epoch;  /* records up to this epoch may be in the data file; none after it */
    uint32_t crc;    /* CRC-32C of the bytes above */
    uint32_t reserved;
};

struct snap_rec_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_crc; /* CRC-32C of this header with header_crc = 0 */
    uint64_t log_id;
    uint64_t epoch;
    uint64_t data_size; /* size of the data file once this record is applied */
    uint64_t nruns;
    uint64_t payload; /* bytes of data */
    uint64_t total;   /* bytes of the record in the log, padding included */
    uint32_t body_crc; /* CRC-32C of the runs and the data */
    uint32_t slot;     /* area offset / 64 (low 32 bits): binds the header to its place, so a copy
                          of a record elsewhere (stale bytes, user data) is never taken for it */
};

struct snap_rec_run {
    uint64_t off;
    uint64_t len;
};

/* Bytes a record with nruns runs and payload data bytes takes in the log. */
uint64_t snap_rec_size(uint64_t nruns, uint64_t payload);

/* Fill the header at rec, with a body CRC (of the runs, then the data) that the caller computed
 * while it wrote the body — the commit path does so piece by piece, while the bytes are still in
 * cache. Padding is the caller's. */
void snap_rec_header_fill(void *rec, uint64_t area_off, uint64_t log_id, uint64_t epoch,
                          uint64_t data_size, uint64_t nruns, uint64_t payload, uint32_t body_crc);

/* Validation results, from most to least benign. */
enum snap_rec_check {
    SNAP_REC_OK = 0,
    SNAP_REC_NOT_A_RECORD, /* bad magic, version, header CRC, log_id or epoch: chain ends here */
    SNAP_REC_TORN_BODY,    /* header valid, body CRC or run table wrong: torn if it is the last */
};

/* Write a valid record's runs to the data file (step 6 of commit.c, and recovery's replay). Not
 * durable until barrier(SNAP_DATA). */
int snap_rec_apply(struct snap_backend *b, const struct snap_rec_header *h);

/* Check a record header read from area offset `area_off` against what the chain expects. */
enum snap_rec_check snap_rec_check_header(const struct snap_rec_header *h,
                                          const struct snap_log_header *lh, uint64_t epoch,
                                          uint64_t area_off);

/* Check the body of a record whose header passed (rec points at the whole record, h->total bytes). */
enum snap_rec_check snap_rec_check_body(const void *rec);

/* Header slots. read picks the current slot; errors: SNAP_E_BADMAGIC (no slot has the magic),
 * SNAP_E_VERSION, SNAP_E_CORRUPT (magic present but no slot checks, or the log is shorter than its
 * header says, or its slots are zero but its marks or first record are not), -errno. Returns 1
 * instead of 0 if slot 1 is all zero, slot 0 all zero or torn (the magic, a failing CRC), and the
 * marks and the first record slot are zero (a log whose creation was cut short: nothing can have
 * committed in it). A version 1 slot is returned
 * with its fields and a zero binding (out->version says 1). */
int snap_log_header_read(struct snap_backend *b, struct snap_log_header *out);
void snap_log_header_seal(struct snap_log_header *h);
/* Write h (sealed here) into slot h->seq & 1. Not durable until barrier(SNAP_LOG). SNAP_E_CORRUPT,
 * writing nothing, if its counters are above SNAP_LOG_MAX_COUNTER (a forged log's). */
int snap_log_header_write(struct snap_backend *b, struct snap_log_header *h);

/* Write the apply mark `epoch` of log log_id into slot (epoch & 1). Not durable until
 * barrier(SNAP_LOG). */
int snap_log_mark_write(struct snap_backend *b, uint64_t log_id, uint64_t epoch);
/* The highest valid mark of lh's log (0 if none) in *out. Errors: -errno from reads. */
int snap_log_mark_read(struct snap_backend *b, const struct snap_log_header *lh, uint64_t *out);

/* What walking the chain found. */
struct snap_log_chain {
    uint64_t records;    /* valid records in the chain */
    uint64_t first_epoch;
    uint64_t last_epoch; /* 0 if records == 0 */
    uint64_t end_off;    /* area offset just past the last valid record */
    uint64_t data_size;  /* committed data size: last record's, or the header's if none */
    uint64_t payload;    /* data bytes in all records */
    int torn_tail;       /* a record with a valid header but a bad body ends the chain */
};

/* Called for every valid record, in chain order; rec is the whole record. Non-zero stops the walk
 * and is returned by snap_log_walk(). */
typedef int (*snap_rec_visit_fn)(void *arg, const struct snap_rec_header *rec);

/* Walk the chain of the log described by lh. Errors: SNAP_E_CORRUPT (the chain ends before a valid
 * record of a later epoch, or before the apply mark: a committed record was damaged; visit has
 * seen the chain's records by then), -ENOMEM, -errno from reads. visit may be NULL. */
int snap_log_walk(struct snap_backend *b, const struct snap_log_header *lh, snap_rec_visit_fn visit,
                  void *arg, struct snap_log_chain *out);

/* Runs and data of a valid record. */
static inline const struct snap_rec_run *snap_rec_runs(const struct snap_rec_header *h)
{
    return (const struct snap_rec_run *)(h + 1);
}
static inline const uint8_t *snap_rec_data(const struct snap_rec_header *h)
{
    return (const uint8_t *)(snap_rec_runs(h) + h->nruns);
}

#endif /* SNAPSHOT_REDO_LOG_H */
