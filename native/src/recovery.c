/* recovery.c — bring a data file to its last committed state from the sidecar log (see commit.c for
 * the protocol and the invariants cited here), once the log is known to be the data file's
 * (identity.h: a log found and not proven the data file's is never replayed). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "region.h"

struct replay {
    struct snap_backend *be;
    uint64_t size; /* data file size as replay goes */
};

static int replay_record(void *arg, const struct snap_rec_header *h)
{
    struct replay *rp = arg;
    int rc;
    if (h->data_size > rp->size) {
        rc = snap_be_resize(rp->be, SNAP_DATA, h->data_size);
        if (rc)
            return rc;
        rp->size = h->data_size;
    }
    return snap_rec_apply(rp->be, h);
}

static uint64_t random_log_id(void)
{
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != sizeof id) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
    }
    return id ? id : 1;
}

/* A fresh log for a data file whose current bytes are its committed state, bound to it (id; NULL:
 * the simulator, unbound). */
static int create_log(struct snap_backend *be, struct snap_identity *id, uint64_t data_size,
                      uint64_t capacity, struct snap_log_header *lh)
{
    *lh = (struct snap_log_header){
        .seq = 2, /* slot 0; slot 1 stays zero until the first checkpoint */
        .log_id = random_log_id(),
        .base_epoch = 1,
        .data_size = data_size,
        .area_size = capacity,
    };
    if (id)
        snap_identity_stamp(id, lh);
    /* The header commits data_size, so the data file's size must be durable first (a new file was
     * just extended). Then size the log, header last: a crash before that leaves all-zero slots,
     * which the next open treats as "no log yet", never as a log with committed records. The data
     * file's xattr follows the header (identity.h, "Order"). */
    int rc = snap_be_barrier(be, SNAP_DATA);
    if (!rc)
        rc = snap_be_resize(be, SNAP_LOG, SNAP_LOG_AREA_OFF + capacity);
    if (!rc)
        rc = snap_log_header_write(be, lh);
    if (!rc)
        rc = snap_be_barrier(be, SNAP_LOG);
    if (!rc && id)
        rc = snap_identity_finish(id, be, lh);
    return rc;
}

/* A log not proven the data file's (identity.h, UNPROVEN): a copy made without xattrs, a stale log
 * of an earlier file of this name, another region's. Its records, if any, may be another file's:
 * SNAP_E_MISMATCH, nothing changed. With nothing to replay, the data file's bytes and size are the
 * committed state, as for a data file without a log: the log is taken over, under a new log_id (the
 * file it was bound to, if it still exists, no longer finds it as its own) and this file's binding.
 * An empty data file cannot be adopted (there is no size to keep): SNAP_E_MISMATCH too. */
static int take_over(struct snap_backend *be, struct snap_identity *id, uint64_t dsize,
                     struct snap_log_header *lh, struct snap_recovery *out)
{
    struct snap_log_chain chain;
    int rc = snap_log_walk(be, lh, NULL, NULL, &chain);
    if (rc)
        return rc;
    if (chain.records || dsize == 0)
        return SNAP_E_MISMATCH;
    lh->seq++;
    lh->log_id = random_log_id(); /* the area's old records can never join the new id's chain */
    lh->base_epoch += (uint64_t)chain.torn_tail;
    lh->data_size = dsize;
    snap_identity_stamp(id, lh);
    rc = snap_log_reset(be, lh, 1); /* the header commits dsize: D's size first, as in create_log */
    if (!rc)
        rc = snap_identity_finish(id, be, lh);
    if (rc)
        return rc;
    *out = (struct snap_recovery){.log = *lh, .size = dsize};
    return 0;
}

int snap_recovery_run(struct snap_backend *be, uint64_t log_capacity, struct snap_recovery *out)
{
    struct snap_identity *id = be->identity; /* NULL: no file identities (the simulator) */
    uint64_t dsize;
    struct snap_log_header lh;
    int rc = snap_be_size(be, SNAP_DATA, &dsize);
    if (rc)
        return rc;
    rc = snap_log_header_read(be, &lh);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* No log yet. Unless the data file says it has one elsewhere (then that log, and the
         * records it may hold, are missing: identity.h). */
        if (id && (rc = snap_identity_may_create(id)) != 0)
            return rc;
        rc = create_log(be, id, dsize, log_capacity, &lh);
        if (rc)
            return rc;
        *out = (struct snap_recovery){.log = lh, .size = dsize};
        return 0;
    }
    /* Is the log this data file's? Decided before anything else reads the data file's size
     * against the log's: another file's log says nothing about this one. */
    enum snap_log_verdict verdict = id ? snap_identity_judge(id, &lh) : SNAP_LOG_OURS;
    if (verdict == SNAP_LOG_FOREIGN)
        return SNAP_E_MISMATCH;
    if (verdict == SNAP_LOG_UNPROVEN)
        return take_over(be, id, dsize, &lh, out);
    /* The data file never shrinks below a size the header committed (invariant 7): if it did,
     * someone truncated it and bytes the log no longer holds are gone. Change nothing. */
    if (dsize < lh.data_size)
        return SNAP_E_TRUNCATED;

    /* Validate the whole chain before changing anything, so a corrupt log is reported, not half
     * applied. */
    struct snap_log_chain chain;
    rc = snap_log_walk(be, &lh, NULL, NULL, &chain);
    if (rc)
        return rc;

    struct replay rp = {.be = be, .size = dsize};
    if (chain.records) {
        rc = snap_log_walk(be, &lh, replay_record, &rp, NULL); /* idempotent: invariant 5 */
        if (rc)
            return rc;
    }
    int changed = chain.records > 0;
    if (rp.size != chain.data_size) { /* growth that never committed */
        rc = snap_be_resize(be, SNAP_DATA, chain.data_size);
        if (rc)
            return rc;
        changed = 1;
    }
    /* A torn record at area offset 0 (the first after a checkpoint) sits where the next record
     * would go, with the epoch it would carry: a retry could complete it. Skip that epoch
     * (invariant 9). A torn record further on is left behind by the header below anyway; an empty
     * chain with nothing torn needs no header, so a clean open costs no barrier. */
    uint64_t skip = chain.torn_tail && chain.records == 0;
    /* The binding changes when the pair was copied or moved (the data file's inode differs from the
     * one recorded) or the log was unbound: the same header carries it, before the xattr. */
    int rebind = id && !snap_identity_is_stamped(id, &lh);
    if (chain.records || skip || rebind) {
        /* Empty the log only once the replayed bytes are durable (invariant 3). A crash before
         * this header is durable recovers the same log again. */
        lh.seq++;
        lh.base_epoch += chain.records + skip;
        lh.data_size = chain.data_size;
        if (id)
            snap_identity_stamp(id, &lh);
        rc = snap_log_reset(be, &lh, changed);
    } else if (changed) {
        rc = snap_be_barrier(be, SNAP_DATA);
    }
    if (rc)
        return rc;
    if (id && (rc = snap_identity_finish(id, be, &lh)) != 0)
        return rc;
    *out = (struct snap_recovery){.log = lh, .size = chain.data_size, .replayed = chain.records};
    return 0;
}
