/* copy.c — the region's DRAM working copy (copy.h): reserving, filling, populating, huge pages,
 * growing, quarantining and releasing it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "budget.h"
#include "copy.h"
#include "region.h"
#include "space.h"
#include "testkit.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack the name */
#endif

static uint64_t page_round(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

/* ---- Huge pages (copy.h) ---------------------------------------------------------------------- */

uint32_t snap_copy_flags(uint32_t flags)
{
    const char *v = getenv("SNAPSHOT_HUGEPAGES");
    if (v && strcmp(v, "1") == 0)
        return flags | SNAP_HUGEPAGES;
    if (v && strcmp(v, "0") == 0)
        return flags & ~SNAP_HUGEPAGES;
    return flags;
}

uint64_t snap_memory_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return (uint64_t)1 << 30; /* unknown: a modest guess rather than none */
    return (uint64_t)pages * (uint64_t)page / 2;
}

int snap_hugepage_advise(void *addr, size_t len, uint64_t limit, int huge)
{
    if (!huge || len == 0 || len > limit)
        return 0;
    return madvise(addr, len, MADV_HUGEPAGE) == 0;
}

/* ---- Filling a range (the back ends' map_private) --------------------------------------------- */

/* Put the arena's reservation back over [addr, addr+len) after a failed MAP_FIXED, which may already
 * have removed the old mapping, so that no later mmap lands inside the arena. Best effort: the
 * caller reports the first error. */
static void rereserve(void *addr, size_t len)
{
    mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

int snap_copy_check_range(void *addr, uint64_t off, size_t len, uint64_t file_size)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t mask = (uint64_t)(page > 0 ? page : 4096) - 1;
    if (((uintptr_t)addr & mask) || (off & mask) || (len & mask))
        return SNAP_E_INVAL;
    if (len == 0)
        return 0; /* nothing to map: fine wherever it is */
    uint64_t end = (file_size + mask) & ~mask;
    if (off > end || len > end - off)
        return SNAP_E_RANGE;
    return 0;
}

int snap_copy_map_zeros(void *addr, size_t len, int huge)
{
    /* NORESERVE: the kernel's overcommit heuristic would refuse a copy larger than RAM + swap,
     * though a sparse region only ever uses what is written. */
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        int rc = -errno;
        rereserve(addr, len);
        return rc;
    }
    /* Up to half of RAM it may all become resident in 2 MiB pieces (copy.h, "Huge pages"). */
    snap_hugepage_advise(addr, len, snap_memory_budget(), huge);
    return 0;
}

/* Next extent of data of fd in [pos, end): 1 and [*d, *h), or 0 if none, or -errno. */
static int next_extent(int fd, uint64_t pos, uint64_t end, uint64_t *d, uint64_t *h)
{
    off_t a = lseek(fd, (off_t)pos, SEEK_DATA);
    if (a < 0 && errno == ENXIO)
        return 0; /* only a hole from pos to EOF */
    if (a < 0 && errno == EINVAL) {
        *d = pos; /* no SEEK_DATA here: all of it is data */
        *h = end;
        return 1;
    }
    if (a < 0)
        return -errno;
    if ((uint64_t)a >= end)
        return 0;
    off_t b = lseek(fd, a, SEEK_HOLE);
    if (b < 0)
        return -errno;
    *d = (uint64_t)a;
    *h = (uint64_t)b < end ? (uint64_t)b : end;
    return 1;
}

static int read_full(int fd, uint8_t *dst, uint64_t off, uint64_t len)
{
    while (len) {
        size_t n = len < ((size_t)1 << 30) ? (size_t)len : ((size_t)1 << 30);
        ssize_t got = pread(fd, dst, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return SNAP_E_TRUNCATED; /* shrunk under us, though it is locked */
        dst += got;
        off += (uint64_t)got;
        len -= (uint64_t)got;
    }
    return 0;
}

/* Bytes of data (not holes) of fd in [off, end), or -errno. */
static int64_t data_bytes(int fd, uint64_t off, uint64_t end)
{
    uint64_t n = 0, d, h;
    int rc = 0;
    while (off < end && (rc = next_extent(fd, off, end, &d, &h)) == 1) {
        n += h - d;
        off = h;
    }
    return rc < 0 ? rc : (int64_t)n;
}

/* At most this many data extents get mappings of their own in a copy (see map_file_copy). */
#define COPY_MAX_EXTENTS 1024

/* Map [addr, addr+len) as a copy-on-write mapping of fd's bytes [off, off+len). */
static int map_file_range(int fd, uint8_t *addr, uint64_t off, uint64_t len)
{
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd,
                   (off_t)off);
    return p == MAP_FAILED ? -errno : 0;
}

static int map_anon_range(uint8_t *addr, uint64_t len)
{
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? -errno : 0;
}

/* The copy as a copy-on-write mapping of the file, filled lazily by the kernel: nothing is read at
 * open and clean pages stay reclaimable page cache, but every page is 4 KiB and its first store
 * faults and copies it. [off, off+len) page-aligned; the file holds data up to `end`.
 *
 * Holes. Where a fault that reads a hole allocates the page (tmpfs, and any file system not known
 * not to: snap_space_reads_ok), a first store into a hole of the copy would allocate a page of
 * the file system, and die of SIGBUS when it is full. There the holes (whole pages of them) are
 * mapped as anonymous memory instead, which reads the same zeros and never touches the file; the
 * data extents keep the file's mapping. That costs a mapping (a VMA) per extent, so past
 * COPY_MAX_EXTENTS data extents the rest of the range is one mapping of the file whose holes are
 * allocated first (fallocate: they cost file system space, memory on tmpfs; on a full file system
 * the open fails with -ENOSPC instead of a store with SIGBUS later). */
static int map_file_copy(int fd, uint8_t *addr, uint64_t off, uint64_t len, uint64_t end)
{
    if (snap_space_reads_ok(fd))
        return map_file_range(fd, addr, off, len);
    const uint64_t mask = (uint64_t)sysconf(_SC_PAGESIZE) - 1, stop = off + len;
    uint64_t pos = off, d, h;
    int rc = 0, extents = 0;
    while (pos < end && (rc = next_extent(fd, pos, end, &d, &h)) == 1) {
        d &= ~mask;
        h = (h + mask) & ~mask;
        h = h < stop ? h : stop;
        d = d > pos ? d : pos; /* the previous extent's last page may hold this one's start */
        if (h <= d)
            continue; /* cannot happen with h past pos; kept as a guard against a stall */
        if (d > pos && (rc = map_anon_range(addr + (pos - off), d - pos)) != 0)
            return rc;
        if (++extents > COPY_MAX_EXTENTS) {
            do /* the rest: the file's mapping, over holes that now have their blocks */
                rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)d, (off_t)(end - d));
            while (rc && errno == EINTR);
            if (rc && errno != EOPNOTSUPP && errno != ENOSYS)
                return -errno;
            return map_file_range(fd, addr + (d - off), d, stop - d);
        }
        if ((rc = map_file_range(fd, addr + (d - off), d, h - d)) != 0)
            return rc;
        pos = h;
    }
    if (rc < 0)
        return rc;
    return pos < stop ? map_anon_range(addr + (pos - off), stop - pos) : 0;
}

int snap_copy_fill_file(int fd, void *addr, uint64_t off, size_t len, int huge)
{
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    int rc = snap_copy_check_range(addr, off, len, (uint64_t)st.st_size);
    if (rc || len == 0)
        return rc;
    uint64_t end = off + len < (uint64_t)st.st_size ? off + len : (uint64_t)st.st_size;
    int64_t data = huge ? data_bytes(fd, off, end) : 0;
    if (data < 0)
        return (int)data;
    if (!huge || (uint64_t)data > snap_memory_budget()) {
        /* The mapping of the file; also when the data is too much to read in at once. */
        if ((rc = map_file_copy(fd, addr, off, len, end)) != 0)
            rereserve(addr, len);
        return rc;
    }
    if ((rc = snap_copy_map_zeros(addr, len, huge)) != 0)
        return rc;
    /* Read the data extents only: holes are already zero, and stay unallocated. */
    uint64_t pos = off, d, h;
    while (pos < end && (rc = next_extent(fd, pos, end, &d, &h)) == 1) {
        if ((rc = read_full(fd, (uint8_t *)addr + (d - off), d, h - d)) != 0)
            break;
        pos = h;
    }
    if (rc < 0) {
        rereserve(addr, len);
        return rc;
    }
    return 0;
}

/* ---- Populating (SNAP_POPULATE) --------------------------------------------------------------- */

/* Fault [addr, addr+len) of the DRAM copy in for writing, so that no first store to a page faults.
 * The caller runs it before the range is inside the region's published size: no other thread
 * stores there yet, so the fallback may write a byte's own value back. Those are the library's own
 * plain stores, not the hook's, so nothing is marked. A hint: a kernel that cannot (ENOMEM, ...)
 * leaves the pages to fault as usual. */
static void populate(void *addr, size_t len)
{
    if (len == 0)
        return;
    if (!snap_populate_touch_only) {
        int rc, tries = 0;
        do /* EAGAIN: a page was briefly busy; pages already done cost little the second time */
            rc = madvise(addr, len, MADV_POPULATE_WRITE);
        while (rc && (errno == EAGAIN || errno == EINTR) && ++tries < 8);
        if (rc == 0 || errno != EINVAL)
            return;
    }
    /* EINVAL: a kernel before 5.14. volatile: the compiler must keep a store of the same value. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    volatile uint8_t *p = addr;
    for (size_t off = 0; off < len; off += page)
        p[off] = p[off];
}

/* Give the DRAM copy [off, off+len) its bytes: the back end's private copy of the data file, or,
 * where the file is known to hold only zeros (a new region, the part a grow adds), fresh anonymous
 * memory. The two read the same; the anonymous one spares the first store to each page a fault
 * that reads the file's page (allocating it, on tmpfs) and copies it. */
static int map_copy(struct snap_region *r, uint64_t off, uint64_t len, int zeros)
{
    void *addr = (uint8_t *)r->base + off;
    int huge = (r->flags & SNAP_HUGEPAGES) != 0;
    return zeros ? snap_copy_map_zeros(addr, len, huge)
                 : snap_be_map_private(r->be, addr, off, len, huge);
}

/* ---- The region's copy ------------------------------------------------------------------------ */

int snap_copy_reserve(struct snap_region *r)
{
    return snap_arena_alloc(r, r->reserve, &r->base);
}

int snap_copy_fill(struct snap_region *r, uint64_t size, int zeros)
{
    uint64_t mapped = page_round(size);
    if (r->budget.evicting) { /* larger than its budget: filled on demand (budget.h) */
        int rc = snap_budget_map(r, 0, mapped);
        if (!rc)
            r->mapped = mapped;
        return rc;
    }
    int rc = map_copy(r, 0, mapped, zeros);
    if (rc)
        return rc;
    if (r->flags & SNAP_POPULATE)
        populate((void *)r->base, mapped); /* before the region is published or handed out */
    r->mapped = mapped;
    r->copy_anon = zeros; /* all anonymous: a grow past the budget can take it over */
    return 0;
}

int snap_copy_grow(struct snap_region *r, uint64_t new_size)
{
    uint64_t mapped = page_round(new_size);
    if (mapped <= r->mapped)
        return 0;
    int rc = snap_budget_grow(r, r->mapped, mapped, r->copy_anon); /* past the budget? */
    if (rc)
        return rc;
    if (r->budget.evicting) {
        rc = snap_budget_map(r, r->mapped, mapped - r->mapped);
        if (!rc)
            r->mapped = mapped;
        return rc;
    }
    rc = map_copy(r, r->mapped, mapped - r->mapped, 1); /* the file's new bytes: zeros */
    if (!rc && (r->flags & SNAP_POPULATE)) /* before the new size is published */
        populate((uint8_t *)r->base + r->mapped, mapped - r->mapped);
    if (!rc)
        r->mapped = mapped;
    return rc;
}

void snap_copy_release(struct snap_region *r)
{
    snap_arena_free(r->base, r->reserve);
    snap_dirty_destroy(&r->dirty);
    snap_budget_destroy(r, r->gen != snap_process_gen); /* after the copy is gone (budget.h) */
}

/* Replace [addr, addr+len) with fresh zero pages, in one mmap so that a concurrent store sees either
 * the old page or the new one, never a hole. On failure (out of mappings) the old pages stay: still
 * harmless to a late store, only their memory is kept until the release. */
static void scratch(void *addr, size_t len)
{
    if (addr && len)
        mmap(addr, len, PROT_READ | PROT_WRITE,
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

/* The hook stops using the bitmap; the slots stay owned by r, so the range is not handed to
 * another region, and snap_track_slow() on it marks r's scratch bitmap. Uncommitted stores and the
 * file's pages are dropped. */
void snap_copy_quarantine(struct snap_region *r)
{
    snap_arena_publish(r->base, r->reserve, 0, NULL);
    scratch((void *)r->base, r->reserve);
    scratch(r->dirty.mem, r->dirty.mem_len);
    snap_budget_destroy(r, r->gen != snap_process_gen); /* the scratch is not evictable */
}
