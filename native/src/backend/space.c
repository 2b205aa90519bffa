/* space.c — room on the file system for stores made through mappings (see space.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "space.h"

#define GRANULE ((uint64_t)1 << SNAP_SPACE_GRANULE_SHIFT)

/* f_type values (linux/magic.h). */
#define FS_EXT234 0xEF53u
#define FS_XFS 0x58465342u
#define FS_BTRFS 0x9123683Eu
#define FS_TMPFS 0x01021994u

static int test_bit(const struct snap_space *s, uint64_t g)
{
    return g < s->nbits && (s->bits[g / 64] >> (g % 64) & 1);
}

static void set_bits(struct snap_space *s, uint64_t from, uint64_t to)
{
    for (uint64_t g = from; g < to && g < s->nbits; g++)
        s->bits[g / 64] |= (uint64_t)1 << (g % 64);
}

static void clear_bits_from(struct snap_space *s, uint64_t from)
{
    for (uint64_t g = from; g < s->nbits; g++)
        s->bits[g / 64] &= ~((uint64_t)1 << (g % 64));
}

/* Make the bitmap cover a file of `size` bytes; new granules unknown. */
static int cover(struct snap_space *s, uint64_t size)
{
    uint64_t need = (size + GRANULE - 1) >> SNAP_SPACE_GRANULE_SHIFT;
    if (need <= s->nbits && s->bits)
        return 0;
    uint64_t words = (need + 63) / 64, old_words = s->bits ? (s->nbits + 63) / 64 : 0;
    if (words > SIZE_MAX / sizeof(uint64_t))
        return -ENOMEM;
    uint64_t *b = realloc(s->bits, (size_t)(words ? words : 1) * sizeof *b);
    if (!b)
        return -ENOMEM;
    if (words > old_words)
        memset(b + old_words, 0, (size_t)(words - old_words) * sizeof *b);
    s->bits = b;
    /* Bits of the old last word past the old nbits are zero (clear_bits_from, memset). */
    s->nbits = need;
    return 0;
}

static int falloc(int fd, uint64_t off, uint64_t len)
{
    int rc;
    do /* KEEP_SIZE: the callers stay inside the file, but never change its size by accident */
        rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
    while (rc && errno == EINTR);
    return rc ? -errno : 0;
}

int snap_space_reserve_slow(struct snap_space *s, int fd, uint64_t size, uint64_t off, uint64_t len)
{
    if (len == 0 || s->unsupported)
        return 0;
    int rc = cover(s, size);
    if (rc)
        return rc;
    if (!s->checked) {
        s->checked = 1;
        off_t hole = lseek(fd, 0, SEEK_HOLE);
        if (hole >= 0 && (uint64_t)hole >= size) /* no hole at all: nothing to allocate, ever */
            set_bits(s, 0, s->nbits);
    }
    uint64_t last = (off + len - 1) >> SNAP_SPACE_GRANULE_SHIFT;
    for (uint64_t g = off >> SNAP_SPACE_GRANULE_SHIFT; g <= last; g++) {
        if (test_bit(s, g))
            continue;
        uint64_t end = g + 1; /* a run of unknown granules: one call */
        while (end <= last && !test_bit(s, end))
            end++;
        uint64_t from = g << SNAP_SPACE_GRANULE_SHIFT, to = end << SNAP_SPACE_GRANULE_SHIFT;
        rc = falloc(fd, from, (to < size ? to : size) - from);
        if (rc == -EOPNOTSUPP || rc == -ENOSYS) {
            s->unsupported = 1; /* nothing to reserve with: stores allocate as they fault */
            return 0;
        }
        if (rc)
            return rc;
        set_bits(s, g, end);
        g = end;
    }
    return 0;
}

void snap_space_resized(struct snap_space *s, uint64_t old_size, uint64_t new_size, int allocated)
{
    if (!s->bits)
        return; /* nothing known yet: the first reservation looks at the file as it is then */
    uint64_t low = old_size < new_size ? old_size : new_size;
    /* The granule holding the smaller size is partly old, partly new or gone: unknown now. */
    clear_bits_from(s, low >> SNAP_SPACE_GRANULE_SHIFT);
    if (allocated && new_size > old_size && cover(s, new_size) == 0)
        set_bits(s, (old_size + GRANULE - 1) >> SNAP_SPACE_GRANULE_SHIFT,
                 new_size >> SNAP_SPACE_GRANULE_SHIFT);
}

void snap_space_free(struct snap_space *s)
{
    free(s->bits);
    *s = (struct snap_space){0};
}

static unsigned long fs_type(int fd)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 ? (unsigned long)(unsigned)sf.f_type : 0;
}

int snap_space_reads_ok(int fd)
{
    unsigned long t = fs_type(fd);
    return t == FS_EXT234 || t == FS_XFS || t == FS_BTRFS;
}

int snap_space_stores_ok(int fd)
{
    unsigned long t = fs_type(fd);
    return t == FS_EXT234 || t == FS_XFS || t == FS_TMPFS;
}
