/* readonly.c — a back end that can only look: size and read through the fds, every change refused.
 * Used by `snapshot inspect` and `snapshot verify`, which run the log parser unchanged on it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

struct ro_backend {
    struct snap_backend base;
    int fd[2];
};

static int ro_fd(struct snap_backend *b, int which)
{
    if (which != SNAP_DATA && which != SNAP_LOG)
        return -1;
    return ((struct ro_backend *)b)->fd[which];
}

/* Not cached: nobody holds a lock for us, so an opener may change the files while we look. */
static int ro_size(struct snap_backend *b, int which, uint64_t *out)
{
    int fd = ro_fd(b, which);
    if (fd < 0)
        return SNAP_E_INVAL;
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    *out = (uint64_t)st.st_size;
    return 0;
}

static int ro_read(struct snap_backend *b, int which, uint64_t off, void *buf, size_t len)
{
    int fd = ro_fd(b, which);
    if (fd < 0)
        return SNAP_E_INVAL;
    uint8_t *p = buf;
    while (len > 0) {
        if (off > (uint64_t)INT64_MAX)
            return SNAP_E_RANGE;
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return SNAP_E_RANGE; /* past the end: the same answer the other back ends give */
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int ro_next_data(struct snap_backend *b, int which, uint64_t off, uint64_t *out)
{
    uint64_t size;
    int rc = ro_size(b, which, &size); /* also checks `which` */
    return rc ? rc : snap_backend_fd_next_data(ro_fd(b, which), off, size, out);
}

static int ro_resize(struct snap_backend *b, int which, uint64_t n)
{
    return -EROFS;
}

static int ro_write(struct snap_backend *b, int which, uint64_t off, const void *buf, size_t len)
{
    return -EROFS;
}

static int ro_barrier(struct snap_backend *b, int which)
{
    return -EROFS;
}

static int ro_map_private(struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge)
{
    return -EROFS;
}

static void ro_close(struct snap_backend *b)
{
    struct ro_backend *r = (struct ro_backend *)b;
    for (int i = 0; i < 2; i++)
        if (r->fd[i] >= 0)
            close(r->fd[i]);
    free(r);
}

static const struct snap_backend_ops ro_ops = {
    .size = ro_size,
    .resize = ro_resize,
    .read = ro_read,
    .write = ro_write,
    .barrier = ro_barrier,
    .map_private = ro_map_private,
    .next_data = ro_next_data,
    .close = ro_close,
};

int snap_backend_readonly_open(int data_fd, int log_fd, struct snap_backend **out)
{
    if (!out || data_fd < 0 || log_fd < 0) {
        if (data_fd >= 0)
            close(data_fd);
        if (log_fd >= 0)
            close(log_fd);
        if (out)
            *out = NULL;
        return SNAP_E_INVAL;
    }
    *out = NULL;
    struct ro_backend *r = calloc(1, sizeof *r);
    if (!r) {
        close(data_fd);
        close(log_fd);
        return -ENOMEM;
    }
    r->base.ops = &ro_ops;
    r->base.kind = SNAP_BACKEND_AUTO; /* none of the writable kinds */
    r->fd[SNAP_DATA] = data_fd;
    r->fd[SNAP_LOG] = log_fd;
    *out = &r->base;
    return 0;
}
