/* backend.c — what the back ends over real files share: the helpers of file.c and pmem.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "hugepage.h"
#include "space.h"

/* Put the arena's reservation back over [addr, addr+len) after a failed MAP_FIXED, which may already
 * have removed the old mapping, so that no later mmap lands inside the arena. Best effort: the
 * caller reports the first error. */
static void rereserve(void *addr, size_t len)
{
    mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

int snap_backend_check_copy_range(void *addr, uint64_t off, size_t len, uint64_t file_size)
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

int snap_backend_map_anon(void *addr, size_t len)
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
    /* Up to half of RAM it may all become resident in 2 MiB pieces (hugepage.h). */
    snap_hugepage_advise(addr, len, snap_memory_budget());
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

int snap_backend_fill_copy(int fd, void *addr, uint64_t off, size_t len)
{
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    int rc = snap_backend_check_copy_range(addr, off, len, (uint64_t)st.st_size);
    if (rc || len == 0)
        return rc;
    uint64_t end = off + len < (uint64_t)st.st_size ? off + len : (uint64_t)st.st_size;
    int huge = snap_hugepages_wanted();
    int64_t data = huge ? data_bytes(fd, off, end) : 0;
    if (data < 0)
        return (int)data;
    if (!huge || (uint64_t)data > snap_memory_budget()) {
        /* The mapping of the file; also when the data is too much to read in at once. */
        if ((rc = map_file_copy(fd, addr, off, len, end)) != 0)
            rereserve(addr, len);
        return rc;
    }
    if ((rc = snap_backend_map_anon(addr, len)) != 0)
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

static int truncate_to(int fd, uint64_t size)
{
    int rc;
    do
        rc = ftruncate(fd, (off_t)size);
    while (rc && errno == EINTR);
    return rc ? -errno : 0;
}

int snap_backend_fd_resize(int fd, uint64_t old_size, uint64_t new_size, int prealloc)
{
    if (new_size > (uint64_t)INT64_MAX)
        return -EFBIG;
    if (!prealloc || new_size <= old_size)
        return truncate_to(fd, new_size);
    int rc;
    do
        rc = fallocate(fd, 0, (off_t)old_size, (off_t)(new_size - old_size));
    while (rc && errno == EINTR);
    if (rc == 0)
        return 0;
    rc = -errno;
    if (rc != -EOPNOTSUPP && rc != -ENOSYS) {
        /* A file system may have extended the file part of the way (ext4 does) before it ran out
         * of space: give it back its size, so that the caller's idea of it stays true. */
        struct stat st;
        if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != old_size)
            truncate_to(fd, old_size);
        return rc;
    }
    return truncate_to(fd, new_size); /* no preallocation here: stores may allocate lazily */
}

int snap_backend_fd_next_data(int fd, uint64_t off, uint64_t size, uint64_t *out)
{
    *out = off;
    if (off >= size)
        return 0;
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    if (d >= 0)
        *out = (uint64_t)d < size ? (uint64_t)d : size;
    else if (errno == ENXIO)
        *out = size;
    else if (errno != EINVAL && errno != EOPNOTSUPP)
        return -errno;
    return 0;
}
