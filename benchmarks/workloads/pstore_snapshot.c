/* pstore_snapshot.c — the SNAPSHOT back end: the store is one Snapshot region (file back end on
 * disk, pmem back end on /dev/shm with PMEM_IS_PMEM_FORCE=1). The workload is compiled with the
 * clang plugin, which tracks its stores, so pstore_add() is empty and a commit is snap_msync(). */
#include "pstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <snapshot.h>

#include "palloc.h"

struct pstore {
    struct pstore_hot hot;
    snap_region *region;
};

const char *pstore_name(void)
{
    return "snapshot";
}

const char *pstore_error(int err)
{
    switch (err) {
    case PSTORE_E_FORMAT: return "not a store of this kind, or its header is damaged";
    case PSTORE_E_SIZE: return "size or root size differs from the store's";
    default: return snap_strerror(err);
    }
}

int pstore_open(pstore **out, const char *path, uint64_t size, size_t root_size)
{
    *out = NULL;
    pstore *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    /* Modifications never run concurrently with a commit (pstore.h's locking rule), so the
     * barrier that protects racing stores is not needed. */
    snap_options opts = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, .size = size};
    int rc = snap_open(path, &opts, &ps->region);
    if (rc) {
        free(ps);
        return rc;
    }
    ps->hot.base = snap_base(ps->region);
    rc = palloc_open(ps, size, root_size);
    if (rc) {
        pstore_close(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

void pstore_begin(pstore *ps)
{
    (void)ps;
}

int pstore_commit(pstore *ps)
{
    return snap_msync(ps->region);
}

void pstore_close(pstore *ps)
{
    if (!ps)
        return;
    int rc = snap_close(ps->region);
    if (rc)
        fprintf(stderr, "pstore: closing the region: %s\n", snap_strerror(rc));
    free(ps);
}

int pstore_unlink(const char *path)
{
    char log[4096];
    if (snprintf(log, sizeof log, "%s.snaplog", path) >= (int)sizeof log)
        return -ENAMETOOLONG;
    int rc = unlink(path) ? -errno : 0;
    if (unlink(log) && errno != ENOENT && !rc)
        rc = -errno;
    return rc;
}
