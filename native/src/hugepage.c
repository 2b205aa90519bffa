/* hugepage.c — the huge-page switch and budget of hugepage.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hugepage.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int snap_hugepages_wanted(void)
{
    const char *v = getenv("SNAPSHOT_HUGEPAGES");
    return v && strcmp(v, "1") == 0;
}

uint64_t snap_memory_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return (uint64_t)1 << 30; /* unknown: a modest guess rather than none */
    return (uint64_t)pages * (uint64_t)page / 2;
}

int snap_hugepage_advise(void *addr, size_t len, uint64_t limit)
{
    if (!snap_hugepages_wanted() || len == 0 || len > limit)
        return 0;
    return madvise(addr, len, MADV_HUGEPAGE) == 0;
}
