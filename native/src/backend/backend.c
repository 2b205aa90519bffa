/* backend.c — what every back end shares: fault injection, and the file helpers of file.c/pmem.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

void snap_backend_inject_fault(struct snap_backend *b, int op, uint64_t after, int err)
{
    if (!b)
        return;
    if (op == SNAP_FAULT_NONE || after == 0) {
        b->fail_op = SNAP_FAULT_NONE;
        b->fail_after = 0;
        b->fail_err = 0;
        return;
    }
    b->fail_op = op;
    b->fail_after = after;
    b->fail_err = err ? err : -EIO; /* a "failure" of 0 would read as success */
}

int snap_backend_fault_check(struct snap_backend *b, int op)
{
    if (__builtin_expect(b->fail_op == SNAP_FAULT_NONE, 1) || b->fail_op != op)
        return 0;
    if (b->fail_after > 1) {
        b->fail_after--;
        return 0;
    }
    return b->fail_err; /* fail_after stays 1: every later call fails too */
}

int snap_backend_map_file_private(int fd, void *addr, uint64_t off, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t mask = (uint64_t)(page > 0 ? page : 4096) - 1;
    if (((uintptr_t)addr & mask) || (off & mask) || (len & mask))
        return SNAP_E_INVAL;
    if (len == 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    uint64_t end = ((uint64_t)st.st_size + mask) & ~mask;
    if (off > end || len > end - off)
        return SNAP_E_RANGE;
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);
    if (p == MAP_FAILED) {
        int rc = -errno;
        /* A failed MAP_FIXED may already have removed the old mapping; put the reservation back so
         * that no later mmap lands inside the arena. Best effort: we report the first error. */
        mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
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
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return -errno;
    return truncate_to(fd, new_size); /* no preallocation here: stores may allocate lazily */
}
