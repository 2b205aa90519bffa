/* pstore_msync.c — the MSYNC back end, a reference point without atomicity: the data file mapped
 * MAP_SHARED, updated in place, and a commit msync(MS_SYNC)s the pages pstore_add() named. A crash
 * in the middle of an update leaves it half applied. */
#include "pstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "palloc.h"
#include "pstore_file.h"

struct pstore {
    struct pstore_hot hot;
    uint64_t size;
    int fd;
    uint64_t page;
};

const char *pstore_name(void)
{
    return "msync";
}

const char *pstore_error(int err)
{
    switch (err) {
    case PSTORE_E_FORMAT: return "not a store of this kind, or its header is damaged";
    case PSTORE_E_SIZE: return "size or root size differs from the store's";
    default: return err < 0 ? strerror(-err) : "unknown error";
    }
}

int pstore_open(pstore **out, const char *path, uint64_t size, size_t root_size)
{
    *out = NULL;
    pstore *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    int rc, created;
    ps->size = size;
    ps->page = (uint64_t)sysconf(_SC_PAGESIZE);
    ps->fd = pstore_file_open(path, size, &created);
    if (ps->fd < 0) {
        rc = ps->fd;
        free(ps);
        return rc;
    }
    if ((rc = pstore_file_map(ps, ps->fd, size, MAP_SHARED, root_size)) != 0) {
        pstore_close(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

int pstore_commit(pstore *ps)
{
    size_t n = pstore_ranges_merge(ps->hot.ranges, ps->hot.nranges, ps->page);
    ps->hot.nranges = 0;
    for (size_t i = 0; i < n; i++)
        if (msync(ps->hot.base + ps->hot.ranges[i].off, ps->hot.ranges[i].len, MS_SYNC))
            return -errno;
    return 0;
}

void pstore_close(pstore *ps)
{
    if (!ps)
        return;
    if (ps->hot.base)
        munmap(ps->hot.base, ps->size);
    if (ps->fd >= 0)
        close(ps->fd);
    free(ps->hot.ranges);
    free(ps);
}

int pstore_unlink(const char *path)
{
    return unlink(path) ? -errno : 0;
}
