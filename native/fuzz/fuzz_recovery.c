/* fuzz_recovery.c — libFuzzer target: arbitrary data file and log images (fuzz_format.h) through
 * the log parser, recovery, one commit and a reopen, checking what each of them promises. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "crc32c.h"
#include "fuzz_format.h"
#include "redo_log.h"
#include "sim.h"
#include "snapshot.h"
#include "testkit.h"

/* Committed sizes above this are legal, but the simulator would allocate them: not explored. */
#define MAX_REGION (1u << 20)

/* A broken promise: report it the way libFuzzer records a crash. */
#define ENSURE(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_recovery: %s:%d: broken: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* One region at a time needs one 1 GiB slot; the default 1 TiB arena only burdens ASan. */
    setenv("SNAPSHOT_ARENA_SIZE", "4G", 0);
    return 0;
}

/* ---- Decoding the input ----------------------------------------------------------------------- */

struct images {
    unsigned flags;
    uint8_t *data;
    size_t dsize;
    uint8_t *log; /* NULL: no log file */
    size_t lsize;
};

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static int decode(const uint8_t *in, size_t n, struct images *im)
{
    *im = (struct images){0};
    if (n < FUZZ_HEADER_LEN)
        return -1;
    im->dsize = (size_t)in[0] | (size_t)in[1] << 8;
    im->flags = in[2];
    in += FUZZ_HEADER_LEN, n -= FUZZ_HEADER_LEN;
    im->data = calloc(im->dsize + 1, 1);
    if (!im->data)
        return -1;
    size_t take = min_sz(n, im->dsize);
    memcpy(im->data, in, take);
    in += take, n -= take;
    if (n == 0)
        return 0;
    if (im->flags & FUZZ_RAW_LOG) {
        im->lsize = n;
        im->log = malloc(n);
        if (!im->log)
            return -1;
        memcpy(im->log, in, n);
        return 0;
    }
    size_t slots = min_sz(n, FUZZ_SLOTS_LEN);
    size_t max_area = FUZZ_MAX_LOG - SNAP_LOG_AREA_OFF;
    size_t area = min_sz(n - slots, max_area);
    size_t want = (area + 4095) & ~(size_t)4095;
    if (want == 0)
        want = 4096;
    for (size_t i = 0; i < 2; i++) { /* room for the area a slot claims, so it can be valid */
        struct snap_log_header h;
        if ((i + 1) * SNAP_LOG_SLOT_SIZE > slots)
            break;
        memcpy(&h, in + i * SNAP_LOG_SLOT_SIZE, sizeof h);
        if (h.magic == SNAP_LOG_MAGIC && h.area_size > want && h.area_size <= max_area)
            want = (size_t)h.area_size;
    }
    im->lsize = SNAP_LOG_AREA_OFF + want;
    im->log = calloc(im->lsize, 1);
    if (!im->log)
        return -1;
    memcpy(im->log, in, slots);
    memcpy(im->log + SNAP_LOG_AREA_OFF, in + slots, area);
    return 0;
}

static void images_free(struct images *im)
{
    free(im->data);
    free(im->log);
}

/* Recompute every CRC whose magic is present (FUZZ_RESEAL). */
static void reseal(uint8_t *log, size_t lsize)
{
    for (size_t i = 0; i < 2; i++) {
        struct snap_log_header h;
        if (i * SNAP_LOG_SLOT_SIZE + sizeof h > lsize)
            break;
        memcpy(&h, log + i * SNAP_LOG_SLOT_SIZE, sizeof h);
        if (h.magic != SNAP_LOG_MAGIC)
            continue;
        h.crc = snap_crc32c(0, &h, offsetof(struct snap_log_header, crc));
        memcpy(log + i * SNAP_LOG_SLOT_SIZE, &h, sizeof h);
    }
    if (lsize <= SNAP_LOG_AREA_OFF)
        return;
    uint8_t *area = log + SNAP_LOG_AREA_OFF;
    size_t alen = lsize - SNAP_LOG_AREA_OFF;
    for (size_t off = 0; off + sizeof(struct snap_rec_header) <= alen; off += SNAP_REC_ALIGN) {
        struct snap_rec_header h;
        memcpy(&h, area + off, sizeof h);
        if (h.magic != SNAP_REC_MAGIC)
            continue;
        uint64_t room = h.total <= alen - off ? h.total : 0;
        if (room >= sizeof h && h.nruns <= room / sizeof(struct snap_rec_run) && h.payload <= room &&
            sizeof h + h.nruns * sizeof(struct snap_rec_run) + h.payload <= room)
            h.body_crc = snap_crc32c(0, area + off + sizeof h,
                                     h.nruns * sizeof(struct snap_rec_run) + h.payload);
        h.header_crc = 0;
        h.header_crc = snap_crc32c(0, &h, sizeof h);
        memcpy(area + off, &h, sizeof h);
    }
}

/* ---- The walk, checked, and the state recovery must produce ----------------------------------- */

struct model {
    const struct snap_log_header *lh;
    uint64_t next_epoch;
    uint8_t *buf; /* the data file as replay goes */
    uint64_t len;
    int too_big; /* a record sets a size above MAX_REGION: not modelled, not opened */
};

/* Make the model's data file `n` bytes long; new bytes are zero, as after a resize. */
static void model_resize(struct model *m, uint64_t n)
{
    if (n > m->len) {
        uint8_t *b = realloc(m->buf, (size_t)n);
        ENSURE(b);
        memset(b + m->len, 0, (size_t)(n - m->len));
        m->buf = b;
    }
    m->len = n;
}

/* Every record the walk hands out must be what redo_log.h calls valid; replay it on the model. */
static int visit(void *arg, const struct snap_rec_header *h)
{
    struct model *m = arg;
    ENSURE(h->magic == SNAP_REC_MAGIC && h->version == SNAP_REC_VERSION);
    ENSURE(h->log_id == m->lh->log_id && h->epoch == m->next_epoch);
    ENSURE(h->total == snap_rec_size(h->nruns, h->payload));
    ENSURE(h->data_size >= m->lh->data_size);
    const struct snap_rec_run *runs = snap_rec_runs(h);
    uint64_t end = 0, sum = 0;
    for (uint64_t i = 0; i < h->nruns; i++) {
        ENSURE(runs[i].len > 0 && runs[i].off >= end);
        ENSURE(runs[i].len <= h->data_size && runs[i].off <= h->data_size - runs[i].len);
        end = runs[i].off + runs[i].len;
        sum += runs[i].len;
    }
    ENSURE(sum == h->payload);
    m->next_epoch++;
    if (h->data_size > MAX_REGION)
        m->too_big = 1;
    if (m->too_big)
        return 0;
    if (h->data_size > m->len)
        model_resize(m, h->data_size);
    const uint8_t *data = snap_rec_data(h);
    for (uint64_t i = 0; i < h->nruns; i++) {
        memcpy(m->buf + runs[i].off, data, (size_t)runs[i].len);
        data += runs[i].len;
    }
    return 0;
}

/* Is the simulated file still exactly these bytes? */
static int sim_file_is(struct snap_sim *sim, const char *name, const uint8_t *bytes, size_t len)
{
    uint64_t size;
    if (snap_sim_size(sim, name, 0, &size) || size != len)
        return 0;
    uint8_t *now = malloc(len + 1);
    ENSURE(now);
    int same = snap_sim_read(sim, name, 0, 0, now, len) == 0 && (!len || !memcmp(now, bytes, len));
    free(now);
    return same;
}

/* Is there, at any 64-byte offset of the area, a record header of this log (CRC and all) with an
 * epoch above the one the chain expected at its end? See the KNOWN BUG note in
 * LLVMFuzzerTestOneInput. */
static int later_record_anywhere(const struct images *im, const struct snap_log_header *lh,
                                 const struct snap_log_chain *c)
{
    struct snap_rec_header h;
    uint64_t end = SNAP_LOG_AREA_OFF + lh->area_size;
    for (uint64_t at = SNAP_LOG_AREA_OFF; im->log && at + sizeof h <= end; at += SNAP_REC_ALIGN) {
        memcpy(&h, im->log + at, sizeof h);
        uint32_t crc = h.header_crc;
        h.header_crc = 0;
        if (h.magic == SNAP_REC_MAGIC && h.version == SNAP_REC_VERSION &&
            h.log_id == lh->log_id && h.epoch > lh->base_epoch + c->records &&
            h.slot == (uint32_t)((at - SNAP_LOG_AREA_OFF) / SNAP_REC_ALIGN) &&
            crc == snap_crc32c(0, &h, sizeof h))
            return 1;
    }
    return 0;
}

/* Triage: FUZZ_DUMP=DIR writes the decoded images as DIR/f and DIR/f.snaplog, for `snapshot inspect`
 * and `snapshot verify`. */
static void dump(const struct images *im)
{
    const char *dir = getenv("FUZZ_DUMP");
    if (!dir || !*dir)
        return;
    const char *names[2] = {"f", "f.snaplog"};
    const uint8_t *bytes[2] = {im->data, im->log};
    size_t lens[2] = {im->dsize, im->lsize};
    for (int i = 0; i < 2 && (i == 0 || im->log); i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(bytes[i], 1, lens[i], f) != lens[i] || fclose(f))
            fprintf(stderr, "fuzz_recovery: cannot write %s\n", path);
    }
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- One input -------------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    struct images im;
    if (decode(in, n, &im)) {
        images_free(&im);
        return 0;
    }
    if (im.log && (im.flags & FUZZ_RESEAL))
        reseal(im.log, im.lsize);
    dump(&im);
    struct snap_sim *sim = snap_sim_new();
    ENSURE(sim);
    ENSURE(snap_sim_put(sim, "f", im.data, im.dsize) == 0);
    if (im.log)
        ENSURE(snap_sim_put(sim, "f.snaplog", im.log, im.lsize) == 0);

    /* The parser on its own: header, then the chain with every record checked. */
    struct snap_backend *be;
    ENSURE(snap_backend_sim_open(sim, "f", 0, &be) == 0);
    struct snap_log_header lh;
    struct snap_log_chain chain = {0};
    struct model m = {.lh = &lh};
    model_resize(&m, im.dsize);
    if (im.dsize)
        memcpy(m.buf, im.data, im.dsize);
    int hrc = snap_log_header_read(be, &lh), wrc = 0;
    if (hrc == 0) {
        ENSURE(lh.magic == SNAP_LOG_MAGIC && lh.base_epoch != 0 && lh.area_size % SNAP_REC_ALIGN == 0);
        m.next_epoch = lh.base_epoch;
        wrc = snap_log_walk(be, &lh, visit, &m, &chain);
        ENSURE(chain.end_off <= lh.area_size && chain.end_off % SNAP_REC_ALIGN == 0);
        ENSURE(chain.first_epoch == lh.base_epoch);
        ENSURE(chain.records == m.next_epoch - lh.base_epoch);
        ENSURE(chain.records ? chain.last_epoch == lh.base_epoch + chain.records - 1
                             : chain.last_epoch == 0);
        ENSURE(wrc == 0 || wrc == SNAP_E_CORRUPT);
    } else {
        ENSURE(hrc == 1 || hrc == SNAP_E_BADMAGIC || hrc == SNAP_E_VERSION || hrc == SNAP_E_CORRUPT);
    }
    snap_be_close(be);

    /* What snap_open() must answer (region.c prepare() and recovery.c, with the opts below). */
    int give_size = (im.flags & FUZZ_GIVE_SIZE) && im.dsize;
    int want;
    uint64_t size = 0;
    if (hrc == 1) {
        want = im.dsize ? 0 : SNAP_E_INVAL; /* no log: the data file is adopted, if it has bytes */
        size = im.dsize;
    } else if (hrc < 0) {
        want = hrc;
    } else if (im.dsize < lh.data_size) {
        want = SNAP_E_TRUNCATED;
    } else if (wrc) {
        want = wrc;
    } else {
        size = chain.data_size;
        want = size == 0 ? SNAP_E_INVAL : give_size && im.dsize != size ? SNAP_E_SIZE : 0;
    }
    if (m.too_big || size > MAX_REGION)
        goto out;
    /* Counters within a few steps of SNAP_LOG_MAX_COUNTER: open, commit or close may refuse the
     * header write that would pass it (SNAP_E_CORRUPT). Only forged logs get there;
     * test_bad_input checks that case deterministically. */
    if (hrc == 0 && (lh.seq > SNAP_LOG_MAX_COUNTER - 8 ||
                     lh.base_epoch + chain.records > SNAP_LOG_MAX_COUNTER - 8))
        goto out;
    if (hrc == 0 && want == 0)
        model_resize(&m, size);

    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS, .log_capacity = 4096,
                      .size = give_size ? im.dsize : 0};
    snap_region *r;
    int rc = snap_open_sim("f", &o, sim, &r);
    if (rc != want)
        fprintf(stderr, "snap_open: %d (%s), expected %d (%s)\n", rc, snap_strerror(rc), want,
                snap_strerror(want));
    ENSURE(rc == want);
    if (rc) {
        ENSURE(r == NULL);
        if (rc != SNAP_E_INVAL && rc != SNAP_E_SIZE) { /* refused before recovery changed a byte */
            ENSURE(sim_file_is(sim, "f", im.data, im.dsize));
            if (im.log)
                ENSURE(sim_file_is(sim, "f.snaplog", im.log, im.lsize));
        }
        goto out;
    }

    /* The region is the committed state. */
    uint8_t *base = snap_base(r);
    ENSURE(snap_size(r) == size);
    ENSURE(memcmp(base, m.buf, (size_t)size) == 0);

    /* A known limit, not a bug to guard against forever: a forged record header — this log's
     * log_id, a later epoch, the slot it sits in and a valid CRC — placed inside an accepted
     * record's payload is not looked at while it is behind the chain's end, and is taken as proof
     * of a lost record once later commits leave it past the end. Real logs cannot contain one
     * (it needs the log's random id and a CRC over it), crafted inputs can; skip those. */
    if (hrc == 0 && later_record_anywhere(&im, &lh, &chain)) {
        ENSURE(snap_close(r) == 0);
        goto out;
    }

    /* One tracked store (and a growth), committed; then closed and reopened: still there. */
    uint64_t h = fnv1a(in, n);
    uint64_t off = h % size;
    base[off] ^= (uint8_t)(h >> 56) | 1;
    ENSURE(snap_track_offset(r, off, 1) == 0);
    unsigned grow = im.flags >> FUZZ_GROW_SHIFT;
    if (grow) {
        uint64_t nsize = size + (uint64_t)grow * 64 - (h >> 20) % 64;
        ENSURE(snap_grow(r, nsize) == 0);
        base[nsize - 1] = 0x5a;
        ENSURE(snap_track_offset(r, nsize - 1, 1) == 0);
        size = nsize;
    }
    rc = snap_msync(r);
    if (rc)
        fprintf(stderr, "snap_msync: %d (%s)\n", rc, snap_strerror(rc));
    ENSURE(rc == 0);
    model_resize(&m, size);
    memcpy(m.buf, base, (size_t)size);
    ENSURE(snap_close(r) == 0);

    o.size = 0;
    rc = snap_open_sim("f", &o, sim, &r);
    if (rc)
        fprintf(stderr, "reopen: %d (%s)\n", rc, snap_strerror(rc));
    ENSURE(rc == 0);
    ENSURE(snap_size(r) == size);
    ENSURE(memcmp(snap_base(r), m.buf, (size_t)size) == 0);
    snap_stats st;
    ENSURE(snap_stats_get(r, &st) == 0 && st.recovered_records == 0); /* close emptied the log */
    ENSURE(snap_close(r) == 0);

out:
    free(m.buf);
    snap_sim_free(sim);
    images_free(&im);
    return 0;
}
