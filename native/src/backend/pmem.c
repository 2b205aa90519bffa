/* pmem.c — the back end for persistent memory: both files mapped by libpmem, non-temporal copies,
 * pmem_drain as the barrier. Every store goes into blocks known allocated (space.h): both files
 * are preallocated when resized, and the holes of an adopted data file are allocated before the
 * first write into them, so a full file system is -ENOSPC, not SIGBUS. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "copy.h"
#include "space.h"

struct pmem_file {
    int fd;
    uint64_t size; /* cached: we own the fd and the data file is locked */
    uint8_t *addr; /* whole-file mapping; NULL until needed, and for an empty file (unmappable) */
    size_t len;
    int is_pmem; /* as libpmem reported for the current mapping, or 1 if emulated */
    int emulate; /* SNAP_BACKEND_EMULATED_PMEM: PM whatever libpmem says */
    int resized; /* since the last barrier: the size is file-system metadata, not memory */
    struct snap_space space; /* blocks known allocated: stores into the mapping need them */
};

struct pmem_backend {
    struct snap_backend base;
    struct pmem_file f[2];
};

static struct pmem_file *pf(struct snap_backend *b, int which)
{
    return &((struct pmem_backend *)b)->f[which];
}

static int valid_file(int which)
{
    return which == SNAP_DATA || which == SNAP_LOG;
}

/* Map through /proc/self/fd so that libpmem maps exactly the file we opened, locked and checked
 * (with O_NOFOLLOW), not whatever the path names by now. */
static void *map_fd(int fd, size_t *len, int *is_pmem)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    errno = 0;
    void *p = pmem_map_file(path, 0, 0, 0, len, is_pmem);
    if (!p && errno == 0)
        errno = EIO;
    return p;
}

static int map_file(struct pmem_file *p)
{
    if (p->addr || p->size == 0)
        return 0;
    size_t len;
    int is_pmem = 0;
    void *a = map_fd(p->fd, &len, &is_pmem);
    if (!a)
        return -errno;
    if (len != p->size) { /* resized behind our back: the mapping does not match what we know */
        pmem_unmap(a, len);
        return -EIO;
    }
    p->addr = a;
    p->len = len;
    p->is_pmem = is_pmem || p->emulate;
    return 0;
}

static void unmap_file(struct pmem_file *p)
{
    if (!p->addr)
        return;
    /* Non-temporal stores may still sit in write-combining buffers: let them reach the media
     * before the mapping they went through is gone. */
    if (p->is_pmem)
        pmem_drain();
    pmem_unmap(p->addr, p->len);
    p->addr = NULL;
    p->len = 0;
}

/* An empty file cannot be mapped, but a page past its EOF can be, as long as nobody touches it:
 * MAP_SYNC succeeds only on DAX file systems (what libpmem itself tries first), and libpmem's
 * answer for a plain shared mapping honours PMEM_IS_PMEM_FORCE. */
static int probe_empty(int fd)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = page > 0 ? (size_t)page : 4096;
    void *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (a != MAP_FAILED) {
        munmap(a, len);
        return 1;
    }
    a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED)
        return -errno;
    int is_pmem = pmem_is_pmem(a, len) ? 1 : 0;
    munmap(a, len);
    return is_pmem;
}

int snap_backend_pmem_detect(int data_fd)
{
    struct stat st;
    if (fstat(data_fd, &st))
        return -errno;
    if (!S_ISREG(st.st_mode))
        return 0;
    if (st.st_size == 0)
        return probe_empty(data_fd);
    size_t len;
    int is_pmem = 0;
    void *a = map_fd(data_fd, &len, &is_pmem);
    if (!a)
        return -errno;
    pmem_unmap(a, len);
    return is_pmem ? 1 : 0;
}

static int check_range(struct pmem_file *p, uint64_t off, size_t len)
{
    return off > p->size || len > p->size - off ? SNAP_E_RANGE : 0;
}

static int pmem_size(struct snap_backend *b, int which, uint64_t *out)
{
    if (!valid_file(which))
        return SNAP_E_INVAL;
    *out = pf(b, which)->size;
    return 0;
}

static int pmem_resize(struct snap_backend *b, int which, uint64_t new_size)
{
    if (!valid_file(which))
        return SNAP_E_INVAL;
    struct pmem_file *p = pf(b, which);
    unmap_file(p); /* remapped at the next access, at the new size */
    /* Both files are stored to through mappings, so allocate their blocks now: a page fault that
     * cannot allocate would be SIGBUS, not an error we can return. */
    int rc = snap_backend_fd_resize(p->fd, p->size, new_size, 1);
    if (rc)
        return rc;
    snap_space_resized(&p->space, p->size, new_size, 1);
    p->size = new_size;
    p->resized = 1;
    return 0;
}

/* The mapped address of [off, off+len) of file `which`, mapped on demand; NULL with *rc set (0 for
 * an empty range). */
static uint8_t *span(struct snap_backend *b, int which, uint64_t off, size_t len, int *rc)
{
    if (!valid_file(which)) {
        *rc = SNAP_E_INVAL;
        return NULL;
    }
    struct pmem_file *p = pf(b, which);
    if ((*rc = check_range(p, off, len)) != 0 || len == 0 || (*rc = map_file(p)) != 0)
        return NULL;
    return p->addr + off;
}

static int pmem_read(struct snap_backend *b, int which, uint64_t off, void *buf, size_t len)
{
    int rc;
    if (which == SNAP_DATA) {
        /* pread, not the mapping: a load from a hole of a tmpfs file allocates a page (SIGBUS when
         * full); pread reads it as zeros. Only the verification mode reads the data file. */
        struct pmem_file *p = pf(b, which);
        if ((rc = check_range(p, off, len)) != 0)
            return rc;
        for (uint8_t *dst = buf; len > 0;) {
            ssize_t n = pread(p->fd, dst, len, (off_t)off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n < 0 ? -errno : -EIO; /* EOF before the size we know */
            dst += n, off += (uint64_t)n, len -= (size_t)n;
        }
        return 0;
    }
    const uint8_t *src = span(b, which, off, len, &rc);
    if (src)
        memcpy(buf, src, len);
    return rc;
}

static int pmem_write(struct snap_backend *b, int which, uint64_t off, const void *buf, size_t len)
{
    int rc;
    uint8_t *dst = span(b, which, off, len, &rc);
    if (!dst)
        return rc;
    /* Into blocks that exist (space.h): the commit reserved them before its commit point; this
     * covers recovery's replay and anything else, at one bit test when known. */
    struct pmem_file *p = pf(b, which);
    if ((rc = snap_space_reserve(&p->space, p->fd, p->size, off, len)) != 0)
        return rc;
    if (p->is_pmem)
        /* Non-temporal stores: no read-for-ownership of the destination and no clwb per line;
         * the barrier (pmem_drain) orders them. */
        pmem_memcpy(dst, buf, len, PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_NODRAIN);
    else
        memcpy(dst, buf, len); /* page cache: written back by the barrier's fdatasync */
    return 0;
}

/* The data file is written at random lines: a line whose page is not in the TLB costs a page walk
 * (about 0.2 us measured here, in a VM) on the commit path. Start the walk now, one prefetch per
 * page, at most PREFETCH_PAGES of them: the hint is for small records. */
#define PREFETCH_PAGES 16
static void pmem_prefetch(struct snap_backend *b, int which, uint64_t off, size_t len)
{
    if (!valid_file(which))
        return;
    struct pmem_file *p = pf(b, which);
    if (!p->addr || !p->is_pmem || len == 0 || check_range(p, off, len))
        return;
    const uint8_t *a = p->addr + off, *end = a + len;
    for (int n = 0; a < end && n < PREFETCH_PAGES; n++) {
        __builtin_prefetch(a, 1, 0);
        a = (const uint8_t *)(((uintptr_t)a | 4095) + 1);
    }
}

static int pmem_barrier(struct snap_backend *b, int which)
{
    if (!valid_file(which))
        return SNAP_E_INVAL;
    struct pmem_file *p = pf(b, which);
    if (p->is_pmem && p->addr && !p->resized) {
        pmem_drain();
        return 0;
    }
    if (p->is_pmem)
        pmem_drain();
    /* Not pmem (or not mapped yet), or the size changed: the page cache and the file size need
     * the file system. Never retried: a failed flush may have dropped the dirty pages. */
    if (fdatasync(p->fd))
        return -errno;
    p->resized = 0;
    return 0;
}

static int pmem_reserve(struct snap_backend *b, int which, uint64_t off, size_t len)
{
    if (!valid_file(which))
        return SNAP_E_INVAL;
    struct pmem_file *p = pf(b, which);
    int rc = check_range(p, off, len);
    return rc ? rc : snap_space_reserve(&p->space, p->fd, p->size, off, len);
}

static int pmem_map_private(struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge)
{
    return snap_copy_fill_file(pf(b, SNAP_DATA)->fd, addr, off, len, huge);
}

static int pmem_next_data(struct snap_backend *b, int which, uint64_t off, uint64_t *out)
{
    if (!valid_file(which))
        return SNAP_E_INVAL;
    return snap_backend_fd_next_data(pf(b, which)->fd, off, pf(b, which)->size, out);
}

static void pmem_close(struct snap_backend *b)
{
    for (int i = 0; i < 2; i++) {
        unmap_file(pf(b, i));
        close(pf(b, i)->fd);
        snap_space_free(&pf(b, i)->space);
    }
    free(b);
}

static const struct snap_backend_ops pmem_ops = {
    .size = pmem_size,
    .resize = pmem_resize,
    .read = pmem_read,
    .write = pmem_write,
    .barrier = pmem_barrier,
    .map_private = pmem_map_private,
    .reserve = pmem_reserve,
    .prefetch = pmem_prefetch,
    .next_data = pmem_next_data,
    .close = pmem_close,
};

int snap_backend_pmem_open(int data_fd, int log_fd, int pmem, struct snap_backend **out)
{
    struct pmem_backend *pb = NULL;
    int rc = 0;
    if (out)
        *out = NULL;
    if (!out || data_fd < 0 || log_fd < 0)
        rc = SNAP_E_INVAL;
    else if (!(pb = calloc(1, sizeof *pb)))
        rc = -ENOMEM;
    if (!pb) {
        if (data_fd >= 0)
            close(data_fd);
        if (log_fd >= 0)
            close(log_fd);
        return rc;
    }
    pb->base.ops = &pmem_ops;
    pb->base.kind = SNAP_BACKEND_PMEM;
    pb->f[SNAP_DATA].fd = data_fd;
    pb->f[SNAP_DATA].emulate = pb->f[SNAP_LOG].emulate = pmem == SNAP_PMEM_EMULATE;
    pb->f[SNAP_LOG].fd = log_fd;
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (fstat(pb->f[i].fd, &st)) {
            rc = -errno;
            goto fail;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = SNAP_E_NOTFILE;
            goto fail;
        }
        pb->f[i].size = (uint64_t)st.st_size;
        if ((rc = map_file(&pb->f[i])) != 0) /* mapped now to learn whether it is pmem */
            goto fail;
    }
    if (pmem == SNAP_PMEM_REQUIRE) {
        struct pmem_file *d = &pb->f[SNAP_DATA], *l = &pb->f[SNAP_LOG];
        int data_pmem = d->addr ? d->is_pmem : probe_empty(d->fd);
        if (data_pmem < 0) {
            rc = data_pmem;
            goto fail;
        }
        if (!data_pmem || (l->addr && !l->is_pmem)) {
            rc = SNAP_E_UNSUPPORTED;
            goto fail;
        }
    }
    *out = &pb->base;
    return 0;
fail:
    pmem_close(&pb->base); /* closes both fds */
    return rc;
}
