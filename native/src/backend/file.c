/* file.c — the back end for ordinary files: pwrite to the log, stores through a shared mapping to
 * the data file (pwrite where the file system may need new space to overwrite: space.h),
 * fdatasync as the barrier. */
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

#include "backend.h"
#include "copy.h"
#include "space.h"
#include "testkit.h"

struct file_backend {
    struct snap_backend base;
    int fd[2];
    /* Sizes are cached: we own the fds and the data file is locked, so only we change them. */
    uint64_t size[2];
    /* MAP_SHARED view of the whole data file, made on the first data write after open or resize;
     * NULL while not made (and always for an empty file, which cannot be mapped). */
    uint8_t *map;
    uint64_t map_len;
    /* Blocks known allocated, per file (space.h): the data file's before a store through the
     * mapping can fault on them; the log's so that a commit can reserve its record's room. */
    struct snap_space space[2];
    /* The log's bytes [ready_lo, ready_hi) sit in blocks this back end wrote (file_reserve). */
    uint64_t ready_lo, ready_hi;
    int stores; /* apply through the mapping (else pwrite): the file system overwrites in place */
    int tight;  /* memory is tight (random_access): the log keeps no page cache */
};

static struct file_backend *fb(struct snap_backend *b)
{
    return (struct file_backend *)b;
}

static int valid_range(struct file_backend *f, int which, uint64_t off, size_t len)
{
    if (which != SNAP_DATA && which != SNAP_LOG)
        return SNAP_E_INVAL;
    if (off > f->size[which] || len > f->size[which] - off)
        return SNAP_E_RANGE;
    return 0;
}

static int file_size(struct snap_backend *b, int which, uint64_t *out)
{
    if (which != SNAP_DATA && which != SNAP_LOG)
        return SNAP_E_INVAL;
    *out = fb(b)->size[which];
    return 0;
}

static void unmap_data(struct file_backend *f)
{
    if (f->map)
        munmap(f->map, f->map_len); /* cannot fail for a range we mapped */
    f->map = NULL;
    f->map_len = 0;
}

static int map_data(struct file_backend *f)
{
    if (f->map || f->size[SNAP_DATA] == 0)
        return 0;
    if (f->size[SNAP_DATA] > SIZE_MAX)
        return -EFBIG;
    void *p = mmap(NULL, f->size[SNAP_DATA], PROT_READ | PROT_WRITE, MAP_SHARED, f->fd[SNAP_DATA], 0);
    if (p == MAP_FAILED)
        return -errno;
    f->map = p;
    f->map_len = f->size[SNAP_DATA];
    return 0;
}

static int file_resize(struct snap_backend *b, int which, uint64_t new_size)
{
    struct file_backend *f = fb(b);
    if (which != SNAP_DATA && which != SNAP_LOG)
        return SNAP_E_INVAL;
    if (which == SNAP_DATA)
        unmap_data(f); /* remapped at the next write, at the new size */
    /* Only the data file is written through a mapping, so only it needs its blocks up front; the
     * log's (sparse: a 64 MiB log costs what its records fill) are written ahead of the records
     * (prewrite_log). */
    int rc = snap_backend_fd_resize(f->fd[which], f->size[which], new_size, which == SNAP_DATA);
    if (rc)
        return rc;
    snap_space_resized(&f->space[which], f->size[which], new_size, which == SNAP_DATA);
    f->size[which] = new_size;
    if (which == SNAP_LOG)
        f->ready_lo = f->ready_hi = 0; /* start again at the next record */
    return 0;
}

static int file_read(struct snap_backend *b, int which, uint64_t off, void *buf, size_t len)
{
    struct file_backend *f = fb(b);
    int rc = valid_range(f, which, off, len);
    if (rc)
        return rc;
    /* pread, not the mapping: a file shortened behind our back then gives an error, not SIGBUS. */
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(f->fd[which], p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO; /* EOF before the size we know: truncated outside Snapshot */
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

/* An evictable copy's data file (backend.h): apply by pwrite, which reads only the page it writes
 * into, rather than through the shared view, whose faults read ahead and whose pages stay mapped;
 * no read-ahead for pread either; and the log's pages leave the page cache at each barrier. */
static void file_random_access(struct snap_backend *b)
{
    struct file_backend *f = fb(b);
    f->stores = 0;
    f->tight = 1;
    unmap_data(f);
    posix_fadvise(f->fd[SNAP_DATA], 0, 0, POSIX_FADV_RANDOM);
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int file_write(struct snap_backend *b, int which, uint64_t off, const void *buf, size_t len)
{
    struct file_backend *f = fb(b);
    int rc = valid_range(f, which, off, len);
    if (rc || len == 0)
        return rc;
    if (which == SNAP_DATA && f->stores) {
        /* Applying a commit is many small runs: one memcpy each into the page cache, no syscall.
         * Into blocks that exist: a store into a hole on a full file system is SIGBUS. The commit
         * reserved them before its commit point; this covers recovery's replay and anything
         * else (one bit test when known). */
        if ((rc = snap_space_reserve(&f->space[SNAP_DATA], f->fd[SNAP_DATA], f->size[SNAP_DATA],
                                     off, len)) != 0 ||
            (rc = map_data(f)) != 0)
            return rc;
        memcpy(f->map + off, buf, len);
        return 0;
    }
    return pwrite_full(f->fd[which], buf, len, off);
}

/* How far ahead of a record the log is written with zeros (file_reserve). */
#define LOG_AHEAD ((uint64_t)1 << 20)

/* Make L's bytes from `off` to LOG_AHEAD past off + len (within L) sit in written blocks, by
 * writing zeros into the holes there (SEEK_HOLE; on ext4 and XFS an fallocated, unwritten extent
 * counts as a hole too). A block that a commit writes first is new to the file system, so that
 * commit's fdatasync must also commit the journal, and with it (ext4's ordered mode) the data
 * file's pages written since. Written ahead, about once per MiB of records, the blocks are
 * ordinary when a commit reaches them, and its fdatasync writes only its own bytes and flushes.
 * A hole reads as zeros, so no byte of L changes as read, and a crash in between is harmless;
 * written blocks (an older generation's records, where recovery's scan past the chain stops) are
 * left alone. [ready_lo, ready_hi) is the part known done: it grows with the records that follow
 * each other and starts again at `off` when a record goes elsewhere. A file system that cannot
 * tell holes gets no zeros. */
static int prewrite_log(struct file_backend *f, uint64_t off, size_t len)
{
    static const uint8_t zeros[64 << 10];
    int fd = f->fd[SNAP_LOG];
    if (off < f->ready_lo || off > f->ready_hi)
        f->ready_lo = f->ready_hi = off;
    uint64_t to = (off + len + LOG_AHEAD) & ~(LOG_AHEAD - 1);
    if (to > f->size[SNAP_LOG])
        to = f->size[SNAP_LOG];
    for (uint64_t at = f->ready_hi; at < to;) {
        off_t hole = lseek(fd, (off_t)at, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole >= to)
            break;
        off_t data = lseek(fd, hole, SEEK_DATA);
        uint64_t end = data < 0 || (uint64_t)data > to ? to : (uint64_t)data;
        for (at = (uint64_t)hole; at < end;) {
            size_t n = end - at < sizeof zeros ? (size_t)(end - at) : sizeof zeros;
            int rc = pwrite_full(fd, zeros, n, at);
            if (rc)
                return rc;
            at += n;
        }
    }
    f->ready_hi = to;
    return 0;
}

static int file_reserve(struct snap_backend *b, int which, uint64_t off, size_t len)
{
    struct file_backend *f = fb(b);
    int rc = valid_range(f, which, off, len);
    if (!rc)
        rc = snap_space_reserve(&f->space[which], f->fd[which], f->size[which], off, len);
    /* A record of LOG_AHEAD / 4 or more has few commits to share a prewrite: the zeros would
     * double its bytes for one journal commit saved, so it allocates its blocks itself. */
    if (!rc && which == SNAP_LOG && len && len < LOG_AHEAD / 4 &&
        (off < f->ready_lo || off + len > f->ready_hi))
        rc = prewrite_log(f, off, len);
    return rc;
}

static int file_barrier(struct snap_backend *b, int which)
{
    if (which != SNAP_DATA && which != SNAP_LOG)
        return SNAP_E_INVAL;
    /* On Linux fdatasync also writes back the pages dirtied through the shared mapping. Never
     * retried: after a failure the kernel may have dropped the dirty pages. */
    if (fdatasync(fb(b)->fd[which]))
        return -errno;
    /* The log is read only by recovery: under a memory limit its clean pages would only push
     * the data file's (and the program's text) out of the page cache. */
    if (which == SNAP_LOG && fb(b)->tight)
        posix_fadvise(fb(b)->fd[SNAP_LOG], 0, 0, POSIX_FADV_DONTNEED);
    return 0;
}

static int file_map_private(struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge)
{
    return snap_copy_fill_file(fb(b)->fd[SNAP_DATA], addr, off, len, huge);
}

static int file_next_data(struct snap_backend *b, int which, uint64_t off, uint64_t *out)
{
    struct file_backend *f = fb(b);
    if (which != SNAP_DATA && which != SNAP_LOG)
        return SNAP_E_INVAL;
    return snap_backend_fd_next_data(f->fd[which], off, f->size[which], out);
}

static void file_close(struct snap_backend *b)
{
    struct file_backend *f = fb(b);
    unmap_data(f);
    close(f->fd[SNAP_DATA]);
    close(f->fd[SNAP_LOG]);
    snap_space_free(&f->space[SNAP_DATA]);
    snap_space_free(&f->space[SNAP_LOG]);
    free(f);
}

static const struct snap_backend_ops file_ops = {
    .size = file_size,
    .resize = file_resize,
    .read = file_read,
    .write = file_write,
    .barrier = file_barrier,
    .map_private = file_map_private,
    .reserve = file_reserve,
    .next_data = file_next_data,
    .random_access = file_random_access,
    .close = file_close,
};

int snap_backend_file_open(int data_fd, int log_fd, struct snap_backend **out)
{
    int rc = 0;
    struct file_backend *f = NULL;
    struct stat st[2];
    if (out)
        *out = NULL;
    if (!out || data_fd < 0 || log_fd < 0) {
        rc = SNAP_E_INVAL;
        goto fail;
    }
    if (fstat(data_fd, &st[SNAP_DATA]) || fstat(log_fd, &st[SNAP_LOG])) {
        rc = -errno;
        goto fail;
    }
    if (!S_ISREG(st[SNAP_DATA].st_mode) || !S_ISREG(st[SNAP_LOG].st_mode)) {
        rc = SNAP_E_NOTFILE;
        goto fail;
    }
    if (!(f = calloc(1, sizeof *f))) {
        rc = -ENOMEM;
        goto fail;
    }
    f->base.ops = &file_ops;
    f->base.kind = SNAP_BACKEND_FILE;
    f->fd[SNAP_DATA] = data_fd;
    f->fd[SNAP_LOG] = log_fd;
    f->size[SNAP_DATA] = (uint64_t)st[SNAP_DATA].st_size;
    f->size[SNAP_LOG] = (uint64_t)st[SNAP_LOG].st_size;
    f->stores = snap_file_apply_pwrite >= 0 ? !snap_file_apply_pwrite : snap_space_stores_ok(data_fd);
    *out = &f->base;
    return 0;
fail:
    if (data_fd >= 0)
        close(data_fd);
    if (log_fd >= 0)
        close(log_fd);
    return rc;
}
