/* pstore_file.c — the data file and range helpers of the WAL and MSYNC back ends (pstore_file.h),
 * and their pstore_begin(): a transaction starts with no ranges. */
#include "pstore_file.h"
#include "palloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int sync_parent_dir(const char *path)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return -ENAMETOOLONG;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        return -errno;
    int rc = fsync(dfd) ? -errno : 0;
    close(dfd);
    return rc;
}

int pstore_file_open(const char *path, uint64_t size, int *created)
{
    *created = 0;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st))
        goto fail_errno;
    if (st.st_size == 0) {
        /* New (or created by a run that crashed before this point): size it, make it durable. */
        if (ftruncate(fd, (off_t)size) || fsync(fd))
            goto fail_errno;
        int rc = sync_parent_dir(path);
        if (rc) {
            close(fd);
            return rc;
        }
        *created = 1;
    } else if ((uint64_t)st.st_size != size) {
        close(fd);
        return PSTORE_E_SIZE;
    }
    return fd;
fail_errno:;
    int err = -errno;
    close(fd);
    return err;
}

void pstore_begin(pstore *ps)
{
    ((struct pstore_hot *)ps)->nranges = 0;
}

void pstore_ranges_grow(pstore *ps)
{
    struct pstore_hot *h = (struct pstore_hot *)ps;
    size_t cap = h->cap ? h->cap * 2 : 64;
    struct pstore_range *r = realloc(h->ranges, cap * sizeof *r);
    if (!r) {
        fprintf(stderr, "pstore: out of memory recording a transaction's ranges\n");
        abort();
    }
    h->ranges = r;
    h->cap = cap;
}

static int by_offset(const void *a, const void *b)
{
    const struct pstore_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

int pstore_file_map(pstore *ps, int fd, uint64_t size, int share, size_t root_size)
{
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, share, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    ((struct pstore_hot *)ps)->base = base; /* the handle's first member (pstore.h) */
    return palloc_open(ps, size, root_size);
}

size_t pstore_ranges_merge(struct pstore_range *r, size_t n, uint64_t align)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = (r[i].off + r[i].len + align - 1) & ~(align - 1);
        r[i].off &= ~(align - 1);
        r[i].len = end - r[i].off;
    }
    qsort(r, n, sizeof *r, by_offset);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].off <= r[out].off + r[out].len) {
            uint64_t end = r[i].off + r[i].len;
            if (end > r[out].off + r[out].len)
                r[out].len = end - r[out].off;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}
