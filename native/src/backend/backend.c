/* backend.c — what the back ends over real files share: the helpers of file.c and pmem.c (filling
 * the DRAM copy from a file is copy.c's). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "space.h"

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
