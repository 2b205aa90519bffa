/* pstore_pmdk.c — the PMDK back end: a libpmemobj pool, updated with PMDK's documented
 * transactional idiom (pmemobj_tx_begin, pmemobj_tx_add_range_direct before each modification,
 * pmemobj_tx_zalloc/pmemobj_tx_free, pmemobj_tx_commit + pmemobj_tx_end). Persistent pointers are
 * the offsets of PMEMoids in this pool. */
#include "pstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PSTORE_LAYOUT "pstore-v1"

struct pstore {
    struct pstore_hot hot;
    PMEMobjpool *pool;
    PMEMoid root;
    size_t root_size;
};

static _Thread_local char last_error[512];

const char *pstore_name(void)
{
    return "pmdk";
}

const char *pstore_error(int err)
{
    switch (err) {
    case PSTORE_E_FORMAT: return "not a pool of this layout";
    case PSTORE_E_SIZE: return "root size differs from the pool's";
    case PSTORE_E_PMDK: return last_error;
    case PSTORE_E_NOSPACE: return last_error;
    default: return err < 0 ? strerror(-err) : "unknown error";
    }
}

static int pmdk_failed(const char *what)
{
    snprintf(last_error, sizeof last_error, "%s: %s", what, pmemobj_errormsg());
    return PSTORE_E_PMDK;
}

void pstore_pmdk_add_failed(int err)
{
    fprintf(stderr, "pstore: pmemobj_tx_add_range_direct failed (%d): %s\n", err, pmemobj_errormsg());
    abort();
}

/* The pool is created at its full size at once: refuse early, saying how much is missing. */
static int check_space(const char *path, uint64_t size)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs sv;
    if (statvfs(dir, &sv))
        return -errno;
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail < size) {
        snprintf(last_error, sizeof last_error,
                 "the PMDK pool needs %llu MiB but %.200s has only %llu MiB free",
                 (unsigned long long)(size >> 20), dir, (unsigned long long)(avail >> 20));
        return PSTORE_E_NOSPACE;
    }
    return 0;
}

int pstore_open(pstore **out, const char *path, uint64_t size, size_t root_size)
{
    *out = NULL;
    pstore *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    int rc = 0;
    if (access(path, F_OK) == 0) {
        ps->pool = pmemobj_open(path, PSTORE_LAYOUT);
        if (!ps->pool)
            rc = pmdk_failed("pmemobj_open");
    } else {
        if (size < PMEMOBJ_MIN_POOL)
            size = PMEMOBJ_MIN_POOL;
        rc = check_space(path, size);
        if (!rc) {
            ps->pool = pmemobj_create(path, PSTORE_LAYOUT, size, 0644);
            if (!ps->pool)
                rc = pmdk_failed("pmemobj_create");
        }
    }
    if (rc) {
        free(ps);
        return rc;
    }
    size_t existing = pmemobj_root_size(ps->pool);
    if (existing && existing != root_size) {
        pmemobj_close(ps->pool);
        free(ps);
        return PSTORE_E_SIZE;
    }
    ps->root = pmemobj_root(ps->pool, root_size);
    if (OID_IS_NULL(ps->root)) {
        rc = pmdk_failed("pmemobj_root");
        pmemobj_close(ps->pool);
        free(ps);
        return rc;
    }
    ps->root_size = root_size;
    ps->hot.base = (char *)ps->pool;
    ps->hot.pool_uuid_lo = ps->root.pool_uuid_lo;
    *out = ps;
    return 0;
}

void *pstore_root(pstore *ps)
{
    return pmemobj_direct(ps->root);
}

void pstore_begin(pstore *ps)
{
    int rc = pmemobj_tx_begin(ps->pool, NULL, TX_PARAM_NONE);
    if (rc) {
        fprintf(stderr, "pstore: pmemobj_tx_begin failed: %s\n", pmemobj_errormsg());
        abort();
    }
}

poff pstore_alloc(pstore *ps, size_t n)
{
    (void)ps;
    /* Without POBJ_XALLOC_NO_ABORT a failed allocation aborts the transaction; keep it open. */
    PMEMoid oid = pmemobj_tx_xalloc(n, 1, POBJ_XALLOC_ZERO | POBJ_XALLOC_NO_ABORT);
    return OID_IS_NULL(oid) ? 0 : oid.off;
}

void pstore_free(pstore *ps, poff o)
{
    if (!o)
        return;
    PMEMoid oid = {ps->hot.pool_uuid_lo, o};
    if (pmemobj_tx_free(oid)) {
        fprintf(stderr, "pstore: pmemobj_tx_free failed: %s\n", pmemobj_errormsg());
        abort();
    }
}

int pstore_commit(pstore *ps)
{
    (void)ps;
    pmemobj_tx_commit();
    int rc = pmemobj_tx_end();
    return rc ? pmdk_failed("pmemobj_tx_end") : 0;
}

void pstore_close(pstore *ps)
{
    if (!ps)
        return;
    if (pmemobj_tx_stage() != TX_STAGE_NONE) {
        pmemobj_tx_abort(ECANCELED);
        pmemobj_tx_end();
    }
    pmemobj_close(ps->pool);
    free(ps);
}

int pstore_unlink(const char *path)
{
    return unlink(path) ? -errno : 0;
}
