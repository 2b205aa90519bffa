/* redo_log.c — encoding, validating and walking the sidecar log's records (format in redo_log.h). */
#include "redo_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

_Static_assert(sizeof(struct snap_log_header) <= SNAP_LOG_SLOT_SIZE, "header fits its slot");
_Static_assert(sizeof(struct snap_log_header) == 96, "header layout is part of the format");
_Static_assert(offsetof(struct snap_log_header, binding) == SNAP_LOG_V1_CRC_OFF,
               "version 2 extends version 1 after area_size");
_Static_assert(sizeof(struct snap_log_mark) == 32, "mark layout is part of the format");
_Static_assert(SNAP_LOG_SLOT_SIZE * 2 <= SNAP_LOG_MARK_OFF &&
               SNAP_LOG_MARK_OFF + 2 * SNAP_LOG_MARK_SIZE <= SNAP_LOG_AREA_OFF,
               "mark slots lie between the header slots and the record area");
_Static_assert(sizeof(struct snap_rec_header) == 72, "record header layout is part of the format");
_Static_assert(sizeof(struct snap_rec_run) == 16, "run layout is part of the format");

uint64_t snap_rec_size(uint64_t nruns, uint64_t payload)
{
    uint64_t raw = sizeof(struct snap_rec_header) + nruns * sizeof(struct snap_rec_run) + payload;
    return (raw + SNAP_REC_ALIGN - 1) & ~(uint64_t)(SNAP_REC_ALIGN - 1);
}

static uint32_t rec_header_crc(const struct snap_rec_header *h)
{
    struct snap_rec_header copy = *h;
    copy.header_crc = 0;
    return snap_crc32c(0, &copy, sizeof copy);
}

void snap_rec_header_fill(void *rec, uint64_t area_off, uint64_t log_id, uint64_t epoch,
                          uint64_t data_size, uint64_t nruns, uint64_t payload, uint32_t body_crc)
{
    struct snap_rec_header *h = rec;
    *h = (struct snap_rec_header){
        .magic = SNAP_REC_MAGIC,
        .version = SNAP_REC_VERSION,
        .log_id = log_id,
        .epoch = epoch,
        .data_size = data_size,
        .nruns = nruns,
        .payload = payload,
        .total = snap_rec_size(nruns, payload),
        .body_crc = body_crc,
        .slot = (uint32_t)(area_off / SNAP_REC_ALIGN),
    };
    h->header_crc = rec_header_crc(h);
}

enum snap_rec_check snap_rec_check_header(const struct snap_rec_header *h,
                                          const struct snap_log_header *lh, uint64_t epoch,
                                          uint64_t area_off)
{
    if (h->magic != SNAP_REC_MAGIC || h->version != SNAP_REC_VERSION ||
        h->header_crc != rec_header_crc(h) || h->log_id != lh->log_id || h->epoch != epoch ||
        h->slot != (uint32_t)(area_off / SNAP_REC_ALIGN))
        return SNAP_REC_NOT_A_RECORD;
    /* A header that checks but describes an impossible record was written by us and then damaged,
     * or is a torn write whose CRC collided; either way the chain cannot continue through it. */
    if (h->total < sizeof *h || h->total % SNAP_REC_ALIGN || h->total > lh->area_size - area_off ||
        h->nruns > h->total / sizeof(struct snap_rec_run) || h->payload > h->total ||
        snap_rec_size(h->nruns, h->payload) != h->total || h->data_size < lh->data_size)
        return SNAP_REC_TORN_BODY;
    return SNAP_REC_OK;
}

enum snap_rec_check snap_rec_check_body(const void *rec)
{
    const struct snap_rec_header *h = rec;
    uint64_t body = h->nruns * sizeof(struct snap_rec_run) + h->payload;
    if (snap_crc32c(0, h + 1, body) != h->body_crc)
        return SNAP_REC_TORN_BODY;
    const struct snap_rec_run *runs = snap_rec_runs(h);
    uint64_t end = 0, sum = 0;
    for (uint64_t i = 0; i < h->nruns; i++) {
        if (runs[i].len == 0 || runs[i].off < end || runs[i].len > h->data_size ||
            runs[i].off > h->data_size - runs[i].len)
            return SNAP_REC_TORN_BODY;
        end = runs[i].off + runs[i].len;
        sum += runs[i].len;
    }
    return sum == h->payload ? SNAP_REC_OK : SNAP_REC_TORN_BODY;
}

void snap_log_header_seal(struct snap_log_header *h)
{
    h->magic = SNAP_LOG_MAGIC;
    h->version = SNAP_LOG_VERSION;
    h->header_size = sizeof *h;
    h->reserved = 0;
    h->crc = snap_crc32c(0, h, offsetof(struct snap_log_header, crc));
}

int snap_log_header_write(struct snap_backend *b, struct snap_log_header *h)
{
    if (h->seq > SNAP_LOG_MAX_COUNTER || h->base_epoch > SNAP_LOG_MAX_COUNTER)
        return SNAP_E_CORRUPT; /* the next open would take this slot for damage */
    snap_log_header_seal(h);
    return snap_be_write(b, SNAP_LOG, (h->seq & 1) * SNAP_LOG_SLOT_SIZE, h, sizeof *h);
}

/* Check a slot as read (h) and, for a version 1 slot, give it the current layout: its CRC moves to
 * h->crc and its binding (the bytes that followed it in the slot) becomes zero: unbound. */
static int slot_state(struct snap_log_header *h, uint64_t log_size)
{
    if (h->magic != SNAP_LOG_MAGIC)
        return SNAP_E_BADMAGIC;
    if (h->version == SNAP_LOG_VERSION_V1) {
        uint32_t crc;
        memcpy(&crc, (const uint8_t *)h + SNAP_LOG_V1_CRC_OFF, sizeof crc);
        if (h->header_size != SNAP_LOG_V1_SIZE || crc != snap_crc32c(0, h, SNAP_LOG_V1_CRC_OFF))
            return SNAP_E_CORRUPT;
        memset(&h->binding, 0, sizeof h->binding);
        h->crc = crc;
        h->reserved = 0;
    } else if (h->version != SNAP_LOG_VERSION) {
        return SNAP_E_VERSION;
    } else if (h->header_size != sizeof *h ||
               h->crc != snap_crc32c(0, h, offsetof(struct snap_log_header, crc)) ||
               h->binding.kind > 2 /* enum snap_bind_kind */) {
        return SNAP_E_CORRUPT;
    }
    if (h->area_size < SNAP_REC_ALIGN || h->area_size % SNAP_REC_ALIGN ||
        h->area_size > log_size - SNAP_LOG_AREA_OFF || h->base_epoch == 0 ||
        h->base_epoch > SNAP_LOG_MAX_COUNTER || h->seq > SNAP_LOG_MAX_COUNTER)
        return SNAP_E_CORRUPT; /* counters that far could wrap: not written by us */
    return 0;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

int snap_log_header_read(struct snap_backend *b, struct snap_log_header *out)
{
    uint64_t size;
    int rc = snap_be_size(b, SNAP_LOG, &size);
    if (rc)
        return rc;
    if (size < SNAP_LOG_AREA_OFF)
        return size == 0 ? 1 : SNAP_E_CORRUPT;
    struct snap_log_header slot[2];
    int st[2];
    for (int i = 0; i < 2; i++) {
        rc = snap_be_read(b, SNAP_LOG, (uint64_t)i * SNAP_LOG_SLOT_SIZE, &slot[i], sizeof slot[i]);
        if (rc)
            return rc;
        st[i] = slot_state(&slot[i], size);
    }
    if (st[0] && st[1]) {
        /* Creation writes the header last, into a log of zeros (recovery.c), into slot 0 only: a
         * creation cut short leaves zeros there, or, on persistent memory, where the write is
         * stores that a kill can cut between lines, a slot 0 that fails its CRC. Either way with
         * zero marks and no record (nothing can have committed); marks or a record besides them
         * mean the headers were wiped or damaged, not never written. */
        int torn0 = st[0] == SNAP_E_CORRUPT && slot[0].magic == SNAP_LOG_MAGIC;
        if (all_zero(&slot[1], sizeof slot[1]) && (torn0 || all_zero(&slot[0], sizeof slot[0]))) {
            uint8_t rest[SNAP_LOG_MARK_SIZE * 2 + SNAP_REC_ALIGN];
            rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_MARK_OFF, rest, SNAP_LOG_MARK_SIZE * 2);
            if (!rc && size >= SNAP_LOG_AREA_OFF + SNAP_REC_ALIGN)
                rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_AREA_OFF, rest + SNAP_LOG_MARK_SIZE * 2,
                                  SNAP_REC_ALIGN);
            else
                memset(rest + SNAP_LOG_MARK_SIZE * 2, 0, SNAP_REC_ALIGN);
            if (rc)
                return rc;
            return all_zero(rest, sizeof rest) ? 1 : SNAP_E_CORRUPT;
        }
        /* Report the most specific reason: a version mismatch beats damage beats foreign data. */
        if (st[0] == SNAP_E_VERSION || st[1] == SNAP_E_VERSION)
            return SNAP_E_VERSION;
        if (st[0] == SNAP_E_CORRUPT || st[1] == SNAP_E_CORRUPT)
            return SNAP_E_CORRUPT;
        return SNAP_E_BADMAGIC;
    }
    int pick = st[0] ? 1 : st[1] ? 0 : (slot[1].seq > slot[0].seq);
    /* A slot must sit where its seq says; otherwise it was copied around, not written by us. */
    if ((slot[pick].seq & 1) != (uint64_t)pick)
        return SNAP_E_CORRUPT;
    *out = slot[pick];
    return 0;
}

int snap_rec_apply(struct snap_backend *b, const struct snap_rec_header *h)
{
    const struct snap_rec_run *runs = snap_rec_runs(h);
    const uint8_t *data = snap_rec_data(h);
    for (uint64_t i = 0; i < h->nruns; data += runs[i].len, i++) {
        int rc = snap_be_write(b, SNAP_DATA, runs[i].off, data, runs[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

int snap_log_mark_write(struct snap_backend *b, uint64_t log_id, uint64_t epoch)
{
    struct snap_log_mark m = {.magic = SNAP_MARK_MAGIC, .log_id = log_id, .epoch = epoch};
    m.crc = snap_crc32c(0, &m, offsetof(struct snap_log_mark, crc));
    return snap_be_write(b, SNAP_LOG, SNAP_LOG_MARK_OFF + (epoch & 1) * SNAP_LOG_MARK_SIZE, &m, sizeof m);
}

int snap_log_mark_read(struct snap_backend *b, const struct snap_log_header *lh, uint64_t *out)
{
    *out = 0;
    for (uint64_t i = 0; i < 2; i++) {
        struct snap_log_mark m;
        int rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_MARK_OFF + i * SNAP_LOG_MARK_SIZE, &m, sizeof m);
        if (rc)
            return rc;
        /* A torn or damaged slot is passed over: the other one holds the mark before it. */
        if (m.magic == SNAP_MARK_MAGIC && m.log_id == lh->log_id && (m.epoch & 1) == i &&
            m.crc == snap_crc32c(0, &m, offsetof(struct snap_log_mark, crc)) && m.epoch > *out)
            *out = m.epoch;
    }
    return 0;
}

/* Is there, at or after area offset `from`, a record header of this log, in its own slot, with an
 * epoch above `epoch`? Such a record was written after record `epoch` committed (invariant 4 in
 * commit.c), so a chain that ends at `epoch` lost a committed record to damage. Headers are looked
 * for at every 64-byte offset, so a damaged length field cannot hide the successor.
 *
 * Where to stop. Since the last reset the log's records were written back to back from offset 0,
 * every byte of a committed record's span (padding included) overwritten. So an intact header of
 * an older generation (an earlier epoch, or another log's id) at offset p proves that this
 * generation's records never reached p: every later record of it lies before p, and the scan ends
 * there. In a log that has wrapped once, that is the record right after the chain, so an open
 * reads the chain and a few slots, not the whole area. Holes (never written) are skipped. */
static int later_record_exists(struct snap_backend *b, const struct snap_log_header *lh,
                               uint64_t from, uint64_t epoch, uint8_t *buf, size_t cap, int *found)
{
    const size_t hdr = sizeof(struct snap_rec_header);
    const uint64_t align_mask = ~(uint64_t)(SNAP_REC_ALIGN - 1);
    *found = 0;
    for (uint64_t pos = (from + SNAP_REC_ALIGN - 1) & align_mask; pos + hdr <= lh->area_size;) {
        uint64_t data;
        int rc = snap_be_next_data(b, SNAP_LOG, SNAP_LOG_AREA_OFF + pos, &data);
        if (rc)
            return rc;
        if (data >= SNAP_LOG_AREA_OFF + lh->area_size)
            break; /* only holes left */
        if (((data - SNAP_LOG_AREA_OFF) & align_mask) > pos) {
            pos = (data - SNAP_LOG_AREA_OFF) & align_mask;
            continue;
        }
        size_t len = lh->area_size - pos < cap ? (size_t)(lh->area_size - pos) : cap;
        rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_AREA_OFF + pos, buf, len);
        if (rc)
            return rc;
        for (size_t i = 0; i + hdr <= len; i += SNAP_REC_ALIGN) {
            const struct snap_rec_header *h = (const struct snap_rec_header *)(buf + i);
            if (h->magic != SNAP_REC_MAGIC || h->version != SNAP_REC_VERSION ||
                h->slot != (uint32_t)((pos + i) / SNAP_REC_ALIGN) || h->header_crc != rec_header_crc(h))
                continue; /* not an intact header in its own slot */
            if (h->log_id == lh->log_id && h->epoch > epoch) {
                *found = 1;
                return 0;
            }
            if (h->log_id != lh->log_id || h->epoch < lh->base_epoch)
                return 0; /* an older generation's record, intact: this one never got here */
        }
        if (len < cap)
            break;
        pos += len - SNAP_REC_ALIGN; /* the last slot's header may run into the next chunk */
    }
    return 0;
}

int snap_log_walk(struct snap_backend *b, const struct snap_log_header *lh, snap_rec_visit_fn visit,
                  void *arg, struct snap_log_chain *out)
{
    struct snap_log_chain c = {.first_epoch = lh->base_epoch, .data_size = lh->data_size};
    size_t cap = 64 << 10;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    uint64_t off = 0, epoch = lh->base_epoch;
    int rc = 0;
    while (off + sizeof(struct snap_rec_header) <= lh->area_size) {
        struct snap_rec_header h;
        rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_AREA_OFF + off, &h, sizeof h);
        if (rc)
            break;
        enum snap_rec_check st = snap_rec_check_header(&h, lh, epoch, off);
        if (st == SNAP_REC_NOT_A_RECORD) {
            c.torn_tail = h.magic == SNAP_REC_MAGIC && h.log_id == lh->log_id && h.epoch == epoch;
            break;
        }
        if (st == SNAP_REC_OK) {
            if (h.total > cap) {
                uint8_t *nb = realloc(buf, h.total);
                if (!nb) {
                    rc = -ENOMEM;
                    break;
                }
                buf = nb, cap = h.total;
            }
            rc = snap_be_read(b, SNAP_LOG, SNAP_LOG_AREA_OFF + off, buf, h.total);
            if (rc)
                break;
            /* Re-check the header as read with the body: the two reads must agree. */
            if (memcmp(buf, &h, sizeof h) == 0)
                st = snap_rec_check_body(buf);
            else
                st = SNAP_REC_TORN_BODY;
        }
        if (st == SNAP_REC_TORN_BODY) {
            c.torn_tail = 1;
            break;
        }
        if (visit && (rc = visit(arg, (const struct snap_rec_header *)buf)) != 0)
            break;
        c.records++;
        c.last_epoch = epoch;
        c.data_size = h.data_size;
        c.payload += h.payload;
        off += h.total;
        epoch++;
    }
    if (!rc) {
        /* The chain ended: a torn last record or the end of the log, unless a later record
         * exists — then a committed record in between was damaged. */
        int later;
        rc = later_record_exists(b, lh, off, epoch, buf, cap, &later);
        if (!rc && later)
            rc = SNAP_E_CORRUPT;
    }
    if (!rc) {
        /* ...or unless the apply mark says record `epoch` (or a later one) may be in the data
         * file: replaying the shorter chain over it would mix two states. */
        uint64_t mark;
        rc = snap_log_mark_read(b, lh, &mark);
        if (!rc && mark >= epoch) /* epoch >= base_epoch: an older generation's mark never counts */
            rc = SNAP_E_CORRUPT;
    }
    c.end_off = off;
    free(buf);
    if (out)
        *out = c;
    return rc;
}
