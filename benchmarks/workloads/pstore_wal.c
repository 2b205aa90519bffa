/* pstore_wal.c — the WAL back end: the usual crash-safe way to update a memory-mapped file.
 *
 * The data file is mapped MAP_PRIVATE, so the kernel never writes an uncommitted page back; the
 * mapping is the working copy. pstore_add() records the ranges a transaction modifies. A commit
 *   1. builds one redo record: header, then (offset, length) per range, then the ranges' new bytes,
 *      protected by a CRC-32C over everything but the CRC field;
 *   2. pwrite()s it at offset 0 of the sidecar "<path>.wal" and fdatasync()s the log — the commit
 *      point;
 *   3. pwrite()s the ranges into the data file and fdatasync()s it.
 * Two device flushes per commit. The log holds only the latest record: step 2 of the next commit
 * overwrites it, which is safe because step 3 of this one has made the data file durable first.
 * Recovery (pstore_open) replays a valid record into the data file and flushes it; replaying a
 * record already applied rewrites the same bytes. A torn record fails its CRC and is ignored: its
 * commit never returned, and the data file still holds the previous committed state. */
#include "pstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "palloc.h"
#include "pstore_file.h"

#define WAL_MAGIC 0x314c4157454f5450ull /* "PTOEWAL1" */
#define WAL_PREALLOC (1u << 20) /* log bytes allocated up front, so a commit changes no metadata */

struct wal_record {
    uint64_t magic;
    uint64_t seq;     /* commits since creation, for inspection */
    uint64_t nranges; /* followed by nranges struct pstore_range, then the bytes */
    uint64_t length;  /* of the whole record */
    uint32_t crc;     /* CRC-32C of the record with this field zero */
    uint32_t pad;
};

struct pstore {
    struct pstore_hot hot;
    uint64_t size;
    int data_fd, log_fd;
    uint64_t seq;
    char *record; /* the record being built */
    size_t record_cap;
};

const char *pstore_name(void)
{
    return "wal-msync";
}

const char *pstore_error(int err)
{
    switch (err) {
    case PSTORE_E_FORMAT: return "not a store of this kind, or its header is damaged";
    case PSTORE_E_SIZE: return "size or root size differs from the store's";
    case PSTORE_E_LOG: return "the WAL record passes its CRC but names bytes outside the store";
    default: return err < 0 ? strerror(-err) : "unknown error";
    }
}

static int log_path(char *buf, size_t cap, const char *path)
{
    return snprintf(buf, cap, "%s.wal", path) >= (int)cap ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n, len -= (size_t)n, off += (uint64_t)n;
    }
    return 0;
}

static uint32_t record_crc(const char *rec, uint64_t length)
{
    struct wal_record h;
    memcpy(&h, rec, sizeof h);
    h.crc = 0;
    uint32_t crc = crc32c(0, &h, sizeof h);
    return crc32c(crc, rec + sizeof h, length - sizeof h);
}

/* Replay the log's record if it is valid. */
static int recover(pstore *ps)
{
    struct stat st;
    if (fstat(ps->log_fd, &st))
        return -errno;
    if ((uint64_t)st.st_size < sizeof(struct wal_record))
        return 0;
    struct wal_record h;
    if (pread(ps->log_fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        return -EIO;
    if (h.magic != WAL_MAGIC || h.length < sizeof h || h.length > (uint64_t)st.st_size ||
        h.nranges > (h.length - sizeof h) / sizeof(struct pstore_range))
        return 0; /* never written, or torn */
    char *rec = malloc(h.length);
    if (!rec)
        return -ENOMEM;
    int rc = 0;
    if (pread(ps->log_fd, rec, h.length, 0) != (ssize_t)h.length) {
        rc = -EIO;
        goto out;
    }
    if (record_crc(rec, h.length) != h.crc)
        goto out; /* torn: its commit never returned */
    const struct pstore_range *r = (const struct pstore_range *)(rec + sizeof h);
    const char *bytes = (const char *)(r + h.nranges);
    uint64_t total = 0;
    for (uint64_t i = 0; i < h.nranges; i++) {
        if (r[i].off > ps->size || r[i].len > ps->size - r[i].off ||
            r[i].len > h.length - (uint64_t)(bytes - rec) - total) {
            rc = PSTORE_E_LOG;
            goto out;
        }
        total += r[i].len;
    }
    for (uint64_t i = 0; i < h.nranges && !rc; i++) {
        rc = write_all(ps->data_fd, bytes, r[i].len, r[i].off);
        bytes += r[i].len;
    }
    if (!rc && fdatasync(ps->data_fd))
        rc = -errno;
    ps->seq = h.seq;
out:
    free(rec);
    return rc;
}

int pstore_open(pstore **out, const char *path, uint64_t size, size_t root_size)
{
    *out = NULL;
    char lpath[4096];
    int rc = log_path(lpath, sizeof lpath, path);
    if (rc)
        return rc;
    pstore *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    ps->size = size;
    ps->log_fd = -1;
    int created;
    ps->data_fd = pstore_file_open(path, size, &created);
    if (ps->data_fd < 0) {
        rc = ps->data_fd;
        free(ps);
        return rc;
    }
    ps->log_fd = open(lpath, O_RDWR | O_CREAT, 0644);
    if (ps->log_fd < 0) {
        rc = -errno;
        goto fail;
    }
    /* A log left beside a new data file belongs to some earlier store. */
    if (created && ftruncate(ps->log_fd, 0)) {
        rc = -errno;
        goto fail;
    }
    struct stat st;
    if (fstat(ps->log_fd, &st)) {
        rc = -errno;
        goto fail;
    }
    if (st.st_size < WAL_PREALLOC && (rc = -posix_fallocate(ps->log_fd, 0, WAL_PREALLOC)) != 0)
        goto fail;
    if ((rc = recover(ps)) != 0)
        goto fail;
    if ((rc = pstore_file_map(ps, ps->data_fd, size, MAP_PRIVATE, root_size)) != 0)
        goto fail;
    *out = ps;
    return 0;
fail:
    pstore_close(ps);
    return rc;
}

int pstore_commit(pstore *ps)
{
    size_t n = pstore_ranges_merge(ps->hot.ranges, ps->hot.nranges, 8);
    ps->hot.nranges = 0;
    if (n == 0)
        return 0;
    const struct pstore_range *r = ps->hot.ranges;
    size_t length = sizeof(struct wal_record) + n * sizeof *r;
    for (size_t i = 0; i < n; i++)
        length += r[i].len;
    if (length > ps->record_cap) {
        size_t cap = length * 2;
        char *rec = realloc(ps->record, cap);
        if (!rec)
            return -ENOMEM;
        ps->record = rec;
        ps->record_cap = cap;
    }
    struct wal_record h = {
        .magic = WAL_MAGIC, .seq = ps->seq + 1, .nranges = n, .length = length};
    memcpy(ps->record, &h, sizeof h);
    memcpy(ps->record + sizeof h, r, n * sizeof *r);
    char *bytes = ps->record + sizeof h + n * sizeof *r;
    for (size_t i = 0; i < n; i++) {
        memcpy(bytes, ps->hot.base + r[i].off, r[i].len);
        bytes += r[i].len;
    }
    h.crc = record_crc(ps->record, length);
    memcpy(ps->record, &h, sizeof h);

    int rc = write_all(ps->log_fd, ps->record, length, 0);
    if (rc)
        return rc;
    if (fdatasync(ps->log_fd))
        return -errno;
    ps->seq++;
    for (size_t i = 0; i < n; i++)
        if ((rc = write_all(ps->data_fd, ps->hot.base + r[i].off, r[i].len, r[i].off)) != 0)
            return rc;
    return fdatasync(ps->data_fd) ? -errno : 0;
}

void pstore_close(pstore *ps)
{
    if (!ps)
        return;
    if (ps->hot.base)
        munmap(ps->hot.base, ps->size);
    if (ps->data_fd >= 0)
        close(ps->data_fd);
    if (ps->log_fd >= 0)
        close(ps->log_fd);
    free(ps->hot.ranges);
    free(ps->record);
    free(ps);
}

int pstore_unlink(const char *path)
{
    char lpath[4096];
    int rc = log_path(lpath, sizeof lpath, path);
    if (rc)
        return rc;
    rc = unlink(path) ? -errno : 0;
    if (unlink(lpath) && errno != ENOENT && !rc)
        rc = -errno;
    return rc;
}
