/* pstore.h — the persistence layer the C workloads (B-tree, YCSB-C store) are written against once,
 * compiled once per back end so that every system runs the same algorithm.
 *
 * The back end is chosen at compile time with -DPSTORE_KIND=PSTORE_SNAPSHOT (or _PMDK, _WAL, _MSYNC);
 * see README.md in this directory for what each one does. The calls on the hot path (pstore_ptr,
 * pstore_off, pstore_add) are inline.
 *
 * Rules for the workload:
 *   - every update is one transaction: pstore_begin(), then pstore_add() on each range *before*
 *     modifying it, pstore_alloc()/pstore_free() as needed, then pstore_commit();
 *   - memory returned by pstore_alloc() is already part of the transaction that allocated it: it
 *     needs no pstore_add() in that transaction;
 *   - persistent pointers are poff (offsets from the store's base), never raw addresses;
 *   - one writer at a time between begin and commit (the workload holds a lock). With
 *     PSTORE_SNAPSHOT, pstore_commit() may run on several threads at once (group commit) as long as
 *     no modification runs concurrently with it (take a rwlock exclusively to modify, shared to
 *     commit); the other kinds commit under the exclusive lock.
 * Errors: 0 or a negative code; pstore_error() names it. Failures inside a transaction that leave
 * no way to continue (PMDK refusing to log a range) print a message and abort the process.
 */
#ifndef PSTORE_H
#define PSTORE_H

#include <stddef.h>
#include <stdint.h>

#define PSTORE_SNAPSHOT 1
#define PSTORE_PMDK 2
#define PSTORE_WAL 3
#define PSTORE_MSYNC 4

#ifndef PSTORE_KIND
#error "compile with -DPSTORE_KIND=PSTORE_SNAPSHOT, PSTORE_PMDK, PSTORE_WAL or PSTORE_MSYNC"
#endif

#if PSTORE_KIND == PSTORE_PMDK
#include <libpmemobj.h>
#endif

typedef uint64_t poff; /* a persistent pointer: offset from the store's base; 0 = NULL */
typedef struct pstore pstore;

/* Error codes of the layer itself (besides -errno and, for PSTORE_SNAPSHOT, SNAP_E_* codes). */
enum {
    PSTORE_E_FORMAT = -40001, /* the file is not a store of this kind, or its header is damaged */
    PSTORE_E_SIZE,            /* the size or root size asked for differs from the store's */
    PSTORE_E_LOG,             /* the WAL's redo record is damaged in a way a torn write cannot explain */
    PSTORE_E_PMDK,            /* libpmemobj failed; pstore_error() gives pmemobj_errormsg() */
    PSTORE_E_NOSPACE          /* the medium has less free space than the store needs */
};

/* Create a store of `size` bytes at `path` (if absent) or reopen it, running recovery; the root
 * object (root_size bytes, zero at creation) must have the same size on reopening. *out is the
 * handle, or NULL on failure. */
int pstore_open(pstore **out, const char *path, uint64_t size, size_t root_size);
const char *pstore_error(int err);
void *pstore_root(pstore *ps);
void pstore_begin(pstore *ps);
poff pstore_alloc(pstore *ps, size_t n); /* zeroed; inside begin/commit; 0 if full */
void pstore_free(pstore *ps, poff o);    /* inside begin/commit; o from pstore_alloc() */
int pstore_commit(pstore *ps);           /* the transaction is durable when this returns 0 */
void pstore_close(pstore *ps);           /* an open transaction is discarded */
const char *pstore_name(void);           /* "snapshot", "pmdk", "wal-msync", "msync" */
/* Remove a closed store's files (the data file and its sidecar, if any); 0 or -errno. */
int pstore_unlink(const char *path);

/* ---- Inline part: the handle's first member, read by the hot calls --------------------------- */

struct pstore_range {
    uint64_t off, len;
};

struct pstore_hot {
    char *base;
#if PSTORE_KIND == PSTORE_PMDK
    uint64_t pool_uuid_lo;
#elif PSTORE_KIND == PSTORE_WAL || PSTORE_KIND == PSTORE_MSYNC
    struct pstore_range *ranges; /* what this transaction modifies, in pstore_add() order */
    size_t nranges, cap;
#endif
};

#if PSTORE_KIND == PSTORE_WAL || PSTORE_KIND == PSTORE_MSYNC
void pstore_ranges_grow(pstore *ps); /* out of line: doubles the range array or aborts */
#endif
#if PSTORE_KIND == PSTORE_PMDK
void pstore_pmdk_add_failed(int err); /* prints and aborts */
#endif

static inline void *pstore_ptr(pstore *ps, poff o)
{
    const struct pstore_hot *h = (const struct pstore_hot *)ps;
#if PSTORE_KIND == PSTORE_PMDK
    /* PMDK's own idiom (what D_RW/D_RO expand to): the oid resolved through the pool cache. */
    PMEMoid oid = {h->pool_uuid_lo, o};
    return pmemobj_direct(oid);
#else
    return o ? h->base + o : NULL;
#endif
}

static inline poff pstore_off(pstore *ps, const void *p)
{
    const struct pstore_hot *h = (const struct pstore_hot *)ps;
    return p ? (poff)((const char *)p - h->base) : 0;
}

static inline void pstore_add(pstore *ps, const void *p, size_t n)
{
#if PSTORE_KIND == PSTORE_SNAPSHOT
    /* The clang plugin tracks the stores themselves. */
    (void)ps, (void)p, (void)n;
#elif PSTORE_KIND == PSTORE_PMDK
    (void)ps;
    int rc = pmemobj_tx_add_range_direct(p, n);
    if (rc)
        pstore_pmdk_add_failed(rc);
#else
    struct pstore_hot *h = (struct pstore_hot *)ps;
    uint64_t off = (uint64_t)((const char *)p - h->base);
    if (h->nranges) {
        /* Consecutive adds of one node often touch the same or the next bytes: extend. */
        struct pstore_range *last = &h->ranges[h->nranges - 1];
        if (off >= last->off && off <= last->off + last->len) {
            if (off + n > last->off + last->len)
                last->len = off + n - last->off;
            return;
        }
    }
    if (h->nranges == h->cap)
        pstore_ranges_grow(ps);
    h->ranges[h->nranges].off = off;
    h->ranges[h->nranges].len = n;
    h->nranges++;
#endif
}

#endif /* PSTORE_H */
